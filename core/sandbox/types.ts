import type { SamplingOptions } from '../../plugin-api/binding.js';
import type { ChatMessage, ToolCall, ToolChoice, ToolDefinition } from '../../plugin-api/chat.js';
import type { OutputFormat } from '../../plugin-api/output-format.js';
import type { ModelInfo, PersonalityView } from '../../plugin-api/processor.js';
import type { SandboxLimits } from './limits.js';
import { WallClock } from './wall-clock.js';

/** Log levels the guest may use (`ctx.log` is `info`; `console.*` map to their names). */
export type GuestLogLevel = 'info' | 'warn' | 'error' | 'debug';
import type { SandboxPool } from './process-pool.js';

export type ProcessorHook = 'processModelInput' | 'runWorkflow' | 'processModelOutput';
export const PROCESSOR_HOOKS: readonly ProcessorHook[] = ['processModelInput', 'runWorkflow', 'processModelOutput'];

/** `ctx.generate`'s options as they reach the host (decoded and bounded by the sandbox). */
export interface SandboxGenerateOptions extends SamplingOptions {
  /** Extra stop strings. */
  stop?: string[];
  /** Forward the text to the client while it is generated. */
  stream?: boolean;
  /** `json_schema` or `gbnf` (from the guest's `schema` / `grammar`), bounds-checked. */
  format?: OutputFormat;
}

/** One model round of `ctx.chat` as it reaches the host: the tool loop itself runs in the sandbox. */
export interface SandboxChatOptions extends SandboxGenerateOptions {
  /** The tools offered this round (definitions only: their handlers stay in the sandbox). */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
}

/** What one chat round gives back to the sandbox. */
export interface SandboxChatReply {
  /** The answer's text (what it said before its tool calls, when it called tools). */
  text: string;
  /** The tools it called (validated against their parameters); the sandbox runs their handlers. */
  toolCalls?: ToolCall[];
  /** With a `json_schema` format and no tool call: the parsed, validated answer. */
  value?: unknown;
}

/** A question for the user (`ctx.ask`), decoded and bounded. */
export interface SandboxAsk {
  question: string;
  choices?: string[];
  /** The processor's timeout; the host applies its default and ceiling. */
  timeoutMs?: number;
}

/** One `ctx.store` operation, decoded: keys are checked, values are JSON text. */
export type SandboxStoreRequest =
  | { action: 'get'; key: string }
  | { action: 'set'; key: string; json: string }
  | { action: 'delete'; key: string }
  | { action: 'keys'; prefix: string };

/** The host-call and byte counters a `ctx.callPersonality` carries over to the called personality's turn and back. */
export interface BudgetCounts {
  hostCalls: number;
  emitBytes: number;
}

/** What the guest's `ctx` reaches, per call. The host side of every `ctx` function. */
export interface SandboxHostApi {
  /**
   * Generate with the loaded model; the host applies the personality's anti-prompts and streams chunks when
   * asked. Resolves to the text, or with a `json_schema` format to the parsed, validated value.
   */
  generate(prompt: string, options: SandboxGenerateOptions, signal: AbortSignal): Promise<unknown>;
  tokenize(text: string): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
  /** One chat round with the model's chat template (`chatRound`); tool calls come back for the sandbox to run. */
  chat?(messages: ChatMessage[], options: SandboxChatOptions, signal: AbortSignal): Promise<SandboxChatReply>;
  /** Embedding vectors, one per text. */
  embed?(texts: string[], signal: AbortSignal): Promise<number[][]>;
  /** Put a question to the user and resolve to the answer; the turn's wall clock stands still meanwhile. */
  ask?(request: SandboxAsk, signal: AbortSignal): Promise<string>;
  /**
   * Run another personality's turn and resolve to its answer. `counts` are the caller's counters when it called;
   * the called turn continues from them and leaves its own final counters there.
   */
  callPersonality?(path: string, prompt: string, counts: BudgetCounts, signal: AbortSignal): Promise<string>;
  /** The personality's persistent store; resolves to the operation's JSON-able result. */
  store?(request: SandboxStoreRequest): Promise<unknown>;
  /** Every ctx message helper (chunk = 0 ... finishedMessage = 17, numbers of `MSG_TYPE`). */
  emit(type: number, content: string, metadata: Record<string, unknown>): void;
  log(level: GuestLogLevel, message: string): void;
}

/**
 * The budget one `generate_text` turn shares between its hook calls (`processModelInput`, `runWorkflow`,
 * `processModelOutput`): host calls, message bytes and wall time are counted per turn, not per hook. Make one
 * with `createSandboxBudget()` per turn and pass it with every hook call of that turn. CPU time and memory
 * stay per hook call. Without a budget, each hook call gets a fresh one.
 */
export interface SandboxBudget {
  /** ctx calls made so far in this turn. */
  hostCalls: number;
  /** Message bytes sent so far in this turn. */
  emitBytes: number;
  /** When the turn started (`Date.now()`); the wall time limit counts from here. */
  readonly startedAt: number;
  /**
   * The turn's wall clock, which stands still while the workflow waits for the user (`ctx.ask`); the wall time
   * limit is `startedAt + pausedMs + wallTimeMs`. Without one, the clock never pauses.
   */
  readonly clock?: WallClock;
}

export function createSandboxBudget(now = Date.now()): SandboxBudget {
  return { hostCalls: 0, emitBytes: 0, startedAt: now, clock: new WallClock(now) };
}

/** A budget for a turn that a personality call starts: the caller's counters, the caller's wall clock. */
export function nestedSandboxBudget(parent: SandboxBudget, counts: BudgetCounts): SandboxBudget {
  return { hostCalls: counts.hostCalls, emitBytes: counts.emitBytes, startedAt: parent.startedAt, ...(parent.clock ? { clock: parent.clock } : {}) };
}

/** This discussion's state of one personality (`ctx.state`) as JSON text, read by a hook call and replaced when it returns. */
export interface StateSlot {
  json: string;
}

/** One hook call. */
export interface SandboxCall {
  host: SandboxHostApi;
  /** The personality's current settings values; copied into the isolate and frozen there. */
  settings: Record<string, unknown>;
  /** The personality's config; copied into the isolate and frozen there. */
  personality: PersonalityView;
  /** Aborting cancels the in-flight `ctx.generate`; every further ctx call then throws a `CancelledError`. */
  signal: AbortSignal;
  /** The turn's shared budget (see `SandboxBudget`); a fresh one per call when left out. */
  budget?: SandboxBudget;
  /** `ctx.state`: read at the start, replaced by the hook's final state when it returns normally. Default `{}`, not kept. */
  state?: StateSlot;
  /** `ctx.model`: the loaded model's name and context size. */
  model?: ModelInfo;
}

/** The subset of a pino logger the sandbox writes to. */
export interface SandboxLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal?(obj: object, msg?: string): void;
}

export interface ProcessorSandboxOptions {
  /** The personality's name: every error message and log line carries it. */
  name: string;
  /** The bundle from `compileProcessor`. */
  code: string;
  /**
   * Its source map (`CompiledProcessor.sourceMap`): errors of the processor are then reported at the author's
   * file, line and column, with a stack of the author's frames. Without it they carry no place.
   */
  sourceMap?: string;
  /** The limits (defaults fill fields left out); a breach fails the call and rebuilds the isolate. */
  limits: SandboxLimits;
  /** Where the guest's log lines and sandbox faults go; silent when left out. */
  logger?: SandboxLogger;
  /**
   * Calls that may wait while another call of this sandbox runs (calls are served one at a time); one more is
   * refused with `LH_ERR_SANDBOX_BUSY`. Default 32.
   */
  maxQueuedCalls?: number;
  /**
   * The host's pool of sandbox processes (issue 18): it ends this sandbox's process when it sits idle or room is
   * needed, and the sandbox starts a new one at its next call. Without a pool the process runs until `dispose`.
   */
  pool?: SandboxPool;
}
