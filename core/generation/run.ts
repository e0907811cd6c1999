import type { GenerateOptions } from '../../plugin-api/index.js';
import type { Host } from '../host.js';
import type { ClientState, RunningGeneration } from './clients.js';
import type { HandlerContext } from '../handlers/dispatch.js';
import type { RequestPayload } from '../protocol/index.js';
import { WIRE_TEXT } from '../protocol/index.js';
import { createError } from '../errors.js';
import { generationErrorPayload } from '../protocol/generation-error.js';
import type { Slot } from './scheduler.js';
import { runPersonalityTurn } from './personality-mode.js';

export const BadRequest = createError('LH_ERR_BAD_REQUEST');

type GenerateRequest = RequestPayload<'generate_text'>;

/** Sampling of a raw request: `parameters` wins over top-level keys, which win over the config. */
export function rawSampling(host: Host, request: GenerateRequest): Required<Pick<GenerateOptions, 'temperature' | 'topK' | 'topP' | 'repeatPenalty' | 'repeatLastN' | 'seed'>> {
  const c = host.config.values;
  const p = { ...request, ...request.parameters };
  return {
    temperature: p.temperature ?? c.temperature,
    topK: p.top_k ?? c.top_k,
    topP: p.top_p ?? c.top_p,
    repeatPenalty: p.repeat_penalty ?? c.repeat_penalty,
    repeatLastN: p.repeat_last_n ?? c.repeat_last_n,
    seed: p.seed ?? c.seed,
  };
}

/**
 * `generate_text`. Takes a slot synchronously (or answers busy), then streams `text_chunk`s and ends with
 * `text_generated` or `generation_error`. After a cancel nothing more is sent: the chunk gate and the abort
 * signal flip together, before `generation_canceled` is emitted.
 */
export function startGeneration(ctx: HandlerContext, request: GenerateRequest): void {
  const { host, client } = ctx;
  const controller = new AbortController();
  // One generation per client. A cancelled one that is still unwinding does not count: its slot was freed at
  // the cancel, and the new turn starts once it has recorded its partial answer.
  const previous = client.generation;
  const acquired = previous && !previous.controller.signal.aborted ? undefined : host.scheduler.acquire(controller.signal);
  if (!acquired) {
    ctx.emit('buzzy', { message: WIRE_TEXT.buzzy });
    ctx.reply('busy', { message: WIRE_TEXT.busy });
    return;
  }
  let slot: Slot | undefined = acquired instanceof Promise ? undefined : acquired;
  let slotReleased = false;
  let finish!: () => void;
  const running: RunningGeneration = {
    controller,
    done: new Promise<void>((r) => (finish = r)),
    releaseSlot: () => {
      slotReleased = true;
      slot?.release();
    },
  };
  client.generation = running;

  void (async () => {
    try {
      if (!slot) slot = await acquired;
      if (slotReleased) slot.release();
      await previous?.done;
      // A hot reload of the active binding in progress: wait for the new code rather than refuse.
      await host.bindings.whenReady();
      await generate(host, client, request, controller.signal, ctx);
    } catch (error) {
      if (!controller.signal.aborted) {
        const payload = generationErrorPayload(error);
        host.logger.info({ client: client.id, personality: request.personality ?? -1, code: payload.code }, `generation failed: ${payload.error}`);
        ctx.reply('generation_error', payload);
      }
    } finally {
      slot?.release();
      if (client.generation === running) client.generation = undefined;
      finish();
    }
  })();
}

async function generate(host: Host, client: ClientState, request: GenerateRequest, signal: AbortSignal, ctx: HandlerContext): Promise<void> {
  const personality = request.personality ?? -1;
  const nPredicts = request.n_predicts ?? host.config.values.n_predict;
  const emitChunk = (chunk: string) => {
    if (!signal.aborted) ctx.emit('text_chunk', { chunk, type: 0 });
  };
  if (personality >= 0) {
    const text = await runPersonalityTurn({ host, client, request, personalityId: personality, signal, emitChunk, emit: ctx.emit });
    if (!signal.aborted) ctx.reply('text_generated', { text });
    return;
  }

  const lease = host.bindings.requireModel();
  try {
    const model = lease.value.model;
    const prompt = await cropRawPrompt(model, request.prompt, nPredicts, request.n_crop);
    host.events.emit('prompt', { client: client.id, personality: -1, prompt });
    if (signal.aborted) return;
    const result = await model.generate(prompt, { maxTokens: nPredicts, ...rawSampling(host, request), signal, onChunk: emitChunk });
    if (!signal.aborted) ctx.reply('text_generated', { text: result.text });
    host.logger.debug({ client: client.id, ...result.timings, stop: result.stopReason }, 'raw generation done');
  } finally {
    lease.release();
  }
}

/**
 * Raw-mode prompt cropping (lollms-reference §5.1): `n_crop` keeps the last n tokens, then the prompt is cut
 * from the left to fit `context - n_predicts` tokens. The text is only re-made from tokens when cut.
 */
async function cropRawPrompt(
  model: { contextSize: number; tokenize(t: string): Promise<number[]>; detokenize(t: readonly number[]): Promise<string> },
  prompt: string,
  nPredicts: number,
  nCrop: number | undefined,
): Promise<string> {
  const budget = model.contextSize - nPredicts;
  if (budget <= 0) {
    throw BadRequest(`n_predicts (${nPredicts}) must be smaller than the model's context size (${model.contextSize})`);
  }
  const tokens = await model.tokenize(prompt);
  const keep = Math.min(budget, nCrop !== undefined && nCrop > 0 ? nCrop : tokens.length);
  if (tokens.length <= keep) return prompt;
  return model.detokenize(tokens.slice(-keep));
}
