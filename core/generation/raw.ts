/**
 * Raw mode (`personality: -1`, lollms-reference §5.1): the prompt goes to the model as is, cropped to fit, with
 * the request's sampling over the config's.
 */
import { BadRequest } from '../errors.js';
import { configSampling, withOverrides } from './sampling.js';
import type { TokenCounter } from './token-count.js';
import { finishReasonOf, type Turn, type TurnResult } from './turn.js';

export async function runRaw(turn: Turn): Promise<TurnResult> {
  const { request, model, counter } = turn;
  const sampling = withOverrides(configSampling(turn.settings), request.sampling);
  const prompt = await cropRawPrompt(counter, model.model.contextSize, request.prompt, sampling.maxTokens, request.nCrop);
  turn.prompted(prompt, -1);
  if (turn.signal.aborted) return { text: '', finishReason: 'cancelled' };
  const result = await turn.generate(prompt, {
    ...sampling,
    ...(request.stop?.length ? { stop: request.stop } : {}),
    onChunk: (chunk) => turn.sink.answer(chunk),
  });
  turn.logger.debug({ ...result.timings, stop: result.stopReason }, 'raw generation done');
  return { text: result.text, finishReason: finishReasonOf(result.stopReason) };
}

/**
 * Raw-mode cropping: `nCrop` keeps the last n tokens, then the prompt is cut from the left to fit
 * `context - maxTokens` tokens. The text is only re-made from tokens when cut.
 */
export async function cropRawPrompt(counter: TokenCounter, contextSize: number, prompt: string, maxTokens: number, nCrop: number | undefined): Promise<string> {
  const budget = contextSize - maxTokens;
  if (budget <= 0) throw BadRequest(`n_predicts (${maxTokens}) must be smaller than the model's context size (${contextSize})`);
  const keep = nCrop !== undefined && nCrop > 0 ? Math.min(budget, nCrop) : budget;
  return (await counter.tail(prompt, keep)).text;
}
