/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end,
 * comments (`: text`) where a client must see nothing. The headers go out with the first write, so that an
 * error before it can still be answered with its own status. One `write` per event: nothing is buffered or
 * re-read, so the cost per token is one JSON text and one socket write.
 */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  readonly #res: ServerResponse;
  readonly #headers: Record<string, string>;
  #started = false;

  /** `headers`: extra response headers (e.g. `x-request-id`). */
  constructor(res: ServerResponse, headers: Record<string, string> = {}) {
    this.#res = res;
    this.#headers = headers;
  }

  /** Whether the 200 and the event-stream headers are sent (an error must then be an event). */
  get started(): boolean {
    return this.#started;
  }

  /** Whether the client is gone (nothing more can be written). */
  get closed(): boolean {
    return this.#res.destroyed || this.#res.writableEnded;
  }

  /** Send the headers now (a queued request shows the client it was accepted). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#res.writeHead(200, {
      ...this.#headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Reverse proxies (nginx) must not hold tokens back.
      'x-accel-buffering': 'no',
    });
    this.#res.flushHeaders();
  }

  /** One event per value, written at once. */
  data(...values: unknown[]): void {
    if (this.closed) return;
    this.start();
    let text = '';
    for (const value of values) text += `data: ${JSON.stringify(value)}\n\n`;
    this.#res.write(text);
  }

  /** A comment line: ignored by clients, it keeps proxies from timing out and says what the host is doing. */
  comment(text: string): void {
    if (this.closed) return;
    this.start();
    this.#res.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  /** End the stream with `data: [DONE]`. */
  done(): void {
    if (this.closed) return;
    this.start();
    this.#res.end('data: [DONE]\n\n');
  }

  /** End the stream after an error event (no `[DONE]`: the stream did not complete). */
  end(): void {
    if (!this.closed) this.#res.end();
  }
}
