/**
 * The errors of the typed client. Every one is a `LollmsClientError` with a stable `code`, so callers can match
 * with `instanceof` or on `error.code`. No Node-only APIs: this file runs in browsers too.
 */

/** Base class of every error the client raises. */
export class LollmsClientError extends Error {
  /** Stable machine-readable code, e.g. `LH_ERR_CLIENT_TIMEOUT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LollmsClientError';
    this.code = code;
  }
}

/**
 * The server answered a request with its failure shape: `{success: false, error}`, `personality_add_failed` or
 * `generation_error`. `serverMessage` is the server's `error` string, verbatim.
 */
export class LollmsRequestError extends LollmsClientError {
  static readonly code = 'LH_ERR_CLIENT_REQUEST';
  /** The request that failed, e.g. `"select_model"`. */
  readonly event: string;
  /** The server's error message, e.g. `unknown model "x.gguf" for binding "llama_cpp" (available: ...)`. */
  readonly serverMessage: string;
  /** The whole failure payload, as received. */
  readonly reply: unknown;

  constructor(event: string, serverMessage: string, reply: unknown) {
    super(LollmsRequestError.code, `${event} failed: ${serverMessage}`);
    this.name = 'LollmsRequestError';
    this.event = event;
    this.serverMessage = serverMessage;
    this.reply = reply;
  }
}

/** No reply came within the time limit (for streamed requests: no event of the request for that long). */
export class LollmsTimeoutError extends LollmsClientError {
  static readonly code = 'LH_ERR_CLIENT_TIMEOUT';
  /** The request that timed out, e.g. `"tokenize"`. */
  readonly event: string;
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(event: string, timeoutMs: number) {
    super(LollmsTimeoutError.code, `${event}: no reply within ${timeoutMs} ms`);
    this.name = 'LollmsTimeoutError';
    this.event = event;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A generation was refused because one is already running: the server answered `buzzy`/`busy` (another client's
 * generation holds the slot), or this client already runs one (`local` is then true). Retry later.
 */
export class BusyError extends LollmsClientError {
  static readonly code = 'LH_ERR_CLIENT_BUSY';
  /** The server's message (`"I am busy. Come back later."`), or the client's own when `local`. */
  readonly serverMessage: string;
  /** True when this client refused on its own: it already runs a generation (the server allows one per client). */
  readonly local: boolean;

  constructor(serverMessage: string, local = false) {
    super(BusyError.code, local ? serverMessage : `the host is busy: ${serverMessage}`);
    this.name = 'BusyError';
    this.serverMessage = serverMessage;
    this.local = local;
  }
}

/** The request was canceled: its `signal` aborted, `cancel()` was called, or the host canceled it. */
export class CanceledError extends LollmsClientError {
  static readonly code = 'LH_ERR_CLIENT_CANCELLED';
  /** The request that was canceled, e.g. `"generate_text"`. */
  readonly event: string;
  /** The server's confirmation, when there was one (`"Generation is canceled."`, `"Install canceled"`). */
  readonly serverMessage: string | undefined;

  constructor(event: string, serverMessage?: string, options?: { cause?: unknown }) {
    super(CanceledError.code, `${event} was canceled${serverMessage ? `: ${serverMessage}` : ''}`, options);
    this.name = 'CanceledError';
    this.event = event;
    this.serverMessage = serverMessage;
  }
}

/**
 * The connection failed or is gone: the handshake was refused (wrong API key, origin not allowed; the server's
 * message is kept), the socket disconnected while a request was in flight, or the client was closed.
 */
export class LollmsConnectionError extends LollmsClientError {
  static readonly code = 'LH_ERR_CLIENT_CONNECTION';

  constructor(message: string, options?: { cause?: unknown }) {
    super(LollmsConnectionError.code, message, options);
    this.name = 'LollmsConnectionError';
  }
}
