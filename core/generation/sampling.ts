/**
 * The sampling values of a generation, in one place for every mode:
 * - raw mode: the request's values over the config's (`configSampling` + `withOverrides`);
 * - personality mode: the personality's `model_*` values, or the config's when it sets
 *   `override_personality_model_parameters` (issue 4: the original passed none at all), with the
 *   personality's `anti_prompts` as stop strings (`samplingFor`);
 * - a processor's `ctx.generate`: its options over the personality's (`withOverrides`).
 */
import type { SamplingOptions } from '../../plugin-api/index.js';
import type { HostConfig } from '../config.js';
import type { PersonalityConfig } from '../personalities/config.js';

/** Every sampling value, resolved. */
export type ResolvedSampling = Required<Pick<SamplingOptions, 'maxTokens' | 'temperature' | 'topK' | 'topP' | 'repeatPenalty' | 'repeatLastN' | 'seed'>>;

/** The host config keys sampling reads. */
export type SamplingConfig = Pick<
  HostConfig,
  'override_personality_model_parameters' | 'temperature' | 'top_k' | 'top_p' | 'repeat_penalty' | 'repeat_last_n' | 'n_predict' | 'seed'
>;

export type PersonalitySampling = ResolvedSampling & { stop: string[] };

/** The config's sampling values (`n_predict` as `maxTokens`). */
export function configSampling(config: Omit<SamplingConfig, 'override_personality_model_parameters'>): ResolvedSampling {
  return {
    maxTokens: config.n_predict,
    temperature: config.temperature,
    topK: config.top_k,
    topP: config.top_p,
    repeatPenalty: config.repeat_penalty,
    repeatLastN: config.repeat_last_n,
    seed: config.seed,
  };
}

/** `base` with every value `overrides` sets (an `undefined` value sets nothing). */
export function withOverrides<T extends ResolvedSampling>(base: T, overrides: Partial<SamplingOptions> | undefined): T {
  const out = { ...base };
  if (!overrides) return out;
  for (const key of ['maxTokens', 'temperature', 'topK', 'topP', 'repeatPenalty', 'repeatLastN', 'seed'] as const) {
    const value = overrides[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Sampling for a personality: its `model_*` values (`model_n_predicts` as `maxTokens`), or the config's
 * (`n_predict` as `maxTokens`) when `override_personality_model_parameters` is set. The seed is always the
 * config's (personalities have none). Empty anti-prompts are dropped: they would stop at once.
 */
export function samplingFor(personality: Pick<PersonalityConfig, 'model_temperature' | 'model_n_predicts' | 'model_top_k' | 'model_top_p' | 'model_repeat_penalty' | 'model_repeat_last_n' | 'anti_prompts'>, config: SamplingConfig): PersonalitySampling {
  const stop = personality.anti_prompts.filter((s) => s !== '');
  if (config.override_personality_model_parameters) return { ...configSampling(config), stop };
  return {
    maxTokens: personality.model_n_predicts,
    temperature: personality.model_temperature,
    topK: personality.model_top_k,
    topP: personality.model_top_p,
    repeatPenalty: personality.model_repeat_penalty,
    repeatLastN: personality.model_repeat_last_n,
    seed: config.seed,
    stop,
  };
}
