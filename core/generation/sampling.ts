/**
 * Generation options of a personality-mode turn. The original passed no sampling values at all (binding
 * defaults applied); issue 4 fixes that: the personality's `model_*` values apply unless the host config sets
 * `override_personality_model_parameters`, and the personality's `anti_prompts` are stop strings.
 */
import type { GenerateOptions } from '../../plugin-api/binding.js';
import type { HostConfig } from '../config.js';
import type { PersonalityConfig } from '../personalities/config.js';

/** The host config keys sampling reads. */
export type SamplingConfig = Pick<
  HostConfig,
  'override_personality_model_parameters' | 'temperature' | 'top_k' | 'top_p' | 'repeat_penalty' | 'repeat_last_n' | 'n_predict' | 'seed'
>;

export type PersonalitySampling = Required<Pick<GenerateOptions, 'maxTokens' | 'temperature' | 'topK' | 'topP' | 'repeatPenalty' | 'repeatLastN' | 'seed'>> & {
  stop: string[];
};

/**
 * Sampling for a personality: its `model_*` values (`model_n_predicts` as `maxTokens`), or the config's
 * (`n_predict` as `maxTokens`) when `override_personality_model_parameters` is set. The seed is always the
 * config's (personalities have none). Empty anti-prompts are dropped: they would stop at once.
 */
export function samplingFor(personality: Pick<PersonalityConfig, 'model_temperature' | 'model_n_predicts' | 'model_top_k' | 'model_top_p' | 'model_repeat_penalty' | 'model_repeat_last_n' | 'anti_prompts'>, config: SamplingConfig): PersonalitySampling {
  const stop = personality.anti_prompts.filter((s) => s !== '');
  if (config.override_personality_model_parameters) {
    return {
      maxTokens: config.n_predict,
      temperature: config.temperature,
      topK: config.top_k,
      topP: config.top_p,
      repeatPenalty: config.repeat_penalty,
      repeatLastN: config.repeat_last_n,
      seed: config.seed,
      stop,
    };
  }
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
