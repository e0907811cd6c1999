/**
 * The LoLLMs socket.io wire, typed: every event a client sends and every event the host emits, with the
 * original names and field names (lollms-reference §1), oddities included. The server, the typed client and
 * the tests all use these maps (`Server<ClientToServerEvents, ServerToClientEvents>`).
 */
import type { PersonalitySettingsReply } from './payloads.js';
import type * as P from './payloads.js';

/** A handler may receive an ack callback; the host answers it with the same payload as the reply event. */
type Req<T> = (payload?: T, ack?: (reply: unknown) => void) => void;

export interface ClientToServerEvents {
  list_available_bindings: Req<P.Empty>;
  list_available_personalities: Req<P.Empty>;
  list_available_models: Req<P.Empty>;
  list_available_personalities_languages: Req<P.Empty>;
  list_available_personalities_categories: Req<P.CategoriesRequest>;
  list_available_personalities_names: Req<P.NamesRequest>;
  select_binding: Req<P.SelectBindingRequest>;
  select_model: Req<P.SelectModelRequest>;
  add_personality: Req<P.AddPersonalityRequest>;
  list_active_personalities: Req<P.Empty>;
  activate_personality: Req<P.ActivatePersonalityRequest>;
  tokenize: Req<P.TokenizeRequest>;
  detokenize: Req<P.DetokenizeRequest>;
  embed: Req<P.EmbedRequest>;
  generate_text: Req<P.GenerateTextRequest>;
  cancel_generation: Req<P.Empty>;
  cancel_text_generation: Req<P.Empty>;
  // Events of our own.
  get_personality_settings: Req<P.GetPersonalitySettingsRequest>;
  set_personality_settings: Req<P.SetPersonalitySettingsRequest>;
  install_model: Req<P.InstallModelRequest>;
  cancel_install: Req<P.CancelInstallRequest>;
  generation_answer: Req<P.GenerationAnswerRequest>;
}

export interface ServerToClientEvents {
  bindings_list: (reply: P.BindingsListReply) => void;
  personalities_list: (reply: P.PersonalitiesListReply) => void;
  available_models_list: (reply: P.AvailableModelsListReply) => void;
  available_personalities_languages_list: (reply: P.LanguagesListReply) => void;
  available_personalities_categories_list: (reply: P.CategoriesListReply) => void;
  list_available_personalities_names_list: (reply: P.NamesListReply) => void;
  select_binding: (reply: P.SelectBindingReply) => void;
  select_model: (reply: P.SelectModelReply) => void;
  personality_added: (reply: P.PersonalityAddedReply) => void;
  personality_add_failed: (reply: P.Failure) => void;
  active_personalities_list: (reply: P.ActivePersonalitiesListReply) => void;
  activate_personality: (reply: P.ActivatePersonalityReply) => void;
  tokenized: (reply: P.TokenizedReply) => void;
  detokenized: (reply: P.DetokenizedReply) => void;
  embeded: (reply: P.EmbededReply) => void;
  text_chunk: (reply: P.TextChunk) => void;
  text_generated: (reply: P.TextGenerated) => void;
  generation_error: (reply: P.GenerationError) => void;
  generation_canceled: (reply: P.Message) => void;
  buzzy: (reply: P.Message) => void;
  busy: (reply: P.Message) => void;
  // Events of our own.
  generation_message: (reply: P.GenerationMessage) => void;
  generation_queued: (reply: P.GenerationQueued) => void;
  model_loading_progress: (reply: P.ModelLoadingProgress) => void;
  personality_settings: (reply: PersonalitySettingsReply) => void;
  install_progress: (reply: P.InstallProgress) => void;
  model_installed: (reply: P.ModelInstalledReply) => void;
  plugin_error: (reply: P.PluginErrorEvent) => void;
  plugin_reloaded: (reply: P.PluginReloadedEvent) => void;
  plugin_warning: (reply: P.PluginWarningEvent) => void;
  generation_ask: (reply: P.GenerationAsk) => void;
  generation_answer: (reply: P.GenerationAnswerReply) => void;
}

export type ClientEventName = keyof ClientToServerEvents;
export type ServerEventName = keyof ServerToClientEvents;
export type ServerPayload<E extends ServerEventName> = Parameters<ServerToClientEvents[E]>[0];

/** Per-socket data socket.io keeps for us (unused: per-client state lives in the host's client registry). */
export type InterServerEvents = Record<string, never>;
export type SocketData = Record<string, never>;

/** The fixed texts of the original's replies. */
export const WIRE_TEXT = {
  buzzy: 'I am buzzy. Come back later.',
  busy: 'I am busy. Come back later.',
  canceled: 'Generation is canceled.',
  invalidPersonalityId: 'Personality ID not valid',
  noBinding: 'No binding selected',
} as const;

/** Every server→client event name at run time (docs check, typed client). The type below proves it complete. */
export const SERVER_EVENT_NAMES = [
  'bindings_list', 'personalities_list', 'available_models_list', 'available_personalities_languages_list',
  'available_personalities_categories_list', 'list_available_personalities_names_list', 'select_binding', 'select_model',
  'personality_added', 'personality_add_failed', 'active_personalities_list', 'activate_personality', 'tokenized',
  'detokenized', 'embeded', 'text_chunk', 'text_generated', 'generation_error', 'generation_canceled', 'buzzy', 'busy',
  'generation_message', 'generation_queued', 'model_loading_progress', 'personality_settings', 'install_progress', 'model_installed',
  'plugin_error', 'plugin_reloaded', 'plugin_warning', 'generation_ask', 'generation_answer',
] as const satisfies readonly ServerEventName[];
type MissingServerEvents = Exclude<ServerEventName, (typeof SERVER_EVENT_NAMES)[number]>;
const serverEventsComplete: MissingServerEvents extends never ? true : never = true;
void serverEventsComplete;
