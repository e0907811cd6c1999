/**
 * Wire shapes the console already reads that core/protocol does not have yet: the contracts agreed in PLAN.md
 * ("Wire contracts") that other branches are adding to the host.
 *
 * - `generation_ask` / `generation_answer` (issue 15, `ctx.ask`): the `primitives` branch;
 * - `generation_queued` (issue 18, queue positions): the `scale` branch.
 *
 * TODO(console): once these events are in core/protocol (and typed on `LollmsClient.socket`), import their
 * types from `lollms-host/client` and delete this file. Until then the console listens for them untyped, and
 * test/console.test.ts plays the host's part of them (marked there as a simulation).
 */

/** `generation_ask` (server to client): a processor asks the user (`ctx.ask`). */
export interface GenerationAsk {
  request_id: string | number;
  question: string;
  choices?: string[];
  timeout_ms: number;
}

/** The reply to `generation_answer`. */
export interface GenerationAnswerReply {
  success: boolean;
  request_id: string | number;
  error?: string;
}

/** `generation_queued`: the request waits for a slot at `position` (0: about to start). */
export interface GenerationQueued {
  position: number;
}
