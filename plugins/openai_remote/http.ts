/**
 * HTTP to an engine, with Node's own `fetch` (undici: keep-alive connections, and an abort closes the
 * connection at once, which is how the engine learns to free its slot). What an engine's error answer means
 * for the pool is decided here, once: whether the endpoint is at fault (taken out, request retried elsewhere)
 * or the request is (passed to the client, endpoint stays in).
 */
import { isErrorCode, type ErrorCode } from 'lollms-host/plugin-api';
import { clip, messageOf, remoteError } from './errors.js';

/** The largest JSON answer read from an engine (model lists, embeddings, token lists). */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Where a request to an engine is and who is at fault when it fails. */
export class EngineFailure extends Error {
  /** The host error code to report. */
  readonly code: ErrorCode;
  /** The endpoint is at fault (unreachable, server error, bad key, broken stream): take it out. */
  readonly endpointFault: boolean;
  /** Another endpoint may answer it (endpoint faults and "busy" answers). */
  readonly retryable: boolean;
  /** The engine's HTTP status, when it answered one. */
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options: { endpointFault: boolean; retryable: boolean; status?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineFailure';
    this.code = code;
    this.endpointFault = options.endpointFault;
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

/** Headers of every request to an endpoint; the key goes only here, never into a message. */
export function requestHeaders(apiKey: string | undefined, json: boolean): Record<string, string> {
  return {
    accept: json ? 'application/json' : 'text/event-stream',
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    'content-type': 'application/json',
  };
}

/** A network-level failure (refused, reset, DNS, timeout): the endpoint is at fault. */
export function networkFailure(endpoint: string, error: unknown): EngineFailure {
  return new EngineFailure('LH_ERR_REMOTE_UNAVAILABLE', `endpoint ${endpoint} cannot be reached: ${clip(messageOf(error), 200)}`, { endpointFault: true, retryable: true, cause: error });
}

/** The message (and code, when it is one of ours) of an engine's error body: OpenAI's `{error: {message, code}}` and variants. */
function errorBody(text: string): { message: string; code?: string } {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const error = body.error;
    if (typeof error === 'string') return { message: error };
    if (error && typeof error === 'object') {
      const e = error as { message?: unknown; code?: unknown };
      return { message: typeof e.message === 'string' ? e.message : text, ...(typeof e.code === 'string' ? { code: e.code } : {}) };
    }
    if (typeof body.message === 'string') return { message: body.message };
  } catch {
    // Not JSON: the text is the message.
  }
  return { message: text };
}

/**
 * What an engine's error answer means. 429 and 503 with Retry-After are "busy": another endpoint may take the
 * request, this one stays in. Other 5xx, 401/403 (the key is wrong) and 404 (no such model or route there)
 * take the endpoint out. Other 4xx are the request's fault: reported with the engine's code when it is one
 * of ours (another lollms-host), else as a bad request.
 */
export function statusFailure(endpoint: string, status: number, bodyText: string, retryAfter: string | null): EngineFailure {
  const { message, code } = errorBody(bodyText);
  const said = clip(message, 300);
  if (status === 429 || (status === 503 && retryAfter !== null)) {
    return new EngineFailure('LH_ERR_REMOTE_UNAVAILABLE', `endpoint ${endpoint} is busy (HTTP ${status}): ${said}`, { endpointFault: false, retryable: true, status });
  }
  if (status >= 500 || status === 401 || status === 403 || status === 404) {
    const why = status === 401 || status === 403 ? ' (check its API key)' : '';
    return new EngineFailure('LH_ERR_REMOTE_HTTP', `endpoint ${endpoint} answered HTTP ${status}${why}: ${said}`, { endpointFault: true, retryable: true, status });
  }
  const known = code !== undefined && isErrorCode(code) ? code : 'LH_ERR_BAD_REQUEST';
  return new EngineFailure(known, `endpoint ${endpoint} refused the request (HTTP ${status}): ${said}`, { endpointFault: false, retryable: false, status });
}

/** Read a response body as text, at most `max` bytes (more is an endpoint fault: no engine answers that much). */
export async function readText(endpoint: string, response: Response, max = MAX_JSON_BYTES): Promise<string> {
  if (!response.body) return '';
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) {
      await response.body.cancel().catch(() => {});
      throw new EngineFailure('LH_ERR_REMOTE_HTTP', `endpoint ${endpoint} answered more than ${max} bytes`, { endpointFault: true, retryable: true });
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/** Options of `requestJson`. */
export interface JsonRequest {
  /** Endpoint name, for messages. */
  endpoint: string;
  url: string;
  apiKey: string | undefined;
  /** POSTs this as JSON; GET without it. */
  body?: unknown;
  signal?: AbortSignal;
  /** Gives up after this many ms (an endpoint fault). */
  timeoutMs: number;
}

/** A JSON request; resolves with the parsed answer, rejects with an `EngineFailure` (or an abort of `signal`). */
export async function requestJson(request: JsonRequest): Promise<unknown> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: request.body === undefined ? 'GET' : 'POST',
      headers: requestHeaders(request.apiKey, true),
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal,
    });
    text = await readText(request.endpoint, response);
  } catch (error) {
    if (request.signal?.aborted) throw error;
    if (error instanceof EngineFailure) throw error;
    throw networkFailure(request.endpoint, timeout.aborted ? new Error(`no answer within ${request.timeoutMs} ms`) : error);
  }
  if (!response.ok) throw statusFailure(request.endpoint, response.status, text, response.headers.get('retry-after'));
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new EngineFailure('LH_ERR_REMOTE_HTTP', `endpoint ${request.endpoint} answered something that is not JSON: ${clip(text, 120)}`, { endpointFault: true, retryable: true });
  }
}

/** The host error for a failure that reaches the caller (a coded `PluginError`). */
export function toPluginError(error: EngineFailure): Error {
  return remoteError(error.code, error.message, error.cause);
}
