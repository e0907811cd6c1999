/**
 * `POST /tokenize` and `POST /detokenize`, shaped exactly as llama.cpp's `llama-server` routes, so that a host
 * in front of this one (the `openai_remote` binding), or any tool written for llama-server, can count and cut
 * tokens with the loaded model's own tokenizer:
 *
 * - `POST /tokenize {content, add_special?, parse_special?, with_pieces?}` -> `{tokens: [id...]}`, or with
 *   `with_pieces: true` `{tokens: [{id, piece}...]}`. `add_special: true` (a BOS token first) is refused: the
 *   binding API tokenizes text as is.
 * - `POST /detokenize {tokens: [id...]}` -> `{content}`.
 *
 * Errors use llama-server's body, `{error: {code: <HTTP status>, message, type}}`; a model whose binding cannot
 * tokenize answers 501 `not_supported_error`, as llama-server does for what it does not support. The routes
 * follow the API-key rule of every route, and exist while config `tokenize_routes` is on (default).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, type LoadedModel } from '../../../plugin-api/index.js';
import { errorCode, errorMessage } from '../../errors.js';
import { clientText } from '../../protocol/client-error.js';
import { MAX_TEXT_CHARS, MAX_TOKEN_IDS } from '../../protocol/limits.js';
import type { HttpDeps } from './deps.js';
import { connectionSignal, HttpError, readJsonBody, sendJson } from './respond.js';

/** Largest body of these routes: a `MAX_TEXT_CHARS` text of multi-byte characters, or `MAX_TOKEN_IDS` ids. */
const MAX_TOKENIZE_BODY_BYTES = 4 * 1024 * 1024;
/** Pieces are worked out from growing prefixes (quadratic): at most this many tokens per request. */
const MAX_PIECES = 1024;

/** llama-server's error `type` of a status. */
function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 501) return 'not_supported_error';
  if (status === 503) return 'unavailable_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function bad(message: string): HttpError {
  return new HttpError(400, message);
}

/** Run `task` with a lease on the loaded model's tokenizer; answers llama-server's error body on failure. */
async function withTokenizer(deps: HttpDeps, res: ServerResponse, task: (model: Required<Pick<LoadedModel, 'tokenize' | 'detokenize'>>) => Promise<unknown>): Promise<void> {
  let body: unknown;
  try {
    // A model still loading, or one keep_alive unloaded, is waited for as for any request.
    const lease = await deps.bindings.leaseModel({ signal: connectionSignal(res) });
    try {
      const { model, binding } = lease.value;
      if (!model.tokenize || !model.detokenize) {
        throw new HttpError(501, `the binding "${binding}" cannot tokenize: its model has no tokenizer the host can reach`);
      }
      body = await task({ tokenize: model.tokenize.bind(model), detokenize: model.detokenize.bind(model) });
    } finally {
      lease.release();
    }
  } catch (error) {
    const code = errorCode(error);
    const status = error instanceof HttpError ? error.status : code ? ERRORS[code].status : 500;
    if (status >= 500 && status !== 501 && status !== 503) deps.logger.error({ err: errorMessage(error) }, 'tokenize route failed');
    const message = status === 500 ? 'internal error (details are in the host log)' : clientText(errorMessage(error));
    sendJson(res, status, { error: { code: status, message, type: errorType(status) } });
    return;
  }
  sendJson(res, 200, body);
}

async function readBody(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | undefined> {
  let body: unknown;
  try {
    body = await readJsonBody(req, MAX_TOKENIZE_BODY_BYTES);
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 400;
    sendJson(res, status, { error: { code: status, message: clientText(errorMessage(error)), type: errorType(status) } });
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    sendJson(res, 400, { error: { code: 400, message: 'the request body must be a JSON object', type: errorType(400) } });
    return undefined;
  }
  return body as Record<string, unknown>;
}

export async function tokenizeRoute(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req, res);
  if (!body) return;
  await withTokenizer(deps, res, async (model) => {
    const content = body['content'];
    if (typeof content !== 'string') throw bad('"content" must be a string');
    // The same cap as the socket's tokenize event: a text is tokenized in full, superlinear on some inputs.
    const max = Math.min(MAX_TEXT_CHARS, deps.config.values.max_tokenize_chars);
    if (content.length > max) throw bad(`"content" is longer than ${max} characters (max_tokenize_chars)`);
    if (body['add_special'] === true) throw bad('"add_special": true is not supported; the host tokenizes text as is (no BOS token)');
    const tokens = await model.tokenize(content);
    if (body['with_pieces'] !== true) return { tokens };
    if (tokens.length > MAX_PIECES) throw bad(`"with_pieces" works on at most ${MAX_PIECES} tokens; this text has ${tokens.length}`);
    // A token detokenized alone loses its leading space (SentencePiece), so each piece is what its token adds to
    // the text of the tokens before it; a token that ends inside a UTF-8 character gets '' and the next one the
    // whole character. The pieces join into the text.
    const pieces = [];
    let text = '';
    for (let i = 0; i < tokens.length; i++) {
      const prefix = await model.detokenize(tokens.slice(0, i + 1));
      const whole = prefix.startsWith(text) && !prefix.endsWith('\uFFFD');
      pieces.push({ id: tokens[i]!, piece: whole ? prefix.slice(text.length) : '' });
      if (whole) text = prefix;
    }
    return { tokens: pieces };
  });
}

export async function detokenizeRoute(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req, res);
  if (!body) return;
  await withTokenizer(deps, res, async (model) => {
    const tokens = body['tokens'];
    if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0)) throw bad('"tokens" must be a list of token ids (non-negative integers)');
    const max = Math.min(MAX_TOKEN_IDS, deps.config.values.max_detokenize_ids);
    if (tokens.length > max) throw bad(`"tokens" holds more than ${max} ids (max_detokenize_ids)`);
    return { content: await model.detokenize(tokens as number[]) };
  });
}
