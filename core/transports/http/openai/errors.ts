/**
 * Errors of the OpenAI-compatible API in OpenAI's shape: `{ error: { message, type, param, code } }`, with the
 * HTTP status of the error registry (`ERRORS[code].status`). `code` is the registered `LH_ERR_*` code (see
 * docs/errors.md), `type` OpenAI's category of the status, `param` the request field at fault when one is.
 * Messages name no server path (`clientErrorText`); an unexpected error says only that it happened, and goes
 * to the host log whole.
 */
import type { ServerResponse } from 'node:http';
import { ERRORS, errorCode, errorMessage, type ErrorCode } from '../../../errors.js';
import type { Logger } from '../../../logger.js';
import { clientErrorText } from '../../../protocol/client-error.js';
import { HttpError } from '../respond.js';

/** OpenAI's error body. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    /** OpenAI's category: `invalid_request_error`, `authentication_error`, `permission_error`, `rate_limit_error`, `server_error`. */
    type: string;
    /** The request field at fault (`messages[2].content`), or null. */
    param: string | null;
    /** The registered `LH_ERR_*` code, or null for an unexpected error. */
    code: string | null;
  };
}

/** A refused API request: its code (whose registered status it is answered with), message and field. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  /** The request field at fault. */
  readonly param: string | undefined;
  /** `Retry-After` seconds, when waiting helps (a model that is loading). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, param?: string, options: { retryAfter?: number } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.param = param;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}

/** The code of an uncoded HTTP error (the shared access checks and body reader), by its status. */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'LH_ERR_BAD_REQUEST',
  401: 'LH_ERR_UNAUTHORIZED',
  403: 'LH_ERR_FORBIDDEN',
  404: 'LH_ERR_ROUTE_NOT_FOUND',
  413: 'LH_ERR_BODY_TOO_LARGE',
  415: 'LH_ERR_UNSUPPORTED_MEDIA_TYPE',
};

/** OpenAI's error type for a status. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** Seconds a client should wait before it retries a 503 that passes with time (a full queue). */
const RETRY_AFTER_S: Partial<Record<ErrorCode, number>> = {
  LH_ERR_QUEUE_FULL: 1,
  LH_ERR_BUSY: 1,
  LH_ERR_SANDBOX_BUSY: 1,
};

/** An error as the API answers it. */
export interface MappedError {
  status: number;
  body: OpenAIErrorBody;
  /** `Retry-After` seconds, for errors that pass with time. */
  retryAfter?: number;
}

/** Map anything thrown to its status and OpenAI body. */
export function mapError(error: unknown, logger?: Logger): MappedError {
  let code: ErrorCode | undefined;
  let status: number;
  let param: string | null = null;
  if (error instanceof ApiError) {
    code = error.code;
    status = error.status;
    param = error.param ?? null;
  } else if (error instanceof HttpError) {
    status = error.status;
    code = CODE_OF_STATUS[status];
  } else {
    code = errorCode(error);
    status = code ? ERRORS[code].status : 500;
  }
  // 499 (cancelled) is not a status a client can receive; an error after a cancel is never answered anyway.
  if (status === 499) status = 503;
  let message: string;
  if (!code && status >= 500) {
    logger?.error({ err: errorMessage(error) }, 'OpenAI API request failed');
    message = 'internal error (details are in the host log)';
  } else {
    // A processor's error names its place in the author's source already (relative to the personality).
    message = clientErrorText(error);
  }
  const retryAfter = error instanceof ApiError && error.retryAfter !== undefined ? error.retryAfter : code ? RETRY_AFTER_S[code] : undefined;
  return {
    status,
    body: { error: { message, type: errorType(status), param, code: code ?? null } },
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  };
}

/** Answer an error before anything else was sent. */
export function sendError(res: ServerResponse, error: unknown, logger?: Logger): void {
  const mapped = mapError(error, logger);
  const text = JSON.stringify(mapped.body);
  res.writeHead(mapped.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(mapped.retryAfter !== undefined ? { 'retry-after': String(mapped.retryAfter) } : {}),
    // The rest of a body too large was not read: the connection cannot carry another request.
    ...(mapped.status === 413 ? { connection: 'close' } : {}),
  });
  res.end(text);
}
