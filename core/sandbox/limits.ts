import { SandboxLimitsInvalid } from '../errors.js';

/**
 * The limits of one processor sandbox. Every breach fails the hook call with a coded error naming the
 * personality and the limit, and the isolate is thrown away and rebuilt before the next call.
 */
export interface SandboxLimits {
  /** Heap limit of the isolate, in MiB (isolated-vm `memoryLimit`; at least 8). */
  memoryLimitMb: number;
  /** CPU time one hook call may spend inside the isolate, in ms. Time spent awaiting the host does not count. */
  cpuTimeMs: number;
  /** Wall-clock time one turn may take (all its hook calls, see `SandboxBudget`), model calls included, in ms. */
  wallTimeMs: number;
  /** Calls to `ctx` functions (generate, tokenize, detokenize, message helpers, log) per turn (see `SandboxBudget`; per hook call without one). */
  maxHostCalls: number;
  /** Bytes (UTF-8) that the message helpers and `log` may send per hook call, all messages together, per turn (see `SandboxBudget`). */
  maxEmitBytes: number;
  /**
   * Largest single value that may cross from the guest to the host other than a message: a `generate`
   * prompt (with its options), a `tokenize` text, a `detokenize` token list, the hook's result. In bytes;
   * default 1 MiB.
   */
  maxPayloadBytes?: number;
  /**
   * Log lines per second the personality may write to the host log, over all its calls and processes (bursts of
   * 10x); lines are also cut to 4096 characters. Default 50.
   */
  maxLogLinesPerSecond?: number;
  /** Largest `ctx.state` (JSON, UTF-8 bytes) a hook may leave for the next one (issue 14). Default 256 KiB. */
  maxStateBytes?: number;
  /** Most model rounds of one `ctx.chat` with tools, and its default (issue 15). Default 10. */
  maxToolRounds?: number;
}

/** Defaults used when the config sets nothing. */
export const DEFAULT_SANDBOX_LIMITS: Readonly<Required<SandboxLimits>> = Object.freeze({
  memoryLimitMb: 64,
  cpuTimeMs: 5_000,
  wallTimeMs: 300_000,
  maxHostCalls: 2_000,
  maxEmitBytes: 8 * 1024 * 1024,
  maxPayloadBytes: 1024 * 1024,
  maxLogLinesPerSecond: 50,
  maxStateBytes: 256 * 1024,
  maxToolRounds: 10,
});

/** The limits with defaults filled in; throws `LH_ERR_SANDBOX_LIMITS` for a value out of range. */
export function resolveLimits(limits: SandboxLimits): Readonly<Required<SandboxLimits>> {
  const resolved = { ...DEFAULT_SANDBOX_LIMITS, ...stripUndefined(limits) };
  const check = (key: keyof SandboxLimits, min: number, max: number) => {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw SandboxLimitsInvalid(`sandbox limit ${key} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
  };
  check('memoryLimitMb', 8, 16_384);
  check('cpuTimeMs', 1, 3_600_000);
  check('wallTimeMs', 1, 24 * 3_600_000);
  check('maxHostCalls', 1, 100_000_000);
  check('maxEmitBytes', 1, 1024 * 1024 * 1024);
  check('maxPayloadBytes', 1, 256 * 1024 * 1024);
  check('maxLogLinesPerSecond', 1, 100_000);
  check('maxStateBytes', 2, 64 * 1024 * 1024);
  check('maxToolRounds', 1, 1000);
  return Object.freeze(resolved);
}

function stripUndefined(limits: SandboxLimits): Partial<SandboxLimits> {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<SandboxLimits>;
}

/**
 * Guards the bootstrap puts on builtins that V8 runs without checking for termination (e.g.
 * `new Array(1e8).fill(0)`, `[].indexOf` on a 2^32-1 long sparse array): such a call ignores the timeout
 * and the memory limit, and after 5 s isolated-vm raises a catastrophic error. Sized from the memory limit
 * so that no legitimate value is refused.
 */
export function intrinsicGuards(limits: Readonly<Required<SandboxLimits>>): { maxArrayLength: number; maxStringLength: number } {
  const bytes = limits.memoryLimitMb * 1024 * 1024;
  return { maxArrayLength: Math.floor(bytes / 8), maxStringLength: Math.floor(bytes / 2) };
}
