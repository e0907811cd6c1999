import {
  Cancelled,
  SandboxCrashed,
  errorCode,
  errorMessage,
  type LollmsHostError,
  SandboxEmit,
  SandboxHostCalls,
  SandboxMemory,
  SandboxPayload,
  SandboxScript,
  SandboxTimeout,
} from '../errors.js';
import { redactPaths } from '../util/redact-paths.js';

export { redactPaths };

export { SandboxCrashed };

/**
 * The coded errors of a hook call, with messages that name the personality and the limit, e.g.
 * `personality "x": processor exceeded its CPU time limit (5000 ms)`. The codes themselves live in
 * `core/errors.ts`.
 */
export const sandboxErrors = {
  cpu: (name: string, ms: number) => SandboxTimeout(`personality "${name}": processor exceeded its CPU time limit (${ms} ms)`),
  wall: (name: string, ms: number) => SandboxTimeout(`personality "${name}": processor exceeded its wall time limit (${ms} ms)`),
  memory: (name: string, mb: number) => SandboxMemory(`personality "${name}": processor exceeded its memory limit (${mb} MB)`),
  hostCalls: (name: string, max: number) =>
    SandboxHostCalls(`personality "${name}": processor exceeded its limit of ${max} host calls per turn`),
  pendingOps: (name: string, max: number) =>
    SandboxHostCalls(`personality "${name}": processor exceeded its limit of ${max} ctx.generate/tokenize/detokenize calls in flight at once`),
  crashed: (name: string, why: string) => SandboxCrashed(`personality "${name}": the processor's sandbox process ended (${why}); it is restarted for the next call`),
  emit: (name: string, max: number) =>
    SandboxEmit(`personality "${name}": processor exceeded its limit of ${max} bytes of messages per turn`),
  payload: (name: string, what: string, max: number) =>
    SandboxPayload(`personality "${name}": processor passed a ${what} larger than its limit of ${max} bytes`),
  script: (name: string, where: string, guest: GuestError) =>
    SandboxScript(`personality "${name}": processor ${where}: ${guest.name}: ${guest.message}`, { cause: guestCause(guest) }),
  /** `guest`: what the hook threw after the cancel (usually the CancelledError), kept as the cause. */
  cancelled: (name: string, guest?: GuestError) =>
    Cancelled(`personality "${name}": the processor call was cancelled`, guest ? { cause: guestCause(guest) } : {}),
} satisfies Record<string, (...args: never[]) => LollmsHostError>;

/** An error as the guest described it (strings only, made inside the isolate). */
export interface GuestError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** The guest's stack as a host `Error` cause, so logs show where in the processor it failed. */
function guestCause(guest: GuestError): Error {
  const cause = new Error(guest.message);
  cause.name = guest.name;
  if (guest.stack) cause.stack = guest.stack;
  return cause;
}

/** A guest error description parsed from untrusted JSON: only string fields survive, capped in length. */
export function toGuestError(value: unknown): GuestError {
  const source = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : undefined);
  const result: GuestError = {
    name: str(source['name'], 200) || 'Error',
    message: str(source['message'], 4_000) ?? '',
  };
  const stack = str(source['stack'], 8_000);
  if (stack) result.stack = stack;
  const code = str(source['code'], 200);
  if (code) result.code = code;
  return result;
}

/** An error a host operation (generate, tokenize, detokenize) answers the guest with. Never a host path or stack. */
export interface HostOpError {
  name: string;
  message: string;
  code?: string;
}

/**
 * What a failed host operation tells the guest: a coded host error keeps its code and its message (paths
 * redacted, length capped); anything else (an engine or library failure) is reported without details, which
 * go to the host log instead.
 */
export function guestSafeError(error: unknown): HostOpError {
  const code = errorCode(error);
  if (code !== undefined) {
    return { name: 'Error', message: redactPaths(errorMessage(error)).slice(0, 1000), code };
  }
  return { name: 'Error', message: 'the host operation failed (details are in the host log)' };
}
