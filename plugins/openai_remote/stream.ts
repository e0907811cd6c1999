/**
 * One streamed request to an engine: POST a JSON body, read the server-sent events as JSON values.
 *
 * The events are parsed by `eventsource-parser` (the parser behind the Vercel AI SDK and many OpenAI clients):
 * SSE has enough corners (events split across reads, `\r\n` or `\r` line ends, multi-line `data:`, comments,
 * a BOM) that a hand-written splitter gets wrong sooner or later, and this one is small, dependency-free and
 * well kept.
 *
 * Nothing is buffered beyond the event being read, which is bounded; the idle timer ends a request whose
 * endpoint sends nothing for too long. Aborting `signal` closes the connection at once.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ERRORS, isErrorCode } from 'lollms-host/plugin-api';
import { clip, messageOf } from './errors.js';
import { EngineFailure, networkFailure, readText, requestHeaders, statusFailure } from './http.js';

/** The largest single event accepted from an engine, in characters. */
const MAX_EVENT_CHARS = 4 * 1024 * 1024;

/** Options of `streamEvents`. */
export interface StreamRequest {
  endpoint: string;
  url: string;
  apiKey: string | undefined;
  body: unknown;
  /** Aborting closes the connection; the iteration then ends quietly (the caller checks its own signal). */
  signal: AbortSignal;
  /** The request fails (an endpoint fault) when nothing arrives for this many ms, headers included. */
  idleTimeoutMs: number;
}

/**
 * The JSON values of the stream's `data:` events, up to `[DONE]`. Rejects with an `EngineFailure`: an error
 * status, a network failure, an idle timeout, an error event, or a stream cut before `[DONE]`.
 */
export async function* streamEvents(request: StreamRequest): AsyncGenerator<Record<string, unknown>> {
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), request.idleTimeoutMs);
  };
  const signal = AbortSignal.any([request.signal, idle.signal]);
  const idleFailure = () => new EngineFailure('LH_ERR_REMOTE_HTTP', `endpoint ${request.endpoint} sent nothing for ${request.idleTimeoutMs} ms`, { endpointFault: true, retryable: true });
  arm();
  try {
    let response: Response;
    try {
      response = await fetch(request.url, { method: 'POST', headers: requestHeaders(request.apiKey, false), body: JSON.stringify(request.body), signal });
    } catch (error) {
      if (request.signal.aborted) return;
      throw idle.signal.aborted ? idleFailure() : networkFailure(request.endpoint, error);
    }
    if (!response.ok) {
      const text = await readText(request.endpoint, response, 64 * 1024).catch(() => '');
      throw statusFailure(request.endpoint, response.status, text, response.headers.get('retry-after'));
    }
    if (!response.body) throw new EngineFailure('LH_ERR_REMOTE_HTTP', `endpoint ${request.endpoint} answered without a body`, { endpointFault: true, retryable: true });
    const events: EventSourceMessage[] = [];
    let tooLarge = false;
    const parser = createParser({
      onEvent: (event) => events.push(event),
      maxBufferSize: MAX_EVENT_CHARS,
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') tooLarge = true;
      },
    });
    const decoder = new TextDecoder();
    let done = false;
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        arm();
        if (!tooLarge) parser.feed(decoder.decode(chunk, { stream: true }));
        if (tooLarge) throw new EngineFailure('LH_ERR_REMOTE_STREAM', `endpoint ${request.endpoint} sent an event larger than ${MAX_EVENT_CHARS} characters`, { endpointFault: true, retryable: true });
        for (const event of events.splice(0)) {
          if (event.data === '[DONE]') {
            done = true;
            break;
          }
          let value: unknown;
          try {
            value = JSON.parse(event.data);
          } catch {
            throw new EngineFailure('LH_ERR_REMOTE_STREAM', `endpoint ${request.endpoint} sent an event that is not JSON: ${clip(event.data, 120)}`, { endpointFault: true, retryable: true });
          }
          if (typeof value !== 'object' || value === null) continue;
          const error = (value as { error?: unknown }).error;
          if (error !== undefined && error !== null) {
            // An error event: the engine gave up. Its status is lost once streaming has begun; a code of ours (another
            // lollms-host) tells it, anything else counts as a server error.
            const code = (error as { code?: unknown }).code;
            const status = isErrorCode(code) ? ERRORS[code].status : 500;
            throw statusFailure(request.endpoint, status >= 400 ? status : 500, JSON.stringify(value), null);
          }
          yield value as Record<string, unknown>;
        }
        if (done) break;
      }
    } catch (error) {
      if (request.signal.aborted) return;
      if (error instanceof EngineFailure) throw error;
      if (idle.signal.aborted) throw idleFailure();
      throw new EngineFailure('LH_ERR_REMOTE_STREAM', `the stream from endpoint ${request.endpoint} broke: ${clip(messageOf(error), 200)}`, { endpointFault: true, retryable: true, cause: error });
    }
    if (done) {
      // Close the connection's body now; keep-alive reuses it.
      await response.body.cancel().catch(() => {});
      return;
    }
    if (request.signal.aborted) return;
    throw new EngineFailure('LH_ERR_REMOTE_STREAM', `the stream from endpoint ${request.endpoint} ended before [DONE]`, { endpointFault: true, retryable: true });
  } finally {
    clearTimeout(timer);
  }
}
