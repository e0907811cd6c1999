/**
 * One generation over the OpenAI API, streamed or not: the request goes to the generation service (the one
 * scheduler every transport shares; HTTP requests wait for a slot), the sink maps what comes out, and the
 * response is the outcome or the error in OpenAI's shape.
 *
 * - Streaming: `answer` pieces are content deltas; drafts and workflow messages are reasoning deltas (with the
 *   `lollms_message` extension for messages). At the end, the part of `outcome.text` that was not streamed as
 *   content is sent as one content delta, so the content deltas join into exactly the `message.content` of the
 *   same request made without streaming. While the request waits for a slot the stream is open and carries
 *   `: queued <position>` comments. An error after the stream started is an event `data: {"error": {...}}`, and
 *   the stream ends without `[DONE]`.
 * - Not streaming: the outcome as one body, with the reasoning text and the workflow's messages.
 * - A closed connection aborts the generation: its slot is free at once, the engine stops within one token.
 * - No `ask` in the sink: a workflow's question has no way back over this API (`ctx.ask` fails in the workflow
 *   with a coded error it can catch).
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { HostClosed } from '../../../errors.js';
import type { GenerationOutcome, GenerationRequest, GenerationSink } from '../../../generation/types.js';
import type { HttpDeps } from '../deps.js';
import { mapError, sendError } from './errors.js';
import { ReasoningText, wireMessage, type WireWorkflowMessage } from './reasoning.js';
import { SseWriter } from './sse.js';

/** How one route shapes its chunks and its body. */
export interface ResponseShape {
  /** Chunks sent before the first delta (chat: the `role` chunk). */
  opening(): unknown[];
  /** A chunk with answer text. */
  content(text: string): unknown;
  /** A chunk with reasoning text and, for a workflow message, the message. */
  reasoning(text: string, message: WireWorkflowMessage | undefined): unknown;
  /** The last chunks: `rest` of the answer (when any), tool calls, the finish reason. */
  closing(outcome: GenerationOutcome, rest: string): unknown[];
  /** The usage chunk (`stream_options.include_usage`). */
  usage(outcome: GenerationOutcome): unknown;
  /** The body of the non-streamed response. */
  body(outcome: GenerationOutcome, reasoning: string, messages: WireWorkflowMessage[]): unknown;
}

/** Options of `serveGeneration`. */
export interface ServeOptions {
  stream: boolean;
  /** Send the usage chunk before `[DONE]`. */
  includeUsage: boolean;
  /** The response id, also sent as `x-request-id`. */
  id: string;
}

/** A new response id: `prefix` and 24 random characters. */
export function responseId(prefix: string): string {
  return `${prefix}-${randomBytes(18).toString('base64url')}`;
}

/** Run `request` and answer it on `res` with `shape`. Never throws: every failure is answered (or the client is gone). */
export async function serveGeneration(
  deps: HttpDeps,
  res: ServerResponse,
  request: GenerationRequest,
  shape: ResponseShape,
  options: ServeOptions,
): Promise<void> {
  const reasoning = new ReasoningText();
  const messages: WireWorkflowMessage[] = [];
  const sse = options.stream ? new SseWriter(res, { 'x-request-id': options.id }) : undefined;
  let opened = false;
  let streamed = '';
  const open = () => {
    if (opened) return;
    opened = true;
    const chunks = shape.opening();
    if (chunks.length > 0) sse!.data(...chunks);
  };
  const sink: GenerationSink = sse
    ? {
        queued: (position) => sse.comment(`queued ${position}`),
        answer: (text) => {
          if (text === '') return;
          open();
          streamed += text;
          sse.data(shape.content(text));
        },
        draft: (text) => {
          if (text === '') return;
          open();
          sse.data(shape.reasoning(reasoning.addDraft(text), undefined));
        },
        message: (message) => {
          open();
          sse.data(shape.reasoning(reasoning.addMessage(message) ?? '', wireMessage(message)));
        },
      }
    : {
        answer: () => {},
        draft: (text) => void reasoning.addDraft(text),
        message: (message) => {
          reasoning.addMessage(message);
          messages.push(wireMessage(message));
        },
      };

  const fail = (error: unknown) => {
    if (sse?.started) {
      sse.data(mapError(error, deps.logger).body);
      sse.end();
    } else if (!res.destroyed) {
      sendError(res, error, deps.logger);
    }
  };
  let outcome: GenerationOutcome;
  try {
    outcome = await deps.generation.run(request, sink);
  } catch (error) {
    fail(error);
    return;
  }
  if (res.destroyed) return;
  // Cancelled while the client is still here: the host is shutting down. Say so rather than leave it hanging.
  if (outcome.finishReason === 'cancelled') return fail(HostClosed('the generation was cancelled: the host is shutting down'));

  if (sse) {
    open();
    let rest = '';
    if (outcome.text.startsWith(streamed)) rest = outcome.text.slice(streamed.length);
    else deps.logger.warn({ client: request.client.id }, 'streamed answer text is not a prefix of the answer; the rest is not sent');
    const chunks = shape.closing(outcome, rest);
    if (options.includeUsage) chunks.push(shape.usage(outcome));
    sse.data(...chunks);
    sse.done();
    return;
  }
  const text = JSON.stringify(shape.body(outcome, reasoning.text, messages));
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-request-id': options.id });
  res.end(text);
}
