/**
 * The request fields chat completions and completions share, mapped to the generation service: sampling,
 * stop strings, and the fields that are refused rather than ignored.
 *
 * - `max_completion_tokens` (or `max_tokens`) -> `maxTokens`; absent: the route's default.
 * - `temperature`, `top_p`, `seed`, and the llama.cpp server's `top_k`, `repeat_penalty`, `repeat_last_n`; a
 *   field left out takes the host config's value (`temperature`, `top_p`, `top_k`, `repeat_penalty`,
 *   `repeat_last_n`, `seed`). A personality model keeps its own `model_*` sampling: only `maxTokens` applies.
 * - `seed` is taken modulo 2^32 (llama.cpp seeds are 32-bit): any integer is a fixed seed.
 * - `presence_penalty` and `frequency_penalty` are accepted and ignored (the engine's penalty is llama.cpp's
 *   repeat penalty, set with `repeat_penalty`).
 * - `n` other than 1 and a non-empty `logit_bias` are refused (`LH_ERR_UNSUPPORTED_PARAMETER`): ignoring
 *   them would answer something else than what was asked.
 */
import type { SamplingOptions } from '../../../../plugin-api/index.js';
import { ApiError } from './errors.js';

/** The sampling fields of a request. */
export interface SamplingFields {
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
  seed?: number | null | undefined;
  top_k?: number | null | undefined;
  repeat_penalty?: number | null | undefined;
  repeat_last_n?: number | null | undefined;
}

/** The request's sampling over the defaults, with `maxTokens`. */
export function samplingOf(body: SamplingFields, maxTokens: number | null | undefined): Partial<SamplingOptions> {
  const out: Partial<SamplingOptions> = {};
  if (maxTokens != null) out.maxTokens = maxTokens;
  if (body.temperature != null) out.temperature = body.temperature;
  if (body.top_p != null) out.topP = body.top_p;
  if (body.seed != null) out.seed = ((body.seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
  if (body.top_k != null) out.topK = body.top_k;
  if (body.repeat_penalty != null) out.repeatPenalty = body.repeat_penalty;
  if (body.repeat_last_n != null) out.repeatLastN = body.repeat_last_n;
  return out;
}

/** `stop` as a list; empty strings are dropped (they would stop at once). */
export function stopOf(stop: string | readonly string[] | null | undefined): string[] | undefined {
  if (stop == null) return undefined;
  const list = (typeof stop === 'string' ? [stop] : [...stop]).filter((s) => s !== '');
  return list.length > 0 ? list : undefined;
}

/** Refuse `n` other than 1 and a non-empty `logit_bias`. */
export function rejectCommonUnsupported(body: { n?: number | null | undefined; logit_bias?: Record<string, number> | null | undefined }): void {
  if (body.n != null && body.n !== 1) throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', `n: only 1 choice per request is supported (got ${body.n}); send several requests`, 'n');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) {
    throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', 'logit_bias is not supported', 'logit_bias');
  }
}

/** A field that must be absent (or null, false, empty) to be served: refused otherwise. */
export function rejectIfSet(body: Record<string, unknown>, field: string, why: string): void {
  const value = body[field];
  if (value === undefined || value === null || value === false || value === 0 || value === '') return;
  if (Array.isArray(value) && value.length === 0) return;
  throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', `${field} is not supported: ${why}`, field);
}

/** Refuse token ids (a list of numbers, or of such lists) in `field` of a raw body: this host takes text only. */
export function rejectTokenIds(body: unknown, field: string): void {
  const value = (body as Record<string, unknown> | null)?.[field];
  if (Array.isArray(value) && value.length > 0 && (typeof value[0] === 'number' || Array.isArray(value[0]))) {
    throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', `${field}: token ids are not supported; send the text`, field);
  }
}
