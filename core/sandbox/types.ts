import type { PersonalityView, ProcessorGenerateOptions } from '../../plugin-api/processor.js';
import type { GuestLogLevel } from './bootstrap.js';
import type { SandboxLimits } from './limits.js';
import type { CpuAccount } from '../util/cpu-account.js';

export type ProcessorHook = 'processModelInput' | 'runWorkflow' | 'processModelOutput';
export const PROCESSOR_HOOKS: readonly ProcessorHook[] = ['processModelInput', 'runWorkflow', 'processModelOutput'];

/**
 * What the guest's `ctx` reaches, per call. The host side of every `ctx` function.
 *
 * `cpu`: the account of host CPU spent serving this operation, charged to the processor's CPU limit (issue 11
 * §3). The caller measures the synchronous part of the call itself; an implementation adds what it spends later
 * or elsewhere (a binding's tokenizer thread) with `cpu.add`, or measures later synchronous work with
 * `cpu.measure`.
 */
export interface SandboxHostApi {
  /** Generate with the loaded model; the host applies the personality's anti-prompts and streams chunks when asked. */
  generate(prompt: string, options: ProcessorGenerateOptions, signal: AbortSignal, cpu?: CpuAccount): Promise<string>;
  tokenize(text: string, cpu?: CpuAccount): Promise<number[]>;
  detokenize(tokens: number[], cpu?: CpuAccount): Promise<string>;
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
}

export function createSandboxBudget(now = Date.now()): SandboxBudget {
  return { hostCalls: 0, emitBytes: 0, startedAt: now };
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
}
