import {
  Cancelled,
  SandboxCrashed,
  errorCode,
  errorMessage,
  type LollmsHostError,
  SandboxDisposed,
  SandboxEmit,
  SandboxHostCalls,
  SandboxLoad,
  SandboxMemory,
  SandboxPayload,
  SandboxScript,
  SandboxTimeout,
  StateTooLarge,
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
  state: (name: string, max: number, detail?: string) =>
    StateTooLarge(`personality "${name}": ${detail ?? `ctx.state is larger than its limit of ${max} bytes`} (sandbox_max_state_bytes)`),
  /** `where`: `threw in runWorkflow`, `had an unhandled promise rejection in runWorkflow`, `never finished runWorkflow`. */
  script: (name: string, where: string, guest: GuestError) =>
    SandboxScript(`personality "${name}": processor ${where}${at(guest)}: ${guest.name}: ${guest.message}`, located(guest)),
  /** The processor's module code threw (or its default export is not a processor) while it loaded. */
  load: (name: string, guest: GuestError) =>
    SandboxLoad(`personality "${name}": the processor failed to load${at(guest)}: ${guest.name}: ${guest.message}`, located(guest)),
  /** `guest`: what the hook threw after the cancel (usually the CancelledError), kept as the cause. */
  cancelled: (name: string, guest?: GuestError) =>
    Cancelled(`personality "${name}": the processor call was cancelled`, guest ? { cause: guestCause(guest) } : {}),
} satisfies Record<string, (...args: never[]) => LollmsHostError>;

/**
 * An error as the guest described it (strings only, made inside the isolate), and, once located
 * (`GuestErrorLocator`), its place in the author's code: `file` relative to the personality folder.
 */
export interface GuestError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  file?: string;
  line?: number;
  column?: number;
}

/** ` at scripts/util.ts:2:20` when the error was located, else nothing. */
function at(guest: GuestError): string {
  return guest.file === undefined ? '' : ` at ${guest.file}:${guest.line ?? 1}:${guest.column ?? 1}`;
}

/** The host error's options: the guest's error as its cause (its stack shows where it failed), and its place. */
function located(guest: GuestError): { cause: Error; file?: string; line?: number; column?: number } {
  const options: { cause: Error; file?: string; line?: number; column?: number } = { cause: guestCause(guest) };
  if (guest.file !== undefined) options.file = guest.file;
  if (guest.line !== undefined) options.line = guest.line;
  if (guest.column !== undefined) options.column = guest.column;
  return options;
}

/** The guest's stack as a host `Error` cause, so logs show where in the processor it failed. */
function guestCause(guest: GuestError): Error {
  const cause = new Error(guest.message);
  cause.name = guest.name;
  cause.stack = guest.stack ?? `${guest.name}: ${guest.message}`;
  return cause;
}

/**
 * The log level of a failed processor call: a limit breach, a crash, a fault of the script (exception,
 * unhandled rejection, a promise that never settles) is `warn`, for the operator to see; a cancel or a
 * disposed sandbox is routine (`debug`).
 */
export function failureLogLevel(error: unknown): 'warn' | 'debug' {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return code === Cancelled.code || code === SandboxDisposed.code ? 'debug' : 'warn';
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

/**
 * The load error of a trial load whose report (`describe`'s JSON, `{ok, hooks, settings} | {ok: false, error}`)
 * says the processor is not usable, with the guest's error placed by `locate`; undefined when it loaded.
 */
export function describedFailure(name: string, json: string, locate: (guest: GuestError) => GuestError): LollmsHostError | undefined {
  let report: { ok?: unknown; error?: unknown } | undefined;
  try {
    report = JSON.parse(json) as typeof report;
  } catch {
    report = undefined;
  }
  if (report?.ok === true) return undefined;
  return sandboxErrors.load(name, locate(toGuestError(report?.error)));
}
