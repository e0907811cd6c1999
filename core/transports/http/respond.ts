/** JSON in and out for the HTTP routes: bounded bodies, coded statuses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cancelled, errorMessage } from '../../errors.js';

/** Bodies larger than this are refused with 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** An error a route answers with its status and message. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request's JSON body: 413 past `maxBytes`, 400 when it does not parse. */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `request body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `invalid JSON body: ${errorMessage(error)}`);
  }
}

/** A request's `signal`: aborted when the client closes the connection before the response ended. */
export function connectionSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(Cancelled('the HTTP client closed the connection'));
  });
  return controller.signal;
}
