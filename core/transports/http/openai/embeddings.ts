/**
 * `POST /v1/embeddings`: one vector per input text from the loaded model's `embed`, beside generations (as the
 * socket's `embed`: no generation slot is taken). `encoding_format` `float` (default) or `base64` (the
 * little-endian float32 bytes, which the official SDKs ask for by default). `usage.prompt_tokens` counts the
 * inputs with the model's tokenizer (an estimate for a binding without one).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cancelled, EmbeddingUnsupported } from '../../../errors.js';
import { tokenCounterFor } from '../../../generation/token-count.js';
import { MAX_TEXT_CHARS } from '../../../protocol/limits.js';
import type { HttpDeps } from '../deps.js';
import { readJsonBody, sendJson } from '../respond.js';
import { ApiError } from './errors.js';
import { MAX_API_BODY_BYTES } from './limits.js';
import { resolveModel } from './models.js';
import { rejectTokenIds } from './params.js';
import { EmbeddingRequestSchema, parseBody } from './schemas.js';
import { connectionSignal } from '../respond.js';

/** A vector as base64 of its little-endian float32 values. */
export function base64Vector(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

export async function embeddings(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const signal = connectionSignal(res);
  const raw = await readJsonBody(req, MAX_API_BODY_BYTES);
  rejectTokenIds(raw, 'input');
  const body = parseBody(EmbeddingRequestSchema, raw);
  if (body.dimensions != null) throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', 'dimensions: the model gives vectors of its own size only', 'dimensions');
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  let chars = 0;
  inputs.forEach((text, i) => {
    if (text === '') throw new ApiError('LH_ERR_BAD_REQUEST', `${typeof body.input === 'string' ? 'input' : `input[${i}]`}: an input must not be empty`, typeof body.input === 'string' ? 'input' : `input[${i}]`);
    chars += text.length;
  });
  if (chars > MAX_TEXT_CHARS) throw new ApiError('LH_ERR_BAD_REQUEST', `input: more than ${MAX_TEXT_CHARS} characters in all`, 'input');
  const served = await resolveModel(deps, body.model);
  if (served.kind === 'personality') {
    const model = deps.bindings.model?.name;
    throw EmbeddingUnsupported(`a personality does not embed${model ? `: use the model "${model}"` : ''}`);
  }

  // A model keep_alive unloaded is loaded again first; a load in progress is waited for.
  const lease = await deps.bindings.leaseModel({ signal });
  const data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }> = [];
  let tokens = 0;
  try {
    const { model, binding } = lease.value;
    if (!model.embed) throw EmbeddingUnsupported(`the binding "${binding}" cannot embed`);
    const counter = tokenCounterFor(model);
    for (const [index, text] of inputs.entries()) {
      // A client that went away stops the work between texts.
      if (signal.aborted) throw Cancelled('the HTTP client closed the connection');
      const vector = await model.embed(text);
      tokens += await counter.count(text);
      data.push({ object: 'embedding', index, embedding: body.encoding_format === 'base64' ? base64Vector(vector) : vector });
    }
  } finally {
    lease.release();
  }
  sendJson(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}
