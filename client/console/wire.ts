/**
 * Wire shapes the console reads that the typed client does not type yet: the contracts agreed in PLAN.md
 * ("Wire contracts") that other branches add to the host (`plugin_error.error.frame`, `plugin_warning`,
 * `GET /status`, `generation_ask`/`generation_answer`, `generation_queued`).
 *
 * TODO(console-2): once these are in core/protocol (and exported by lollms-host/client), import them from there
 * and delete this file. Every reader below treats each field as optional, so a host without them degrades.
 */
import type { PluginErrorEvent } from 'lollms-host/client';

/** `plugin_error`, with the code frame the host adds (a few numbered lines and a caret, as Vite shows). */
export type PluginError = Omit<PluginErrorEvent, 'error'> & { error: PluginErrorEvent['error'] & { frame?: string } };

/** One non-fatal problem of a plugin (a type error, ...). */
export interface PluginWarningItem {
  message: string;
  file?: string;
  line?: number;
  column?: number;
  frame?: string;
}

/** `plugin_warning`: a plugin (re)loaded with warnings; an empty list clears them. */
export interface PluginWarningEvent {
  kind: 'binding' | 'personality';
  name: string;
  path: string;
  warnings: PluginWarningItem[];
}

/** `plugin_reloaded`; `path` is read when a host sends it (it tells a renamed plugin apart). */
export interface PluginReloaded {
  kind: 'binding' | 'personality';
  name: string;
  version: string;
  path?: string;
}

/** `GET /status`. */
export interface StatusReport {
  version: string;
  binding: string | null;
  model: string | null;
  loading: string | null | boolean;
  test_model: boolean;
  slots: { total: number; busy: number };
  queue: { depth: number };
  personalities: Array<{ id: number; path: string; name: string; error?: string }>;
  recent_generations: Array<{
    mode: string;
    personality?: string;
    prompt_tokens: number;
    completion_tokens: number;
    tokens_per_s: number;
    outcome: string;
    ended_at: string | number;
  }>;
  reloads: Array<{ kind: string; name: string; ok: boolean; at: string | number; error?: string }>;
}

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
