/**
 * `POST /v1/completions` (OpenAI's legacy text completions): the loaded model answers a raw generation (the
 * prompt as is, cropped from the left to fit the context); a personality model answers one personality turn
 * with the prompt as the user's message. `max_tokens` defaults to 16 for the model, as OpenAI documents, and
 * to the personality's own `model_n_predicts` for a personality. `echo` puts the prompt before the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GenerationOutcome, GenerationRequest } from '../../../generation/types.js';
import type { HttpDeps } from '../deps.js';
import { readJsonBody } from '../respond.js';
import { SYSTEM_FINGERPRINT, usageOf, type ResponseHead } from './chat-response.js';
import { httpClient } from './client.js';
import { ApiError } from './errors.js';
import { MAX_API_BODY_BYTES } from './limits.js';
import { resolveModel } from './models.js';
import { rejectCommonUnsupported, rejectIfSet, rejectTokenIds, samplingOf, stopOf } from './params.js';
import { CompletionRequestSchema, parseBody, type CompletionRequest } from './schemas.js';
import { connectionSignal } from '../respond.js';
import { responseId, serveGeneration, type ResponseShape } from './serve.js';

/** OpenAI's default `max_tokens` of a legacy completion. */
export const DEFAULT_COMPLETION_TOKENS = 16;

function finishReason(outcome: GenerationOutcome): string {
  return outcome.finishReason === 'length' ? 'length' : 'stop';
}

/** The `text_completion` shapes; `echo` text comes first. */
function completionShape(head: ResponseHead, includeUsage: boolean, echo: string): ResponseShape {
  const chunk = (text: string, finish: string | null = null, extra: Record<string, unknown> = {}) => ({
    id: head.id,
    object: 'text_completion',
    created: head.created,
    model: head.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish, ...extra }],
    ...(includeUsage ? { usage: null } : {}),
  });
  return {
    opening: () => (echo !== '' ? [chunk(echo)] : []),
    content: (text) => chunk(text),
    reasoning: (text, message) => chunk('', null, { reasoning_content: text, ...(message ? { lollms_message: message } : {}) }),
    closing: (outcome, rest) => [...(rest !== '' ? [chunk(rest)] : []), chunk('', finishReason(outcome))],
    usage: (outcome) => ({ id: head.id, object: 'text_completion', created: head.created, model: head.model, system_fingerprint: SYSTEM_FINGERPRINT, choices: [], usage: usageOf(outcome.usage) }),
    body: (outcome, reasoning, messages) => ({
      id: head.id,
      object: 'text_completion',
      created: head.created,
      model: head.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [
        {
          text: echo + outcome.text,
          index: 0,
          logprobs: null,
          finish_reason: finishReason(outcome),
          ...(reasoning !== '' ? { reasoning_content: reasoning } : {}),
          ...(messages.length > 0 ? { lollms_messages: messages } : {}),
        },
      ],
      usage: usageOf(outcome.usage),
    }),
  };
}

function rejectUnsupportedCompletion(body: CompletionRequest): void {
  rejectCommonUnsupported(body);
  const raw = body as Record<string, unknown>;
  rejectIfSet(raw, 'logprobs', 'the engine path reports no token probabilities');
  rejectIfSet(raw, 'suffix', 'fill-in-the-middle is not supported');
  if (body.best_of != null && body.best_of !== 1) throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', 'best_of: only 1 is supported', 'best_of');
  if (Array.isArray(body.prompt) && body.prompt.length > 1) {
    throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', 'prompt: one prompt per request is supported; send several requests', 'prompt');
  }
}

export async function completions(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const signal = connectionSignal(res);
  const raw = await readJsonBody(req, MAX_API_BODY_BYTES);
  rejectTokenIds(raw, 'prompt');
  const body = parseBody(CompletionRequestSchema, raw);
  rejectUnsupportedCompletion(body);
  const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0]!;
  const served = await resolveModel(deps, body.model);
  const stop = stopOf(body.stop);
  const stream = body.stream === true;
  const includeUsage = stream && body.stream_options?.include_usage === true;
  const personality = served.kind === 'personality';
  const common = {
    client: httpClient(req, body.user ?? undefined),
    prompt,
    sampling: samplingOf(body, body.max_tokens ?? (personality ? undefined : DEFAULT_COMPLETION_TOKENS)),
    ...(stop ? { stop } : {}),
    queue: 'wait' as const,
    signal,
  };
  const request: GenerationRequest = personality ? { ...common, kind: 'personality', personality: { path: served.path } } : { ...common, kind: 'raw' };
  const id = responseId('cmpl');
  const head = { id, created: Math.floor(Date.now() / 1000), model: body.model };
  await serveGeneration(deps, res, request, completionShape(head, includeUsage, body.echo === true ? prompt : ''), { stream, includeUsage, id });
}
