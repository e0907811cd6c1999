import { LollmsHostError, isErrorCode, type ErrorCode } from '../errors.js';
import type { GuestLogLevel } from './types.js';
import type { HostOpError } from './errors.js';
import type { ProcessorHook } from './types.js';
import type { SandboxLimits } from './limits.js';

/**
 * Messages between the host and a sandbox process (`worker.ts`), over the child-process IPC channel (JSON).
 * The sandbox process runs only host code; guest code reaches none of this (its only way out is the isolate
 * bridge, whose ops the engine decodes and validates before anything is sent here).
 */

/** A call's input, settings, personality, model facts and `ctx.state`, already serialized by the host. */
export type RunJson = { input: string; settings: string; personality: string; model: string; state: string };

/** The host operations a guest's `ctx` reaches (each answered later with `op-result`). */
export type HostOpName = 'generate' | 'tokenize' | 'detokenize' | 'chat' | 'embed' | 'ask' | 'callPersonality' | 'store';
export type RunKind = ProcessorHook | 'describe';

/** A coded error as it crosses the channel. */
export interface WireError {
  code: ErrorCode;
  message: string;
  cause?: { name: string; message: string; stack?: string };
  /** Where in the author's code (relative to the personality folder), when the error was located. */
  file?: string;
  line?: number;
  column?: number;
}

export interface WireBudget {
  hostCalls: number;
  emitBytes: number;
  startedAt: number;
  /** Time the turn's wall clock stood still (questions to the user), added to the wall time limit. */
  pausedMs: number;
  /** The wall clock stands still now (a question is waiting for its answer). */
  paused?: boolean;
}

export type ToWorker =
  /** To a spare process, before it serves anyone: run the host's warm-up in an isolate with these limits (`SandboxEngine.warmUp`). */
  | { t: 'warm'; limits: Required<SandboxLimits> }
  | { t: 'init'; name: string; code: string; sourceMap?: string; limits: Required<SandboxLimits> }
  | { t: 'run'; id: number; kind: Exclude<RunKind, 'describe'>; json: RunJson; budget: WireBudget }
  | { t: 'cancel'; id: number }
  /** The turn's wall clock stopped (a question to the user) or runs again, with the pauses so far. */
  | { t: 'wall'; id: number; paused: boolean; pausedMs: number }
  // `cpuNs`: host CPU spent serving the operation so far, charged to the call's CPU limit (cpu-meter.ts).
  | { t: 'op-result'; id: number; opId: number; ok: true; value: unknown; cpuNs?: number }
  | { t: 'op-result'; id: number; opId: number; ok: false; error: HostOpError; cpuNs?: number }
  // Host CPU spent after an operation's result was sent (encoding it for this channel), charged the same way.
  | { t: 'charge'; id: number; cpuNs: number }
  | { t: 'dispose' };

export type FromWorker =
  /** A spare process finished its warm-up: whether it completed. */
  | { t: 'warmed'; ok: boolean }
  /** `warm`: the process ran the host's warm-up (as a spare) before this trial load. */
  | { t: 'described'; ok: true; json: string; isolates: number; rss: number; warm: boolean }
  | { t: 'described'; ok: false; error: WireError; isolates: number }
  | { t: 'result'; id: number; ok: true; text: string; state?: string; budget: WireBudget; isolates: number }
  | { t: 'result'; id: number; ok: false; error: WireError; budget: WireBudget; isolates: number }
  | { t: 'idle'; id: number }
  | { t: 'emit'; id: number; type: number; content: string; metadata: Record<string, unknown> }
  | { t: 'log'; id: number; level: GuestLogLevel; message: string }
  | { t: 'logger'; level: 'debug' | 'info' | 'warn' | 'error' | 'fatal'; obj: Record<string, unknown>; msg: string }
  | { t: 'op'; id: number; opId: number; op: HostOpName; args: unknown[] }
  | { t: 'op-abort'; id: number; opId: number }
  | { t: 'fatal'; reason: string; error: WireError };

export function toWireError(error: unknown): WireError {
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; file?: unknown; line?: unknown; column?: unknown } | null | undefined;
  const out: WireError = {
    code: isErrorCode(e?.code) ? e.code : 'LH_ERR_SANDBOX_SCRIPT',
    message: typeof e?.message === 'string' ? e.message : String(error),
  };
  if (typeof e?.file === 'string') out.file = e.file;
  if (typeof e?.line === 'number') out.line = e.line;
  if (typeof e?.column === 'number') out.column = e.column;
  const cause = e?.cause as { name?: unknown; message?: unknown; stack?: unknown } | undefined;
  if (cause && typeof cause === 'object') {
    out.cause = { name: String(cause.name ?? 'Error'), message: String(cause.message ?? '') };
    if (typeof cause.stack === 'string') out.cause.stack = cause.stack;
  }
  return out;
}

export function fromWireError(wire: WireError): LollmsHostError {
  let cause: Error | undefined;
  if (wire.cause) {
    cause = new Error(wire.cause.message);
    cause.name = wire.cause.name;
    if (wire.cause.stack) cause.stack = wire.cause.stack;
  }
  // The channel is the sandbox process's: a code it made up is not passed on as one of ours.
  return new LollmsHostError(isErrorCode(wire.code) ? wire.code : 'LH_ERR_SANDBOX_SCRIPT', wire.message, {
    ...(cause ? { cause } : {}),
    ...(typeof wire.file === 'string' ? { file: wire.file } : {}),
    ...(typeof wire.line === 'number' ? { line: wire.line } : {}),
    ...(typeof wire.column === 'number' ? { column: wire.column } : {}),
  });
}
