import type { z } from 'zod';
import * as P from './payloads.js';
import type { ClientEventName } from './events.js';

/** The schema that validates each client event's payload. */
export const REQUEST_SCHEMAS = {
  list_available_bindings: P.EmptySchema,
  list_available_personalities: P.EmptySchema,
  list_available_models: P.EmptySchema,
  list_available_personalities_languages: P.EmptySchema,
  list_available_personalities_categories: P.CategoriesRequestSchema,
  list_available_personalities_names: P.NamesRequestSchema,
  select_binding: P.SelectBindingRequestSchema,
  select_model: P.SelectModelRequestSchema,
  add_personality: P.AddPersonalityRequestSchema,
  list_active_personalities: P.EmptySchema,
  activate_personality: P.ActivatePersonalityRequestSchema,
  tokenize: P.TokenizeRequestSchema,
  detokenize: P.DetokenizeRequestSchema,
  embed: P.EmbedRequestSchema,
  generate_text: P.GenerateTextRequestSchema,
  cancel_generation: P.AnyPayloadSchema,
  cancel_text_generation: P.AnyPayloadSchema,
  get_personality_settings: P.GetPersonalitySettingsRequestSchema,
  set_personality_settings: P.SetPersonalitySettingsRequestSchema,
  install_model: P.InstallModelRequestSchema,
  cancel_install: P.CancelInstallRequestSchema,
  generation_answer: P.GenerationAnswerRequestSchema,
} as const satisfies Record<ClientEventName, z.ZodType>;

export type RequestPayload<E extends ClientEventName> = z.output<(typeof REQUEST_SCHEMAS)[E]>;

export type Validated<T> = { ok: true; data: T } | { ok: false; error: string };

/**
 * Validate one event payload. The error names the field and what was expected, e.g.
 * `invalid payload for "select_model": field "model_name": Invalid input: expected string, received number`.
 */
export function validateRequest<E extends ClientEventName>(event: E, payload: unknown): Validated<RequestPayload<E>> {
  const schema = REQUEST_SCHEMAS[event] as z.ZodType;
  // Events with a required field get `{}` when sent bare, so the error names the missing field.
  const input = payload === undefined && schema !== P.EmptySchema ? {} : payload;
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, data: parsed.data as RequestPayload<E> };
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? `field "${issue.path.join('.')}": ` : '';
  return { ok: false, error: `invalid payload for "${event}": ${field}${issue?.message ?? 'invalid'}` };
}
