import type { SamplingOptions } from '../../../../plugin-api/index.js';
import { errorCode } from '../../../errors.js';
import type { GenerationRequest, GenerationSink } from '../../../generation/types.js';
import { generationErrorPayload } from '../../../protocol/generation-error.js';
import { WIRE_TEXT, type RequestPayload } from '../../../protocol/index.js';
import { echo } from '../../../protocol/echo.js';
import type { ClientState } from '../clients.js';
import { rawField, type HandlerMap, type Handler, type HandlerContext } from '../dispatch.js';

type GenerateText = RequestPayload<'generate_text'>;

/** The wire's sampling keys: `parameters` wins over the same keys at the top level; `n_predicts` is `maxTokens`. */
export function wireSampling(request: GenerateText): Partial<SamplingOptions> {
  const p = { ...request, ...request.parameters };
  const out: Partial<SamplingOptions> = {};
  if (request.n_predicts !== undefined) out.maxTokens = request.n_predicts;
  if (p.temperature !== undefined) out.temperature = p.temperature;
  if (p.top_k !== undefined) out.topK = p.top_k;
  if (p.top_p !== undefined) out.topP = p.top_p;
  if (p.repeat_penalty !== undefined) out.repeatPenalty = p.repeat_penalty;
  if (p.repeat_last_n !== undefined) out.repeatLastN = p.repeat_last_n;
  if (p.seed !== undefined) out.seed = p.seed;
  return out;
}

/** `generate_text` as a generation request: one generation per connection, the LoLLMs busy rule, the client's discussion. */
export function toGenerationRequest(client: ClientState, request: GenerateText): GenerationRequest {
  const personality = request.personality ?? -1;
  return {
    client: client.ref,
    kind: personality >= 0 ? 'personality' : 'raw',
    ...(personality >= 0 ? { personality: { id: personality }, discussion: client.discussion } : {}),
    prompt: request.prompt,
    sampling: wireSampling(request),
    ...(request.n_crop !== undefined ? { nCrop: request.n_crop } : {}),
    queue: 'refuse-when-busy',
    maxPerClient: 1,
    signal: client.connection,
  };
}

/**
 * The service's output on the LoLLMs wire: every text piece is a `text_chunk`, messages are `generation_message`,
 * the place of a queued request `generation_queued`.
 */
export function socketSink(ctx: HandlerContext): GenerationSink {
  const chunk = (text: string) => ctx.emit('text_chunk', { chunk: text, type: 0 });
  return {
    answer: chunk,
    draft: chunk,
    message: (m) => ctx.emit('generation_message', { type: m.type, type_name: m.typeName, content: m.content, metadata: m.metadata }),
    // A processor's question (ctx.ask) goes to this client only, and waits for its generation_answer.
    ask: (request, signal) => ctx.client.ask(request, signal, (question) => ctx.emit('generation_ask', question)),
    queued: (position) => ctx.emit('generation_queued', { position }),
  };
}

/** `generation_answer {request_id, answer}`: the user's answer to a `generation_ask` of this client's generation. */
const generationAnswer: Handler<'generation_answer'> = {
  failure: (error, raw) => {
    const id = rawField(raw, 'request_id');
    return ['generation_answer', { success: false, error, ...(typeof id === 'string' ? { request_id: echo(id) } : {}) }];
  },
  run(ctx, data) {
    const result = ctx.client.answer(data.request_id, data.answer);
    if (result.ok) ctx.reply('generation_answer', { success: true, request_id: data.request_id });
    else ctx.reply('generation_answer', { success: false, request_id: echo(data.request_id), error: result.error });
  },
};

/**
 * `generate_text`: the slot is decided before anything else (or the requester gets `buzzy` + `busy`), then
 * `text_chunk`s stream and `text_generated` or `generation_error` ends it. After a cancel nothing more is sent.
 */
const generateText: Handler<'generate_text'> = {
  failure: (error) => ['generation_error', { error }],
  async run(ctx, data) {
    try {
      const outcome = await ctx.deps.generation.run(toGenerationRequest(ctx.client, data), socketSink(ctx));
      if (outcome.finishReason !== 'cancelled') ctx.reply('text_generated', { text: outcome.text });
    } catch (error) {
      if (errorCode(error) !== 'LH_ERR_BUSY') {
        const payload = generationErrorPayload(error);
        ctx.deps.logger.info({ client: ctx.client.id, personality: data.personality ?? -1, code: payload.code }, `generation failed: ${payload.error}`);
        ctx.reply('generation_error', payload);
        return;
      }
      ctx.emit('buzzy', { message: WIRE_TEXT.buzzy });
      ctx.reply('busy', { message: WIRE_TEXT.busy });
    }
  },
};

/** Both cancel names answer at once, whether or not anything runs (lollms-reference §1.3.17, §1.4). */
function cancel<E extends 'cancel_generation' | 'cancel_text_generation'>(): Handler<E> {
  return {
    failure: () => ['generation_canceled', { message: WIRE_TEXT.canceled }],
    run(ctx) {
      ctx.deps.generation.cancel(ctx.client.id);
      ctx.reply('generation_canceled', { message: WIRE_TEXT.canceled });
    },
  };
}

export const generationHandlers: HandlerMap = {
  generate_text: generateText,
  cancel_generation: cancel(),
  cancel_text_generation: cancel(),
  generation_answer: generationAnswer,
};
