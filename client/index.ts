/**
 * `lollms-host/client`: a typed client for the LoLLMs socket.io protocol of lollms-host (docs/client.md).
 *
 * It wraps socket.io-client and shares the `core/protocol` types, as types only: the browser bundle pulls in no
 * server code. No Node-only APIs are used, so the same code runs in Node and in browsers.
 *
 * Correlation: the wire has no request ids, so replies are matched to requests by event name. Requests whose
 * replies share an event name (for example `add_personality` and `activate_personality`, which both fail with
 * `personality_add_failed`) go through one lane and are sent one at a time, in call order; requests of different
 * lanes run at once. Every request also carries a socket.io acknowledgement, which lollms-host answers with the
 * reply payload: once the server has been seen answering acknowledgements, a request settles only on its own
 * acknowledgement, so a reply that arrives after its request timed out is never taken for the next one's.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type {
  ActivatePersonalityReply,
  ActivePersonalitiesListReply,
  AvailableModelsListReply,
  BindingsListReply,
  CategoriesListReply,
  ClientEventName,
  ClientToServerEvents,
  DetokenizedReply,
  EmbededReply,
  Failure,
  GenerationAnswerReply,
  InstallProgress,
  LanguagesListReply,
  ModelInstalledReply,
  ModelLoadingProgress,
  NamesListReply,
  PersonalitiesListReply,
  PersonalityAddedReply,
  PersonalityRemovedReply,
  PersonalitySettingsReply,
  BindingSettingsReply,
  SelectBindingReply,
  SelectModelReply,
  ServerEventName,
  ServerToClientEvents,
  TokenizedReply,
} from '../core/protocol/index.js';
import { CanceledError, LollmsConnectionError, LollmsRequestError, LollmsTimeoutError, BusyError } from './errors.js';
import { Generation, GenerationRun, type GenerateOptions } from './generation.js';
import { Lane } from './lane.js';

export { LollmsClientError, LollmsRequestError, LollmsTimeoutError, BusyError, CanceledError, LollmsConnectionError } from './errors.js';
export { Generation, type GenerateOptions } from './generation.js';
export type {
  AvailableModel,
  BindingsListEntry,
  ClientToServerEvents,
  GenerationAsk,
  GenerationMessage,
  InstallProgress,
  ModelLoadingProgress,
  PersonalityInfo,
  PluginErrorEvent,
  PluginReloadedEvent,
  PluginWarning,
  PluginWarningEvent,
  SamplingParameters,
  ServerToClientEvents,
} from '../core/protocol/index.js';

/** The typed socket.io socket the client wraps. */
export type LollmsSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A reply payload without its failure shape: what a method resolves with (failures reject instead). */
export type Success<T> = Exclude<T, Failure>;

export type BindingsList = Success<BindingsListReply>;
export type PersonalitiesList = Success<PersonalitiesListReply>;
export type AvailableModelsList = Success<AvailableModelsListReply>;
export type LanguagesList = Success<LanguagesListReply>;
export type CategoriesList = Success<CategoriesListReply>;
export type NamesList = Success<NamesListReply>;
export type SelectedBinding = Success<SelectBindingReply>;
export type SelectedModel = Success<SelectModelReply>;
export type PersonalityAdded = PersonalityAddedReply;
export type PersonalityActivated = ActivatePersonalityReply;
export type PersonalityRemoved = Success<PersonalityRemovedReply>;
export type ActivePersonalitiesList = Success<ActivePersonalitiesListReply>;
export type Tokenized = Success<TokenizedReply>;
export type Detokenized = Success<DetokenizedReply>;
export type Embedded = Success<EmbededReply>;
export type PersonalitySettings = Success<PersonalitySettingsReply>;
export type BindingSettings = Success<BindingSettingsReply>;
export type ModelInstalled = Success<ModelInstalledReply>;

/** Options of `new LollmsClient()`. */
export interface LollmsClientOptions {
  /** The host's address, e.g. `http://127.0.0.1:9600` (the default). The socket.io path is `/socket.io`. */
  url?: string;
  /**
   * The host's API key (config `api_key`), sent with the handshake request (`Authorization: Bearer` in Node, the
   * `token` query parameter in a browser). Needed whenever the host has a key; a missing or wrong key makes
   * `connect()` reject with `LollmsConnectionError`.
   */
  apiKey?: string;
  /**
   * Time limit of each request, in milliseconds, from the moment it is sent until its reply. Default `30000`;
   * `0` disables it. For `selectModel` and `installModel` it is an idle limit: each progress event restarts it.
   * Every method also takes a `timeoutMs` of its own. `generate()` has its own idle limit, off by default.
   */
  timeoutMs?: number;
  /**
   * socket.io transports, in the order to try them, e.g. `['websocket']`. Default: socket.io's (`polling`,
   * then an upgrade to `websocket`). Browsers see the reason of a refused handshake only over `websocket`.
   */
  transports?: Array<'polling' | 'websocket' | 'webtransport'>;
  /**
   * Extra socket.io-client options, passed through as they are (e.g. `reconnection`, `extraHeaders` in Node,
   * `path`). `apiKey`, `transports` and `autoConnect` above win over the same keys here. The client sets
   * `forceNew: true` (its own connection) unless you pass `forceNew: false`.
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * Connect as soon as the client is made. Default `true`: requests made before the connection is up wait for
   * it. With `false`, call `connect()` first; requests made before reject with `LollmsConnectionError`.
   */
  autoConnect?: boolean;
}

/** Options every request method takes. */
export interface RequestOptions {
  /** Time limit of this request in milliseconds; default: the client's `timeoutMs`. `0` disables it. */
  timeoutMs?: number;
  /**
   * Aborting it rejects the request with `CanceledError` (a request still waiting for its lane is not sent). The
   * host still runs a request that was already sent, except `installModel`, whose download is canceled.
   */
  signal?: AbortSignal;
}

/** Options of `selectModel()`. */
export interface SelectModelOptions extends RequestOptions {
  /** Called with each `model_loading_progress` event (`progress` from 0 to 1) while the model loads. */
  onProgress?: (progress: ModelLoadingProgress) => void;
}

/** Options of `installModel()`. */
export interface InstallModelOptions extends RequestOptions {
  /** Called with each `install_progress` event (at most one every 250 ms, plus the first and the last). */
  onProgress?: (progress: InstallProgress) => void;
}

/**
 * What to install: a `filename` of the active binding's `models.yaml` alone, or any http(s) `url` (saved as the
 * URL's last path segment unless `filename` is given). `sha256` is the expected checksum.
 */
export type InstallSource =
  | { filename: string; url?: string; sha256?: string }
  | { url: string; filename?: string; sha256?: string };

/** The default address of a lollms-host. */
export const DEFAULT_URL = 'http://127.0.0.1:9600';
/** The default time limit of a request. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** How each request is answered: its lane (requests that share reply events), reply events and progress event. */
interface RequestSpec {
  lane: string;
  replies: readonly ServerEventName[];
  progress?: ServerEventName;
}

const SPECS = {
  list_available_bindings: { lane: 'bindings', replies: ['bindings_list'] },
  list_available_personalities: { lane: 'personalities', replies: ['personalities_list'] },
  list_available_models: { lane: 'models', replies: ['available_models_list'] },
  list_available_personalities_languages: { lane: 'languages', replies: ['available_personalities_languages_list'] },
  list_available_personalities_categories: { lane: 'categories', replies: ['available_personalities_categories_list'] },
  list_available_personalities_names: { lane: 'names', replies: ['list_available_personalities_names_list'] },
  select_binding: { lane: 'select_binding', replies: ['select_binding'] },
  select_model: { lane: 'select_model', replies: ['select_model'], progress: 'model_loading_progress' },
  add_personality: { lane: 'personality', replies: ['personality_added', 'personality_add_failed'] },
  activate_personality: { lane: 'personality', replies: ['activate_personality', 'personality_add_failed'] },
  remove_personality: { lane: 'personality', replies: ['personality_removed'] },
  list_active_personalities: { lane: 'active_personalities', replies: ['active_personalities_list'] },
  tokenize: { lane: 'tokenize', replies: ['tokenized'] },
  detokenize: { lane: 'detokenize', replies: ['detokenized'] },
  embed: { lane: 'embed', replies: ['embeded'] },
  get_personality_settings: { lane: 'personality_settings', replies: ['personality_settings'] },
  set_personality_settings: { lane: 'personality_settings', replies: ['personality_settings'] },
  get_binding_settings: { lane: 'binding_settings', replies: ['binding_settings'] },
  set_binding_settings: { lane: 'binding_settings', replies: ['binding_settings'] },
  install_model: { lane: 'install', replies: ['model_installed'], progress: 'install_progress' },
  generation_answer: { lane: 'generation_answer', replies: ['generation_answer'] },
} as const satisfies Partial<Record<ClientEventName, RequestSpec>>;

type RequestEvent = keyof typeof SPECS;
type RequestPayloadOf<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];

/** The request in flight at the head of a lane, as seen by the socket's event listeners. */
interface Exchange {
  event: ClientEventName;
  reply(payload: unknown): void;
  progress(payload: unknown): void;
  fail(error: Error): void;
}

interface ExchangeOptions<P> extends RequestOptions {
  onProgress?: (progress: P) => void;
  /** Only progress events that pass belong to this request (e.g. the model being loaded). */
  acceptProgress?: (progress: P) => boolean;
  /** On abort or timeout: undo on the server; the lane is freed when the returned promise settles. */
  undo?: () => Promise<void>;
}

const isFailure = (payload: unknown): payload is Failure =>
  typeof payload === 'object' && payload !== null && (payload as { success?: unknown }).success === false;

const failureMessage = (payload: Failure): string =>
  typeof payload.error === 'string' ? payload.error : JSON.stringify(payload);

type LooseEmit = (event: string, ...args: unknown[]) => unknown;
type LooseOn = (event: string, listener: (payload: unknown) => void) => unknown;

/**
 * A client of one lollms-host. Every request is a method that resolves with the success reply and rejects with a
 * typed error: `LollmsRequestError` (the server's failure shape, with its message), `LollmsTimeoutError`,
 * `CanceledError`, `BusyError` (generation only) or `LollmsConnectionError`.
 *
 * ```ts
 * import { LollmsClient } from 'lollms-host/client';
 *
 * const client = new LollmsClient({ url: 'http://127.0.0.1:9600' });
 * await client.connect();
 * const { tokens } = await client.tokenize('Hello world');
 * for await (const chunk of client.generate('Once upon a time', { nPredicts: 64 })) console.log(chunk);
 * await client.close();
 * ```
 */
export class LollmsClient {
  /** The underlying typed socket.io socket, e.g. to listen for `plugin_reloaded` or `plugin_error` broadcasts. */
  readonly socket: LollmsSocket;
  /** The address this client connects to. */
  readonly url: string;
  /** The default time limit of a request, in milliseconds (`0`: none). */
  readonly timeoutMs: number;

  readonly #lanes = new Map<string, Lane>();
  /** The exchange at the head of each lane, by the events that answer it. */
  readonly #heads = new Map<ServerEventName, Exchange>();
  readonly #inFlight = new Set<Exchange>();
  #generation: GenerationRun | undefined;
  /** The server has answered an acknowledgement: from then on, requests settle on their own ack only. */
  #serverAcks = false;
  #closed = false;
  #lastConnectError: Error | undefined;

  constructor(options: LollmsClientOptions = {}) {
    this.url = options.url ?? DEFAULT_URL;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const socketOptions: Partial<ManagerOptions & SocketOptions> = { forceNew: true, ...options.socketOptions };
    if (options.apiKey !== undefined) {
      // The host checks the key on the handshake request itself, before it reads any message: as a header in
      // Node; in a browser (which cannot set WebSocket headers) as the `token` query parameter.
      const inBrowser = typeof (globalThis as { document?: unknown }).document !== 'undefined';
      if (inBrowser) {
        const query = typeof socketOptions.query === 'object' ? socketOptions.query : {};
        socketOptions.query = { ...query, token: options.apiKey };
      } else {
        socketOptions.extraHeaders = { ...socketOptions.extraHeaders, authorization: `Bearer ${options.apiKey}` };
      }
      const auth = typeof socketOptions.auth === 'object' ? socketOptions.auth : {};
      socketOptions.auth = { ...auth, token: options.apiKey };
    }
    if (options.transports !== undefined) socketOptions.transports = options.transports;
    socketOptions.autoConnect = options.autoConnect ?? socketOptions.autoConnect ?? true;
    this.socket = io(this.url, socketOptions) as LollmsSocket;

    const on = this.socket.on.bind(this.socket) as unknown as LooseOn;
    for (const spec of Object.values(SPECS) as RequestSpec[]) {
      for (const event of spec.replies) on(event, (payload) => this.#heads.get(event)?.reply(payload));
      if (spec.progress) {
        const event = spec.progress;
        on(event, (payload) => this.#heads.get(event)?.progress(payload));
      }
    }
    this.socket.on('text_chunk', (p) => this.#generation?.chunk(p.chunk));
    this.socket.on('generation_message', (p) => this.#generation?.message(p));
    this.socket.on('generation_ask', (p) => this.#generation?.ask(p));
    this.socket.on('generation_queued', (p) => this.#generation?.queued(p.position));
    this.socket.on('text_generated', (p) => this.#generation?.generated(p.text));
    this.socket.on('generation_error', (p) => this.#generation?.failed(p));
    this.socket.on('buzzy', (p) => this.#generation?.buzzy(p));
    this.socket.on('busy', (p) => this.#generation?.busy(p));
    this.socket.on('generation_canceled', (p) => this.#generation?.canceled(p));
    this.socket.on('connect', () => (this.#lastConnectError = undefined));
    this.socket.on('connect_error', (error) => (this.#lastConnectError = error));
    this.socket.on('disconnect', (reason) => {
      const why = this.#closed ? 'the client was closed' : `the connection was lost (${reason})`;
      for (const exchange of [...this.#inFlight]) exchange.fail(new LollmsConnectionError(`${exchange.event}: ${why} before the reply`));
      this.#generation?.fail(new LollmsConnectionError(`generate_text: ${why} before the end of the generation`));
    });
  }

  /** True while the socket is connected. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /**
   * Connect, or wait for the connection in progress. Resolves once connected. Rejects with `LollmsConnectionError`
   * carrying the server's message when the handshake is refused (API key, origin) or fails (and then stops
   * trying), or with `LollmsTimeoutError` after `timeoutMs`.
   */
  connect(options: RequestOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new LollmsConnectionError('the client is closed'));
    if (this.socket.connected) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.socket.off('connect', onConnect);
        this.socket.off('connect_error', onError);
        options.signal?.removeEventListener('abort', onAbort);
        if (!error) return resolve();
        this.socket.disconnect();
        reject(error);
      };
      const onConnect = () => done();
      const onError = (error: Error) => done(new LollmsConnectionError(`cannot connect to ${this.url}: ${connectErrorText(error)}`, { cause: error }));
      const onAbort = () => done(new CanceledError('connect', undefined, { cause: options.signal?.reason }));
      if (options.signal?.aborted) return onAbort();
      this.socket.on('connect', onConnect);
      this.socket.on('connect_error', onError);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0) timer = setTimeout(() => done(new LollmsTimeoutError('connect', timeoutMs)), timeoutMs);
      this.socket.connect();
    });
  }

  /**
   * Disconnect for good. Requests in flight reject with `LollmsConnectionError`; the host cancels this client's
   * generation. The client cannot be reused: make a new one.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.socket.disconnect();
    // `disconnect` is only emitted for a connected socket: fail whatever is left.
    for (const exchange of [...this.#inFlight]) exchange.fail(new LollmsConnectionError(`${exchange.event}: the client was closed before the reply`));
    this.#generation?.fail(new LollmsConnectionError('generate_text: the client was closed before the end of the generation'));
  }

  // ------------------------------------------------------------------------------------------------ listings

  /** `list_available_bindings`: the binding folders with their `binding_card.yaml` and `models.yaml`. */
  listBindings(options?: RequestOptions): Promise<BindingsList> {
    return this.#request('list_available_bindings', undefined, options);
  }

  /** `list_available_personalities`: the zoo, as `personalities[language][category]` lists. */
  listPersonalities(options?: RequestOptions): Promise<PersonalitiesList> {
    return this.#request('list_available_personalities', undefined, options);
  }

  /** `list_available_models`: the entries of the active binding's `models.yaml`, with `isInstalled`. */
  listModels(options?: RequestOptions): Promise<AvailableModelsList> {
    return this.#request('list_available_models', undefined, options);
  }

  /** `list_available_personalities_languages`: the zoo's languages. */
  listPersonalityLanguages(options?: RequestOptions): Promise<LanguagesList> {
    return this.#request('list_available_personalities_languages', undefined, options);
  }

  /** `list_available_personalities_categories`: the categories of `language`, or of every language. */
  listPersonalityCategories(language?: string, options?: RequestOptions): Promise<CategoriesList> {
    return this.#request('list_available_personalities_categories', language === undefined ? {} : { language }, options);
  }

  /** `list_available_personalities_names`: the personality folders of `category` (in `language`, or in any). */
  listPersonalityNames(category: string, language?: string, options?: RequestOptions): Promise<NamesList> {
    return this.#request('list_available_personalities_names', language === undefined ? { category } : { category, language }, options);
  }

  // ------------------------------------------------------------------------------------------------ selection

  /** `select_binding`: make a binding folder the active binding (it does not load a model). */
  selectBinding(name: string, options?: RequestOptions): Promise<SelectedBinding> {
    return this.#request('select_binding', { binding_name: name }, options);
  }

  /**
   * `select_model`: load a model of the active binding. `onProgress` gets the `model_loading_progress` events; each
   * of them restarts the time limit. The previous model keeps serving until the new one has loaded.
   */
  selectModel(name: string, options: SelectModelOptions = {}): Promise<SelectedModel> {
    return this.#request('select_model', { model_name: name }, {
      ...options,
      acceptProgress: (p: ModelLoadingProgress) => p.model_name === name,
    });
  }

  // ------------------------------------------------------------------------------------------------ personalities

  /** `add_personality`: mount a personality by its zoo path (`language/category/name` or `category/name`). */
  addPersonality(path: string, options?: RequestOptions): Promise<PersonalityAdded> {
    return this.#request('add_personality', { path }, options);
  }

  /** `activate_personality`: make a mounted personality (by id) the active one. */
  activatePersonality(id: number, options?: RequestOptions): Promise<PersonalityActivated> {
    return this.#request('activate_personality', { id }, options);
  }

  /**
   * `remove_personality`: unmount a mounted personality (by id) and drop it from the host's config. The ids of the
   * others do not change: the freed id lists as an empty name until the next `addPersonality` takes it.
   */
  removePersonality(id: number, options?: RequestOptions): Promise<PersonalityRemoved> {
    return this.#request('remove_personality', { id }, options);
  }

  /** `list_active_personalities`: the mounted personalities' names; a name's index is its id. */
  listActivePersonalities(options?: RequestOptions): Promise<ActivePersonalitiesList> {
    return this.#request('list_active_personalities', undefined, options);
  }

  /** `get_personality_settings`: a mounted personality's processor settings and their template. */
  getPersonalitySettings(id: number, options?: RequestOptions): Promise<PersonalitySettings> {
    return this.#request('get_personality_settings', { id }, options);
  }

  /** `set_personality_settings`: change some settings (validated against the template; saved by the host). */
  setPersonalitySettings(id: number, settings: Record<string, unknown>, options?: RequestOptions): Promise<PersonalitySettings> {
    return this.#request('set_personality_settings', { id, settings }, options);
  }

  /** `get_binding_settings`: a binding's settings and their template (default the active binding). */
  getBindingSettings(name?: string, options?: RequestOptions): Promise<BindingSettings> {
    return this.#request('get_binding_settings', name === undefined ? {} : { name }, options);
  }

  /**
   * `set_binding_settings`: change some settings of a binding (default the active one), validated against its
   * card; the host saves them and loads the active binding again with them (`applied`).
   */
  setBindingSettings(settings: Record<string, unknown>, name?: string, options?: RequestOptions): Promise<BindingSettings> {
    return this.#request('set_binding_settings', { ...(name === undefined ? {} : { name }), settings }, options);
  }

  // ------------------------------------------------------------------------------------------------ tokens

  /** `tokenize`: the token ids of `text` for the current model. */
  tokenize(text: string, options?: RequestOptions): Promise<Tokenized> {
    return this.#request('tokenize', { prompt: text }, options);
  }

  /** `detokenize`: the text of token ids (integers `>= 0`). */
  detokenize(tokens: readonly number[], options?: RequestOptions): Promise<Detokenized> {
    return this.#request('detokenize', { prompt: [...tokens] }, options);
  }

  /** `embed`: the embedding vector of `text`. The vector is under `text` (sic, as on the wire). */
  embed(text: string, options?: RequestOptions): Promise<Embedded> {
    return this.#request('embed', { prompt: text }, options);
  }

  // ------------------------------------------------------------------------------------------------ install

  /**
   * `install_model`: download a model into the active binding's models folder. `onProgress` gets the
   * `install_progress` events; each restarts the time limit. Aborting `signal` (or a timeout) sends `cancel_install`
   * and rejects with `CanceledError` (or `LollmsTimeoutError`); the partial download is kept and resumed next time.
   * Installs from one client run one at a time.
   */
  installModel(source: InstallSource, options: InstallModelOptions = {}): Promise<ModelInstalled> {
    const payload = {
      ...(source.filename !== undefined ? { filename: source.filename } : {}),
      ...(source.url !== undefined ? { url: source.url } : {}),
      ...(source.sha256 !== undefined ? { sha256: source.sha256 } : {}),
    };
    let serverName: string | undefined;
    return this.#request('install_model', payload, {
      ...options,
      onProgress: (p: InstallProgress) => {
        serverName = p.filename;
        options.onProgress?.(p);
      },
      undo: () => {
        const filename = serverName ?? source.filename;
        const target = filename !== undefined ? { filename } : { url: source.url! };
        const timeoutMs = this.timeoutMs > 0 ? this.timeoutMs : DEFAULT_TIMEOUT_MS;
        return this.#send('cancel_install', target, { lane: 'install', replies: ['model_installed'] }, { timeoutMs }).then(
          () => undefined,
          () => undefined,
        );
      },
    });
  }

  // ------------------------------------------------------------------------------------------------ generation

  /**
   * `generate_text`: start a generation and return it at once. Iterate it (`for await`) for the chunks, or await
   * `.text` for the final text; `.cancel()` or an abort of `options.signal` sends `cancel_generation`.
   *
   * The host runs one generation per client: while this client's previous generation runs, the new one is not
   * sent and its `text` rejects with a `BusyError` whose `local` is true. A generation refused by the host because
   * another client's runs rejects with `BusyError` too (`local` false). Retry either later.
   */
  generate(prompt: string, options: GenerateOptions = {}): Generation {
    if (this.#closed) return new GenerationRun(options, undefined, new LollmsConnectionError('the client is closed')).generation;
    if (this.#generation) {
      const busy = new BusyError('this client already runs a generation: await its text (or cancel it) before starting another', true);
      return new GenerationRun(options, undefined, busy).generation;
    }
    const unusable = this.#unusable('generate_text');
    if (unusable) return new GenerationRun(options, undefined, unusable).generation;
    const payload = {
      prompt,
      ...(options.personality !== undefined ? { personality: options.personality } : {}),
      ...(options.nPredicts !== undefined ? { n_predicts: options.nPredicts } : {}),
      ...(options.parameters !== undefined ? { parameters: options.parameters } : {}),
      ...(options.nCrop !== undefined ? { n_crop: options.nCrop } : {}),
    };
    let run: GenerationRun | undefined;
    run = new GenerationRun(options, {
      start: () => this.socket.emit('generate_text', payload),
      cancel: () => this.socket.emit('cancel_generation', {}),
      answer: (requestId, text) => this.answer(requestId, text),
      ended: () => {
        if (run && this.#generation === run) this.#generation = undefined;
      },
      confirmTimeoutMs: this.timeoutMs > 0 ? this.timeoutMs : DEFAULT_TIMEOUT_MS,
    });
    if (run.state !== 'done') this.#generation = run;
    return run.generation;
  }

  /**
   * `generation_answer`: answer a processor's question (`generation_ask`, see `GenerateOptions.onAsk` and
   * `Generation.questions`). Rejects with `LollmsRequestError` when the host refused it: no question of that id
   * waits (answered, timed out, cancelled), or the answer is not one of its `choices` (the question then keeps
   * waiting).
   */
  async answer(requestId: string, answer: string, options?: RequestOptions): Promise<void> {
    await this.#request<'generation_answer', Extract<GenerationAnswerReply, { success: true }>>('generation_answer', { request_id: requestId, answer }, options);
  }

  // ------------------------------------------------------------------------------------------------ internals

  /** Why a request cannot be sent now, if it cannot. */
  #unusable(event: string): LollmsConnectionError | undefined {
    if (this.#closed) return new LollmsConnectionError(`${event}: the client is closed`);
    // `active` is true while socket.io connects or reconnects: requests wait in its buffer.
    if (this.socket.connected || this.socket.active) return undefined;
    const reason = this.#lastConnectError ? ` (last error: ${connectErrorText(this.#lastConnectError)})` : '';
    return new LollmsConnectionError(`${event}: not connected${reason}; call connect() first`);
  }

  #lane(name: string): Lane {
    let lane = this.#lanes.get(name);
    if (!lane) this.#lanes.set(name, (lane = new Lane()));
    return lane;
  }

  /** Send a request in its lane and settle on its reply. */
  async #request<E extends RequestEvent, R, P = never>(event: E, payload: RequestPayloadOf<E>, options: ExchangeOptions<P> = {}): Promise<R> {
    const spec: RequestSpec = SPECS[event];
    const unusable = this.#unusable(event);
    if (unusable) throw unusable;
    if (options.signal?.aborted) throw new CanceledError(event, undefined, { cause: options.signal.reason });
    const release = await this.#lane(spec.lane).acquire(options.signal, () => new CanceledError(event, undefined, { cause: options.signal?.reason }));
    let undone: Promise<void> | undefined;
    try {
      return await this.#send<R, P>(event, payload, spec, options, (p) => (undone = p));
    } finally {
      if (undone) void undone.finally(release);
      else release();
    }
  }

  /** One exchange, the lane already held: emit with an ack, and settle on the reply, a timeout or an abort. */
  #send<R, P = never>(event: ClientEventName, payload: unknown, spec: RequestSpec, options: ExchangeOptions<P>, onUndo?: (undone: Promise<void>) => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const unusable = this.#unusable(event);
      if (unusable) return reject(unusable);
      if (options.signal?.aborted) return reject(new CanceledError(event, undefined, { cause: options.signal.reason }));
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      const events = spec.progress ? [...spec.replies, spec.progress] : spec.replies;
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;

      const finish = (error: Error | undefined, value?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const name of events) if (this.#heads.get(name) === exchange) this.#heads.delete(name);
        this.#inFlight.delete(exchange);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value as R);
      };
      const settle = (reply: unknown) => {
        if (isFailure(reply)) finish(new LollmsRequestError(event, failureMessage(reply), reply));
        else finish(undefined, reply);
      };
      const stop = (error: Error) => {
        if (done) return;
        if (options.undo) onUndo?.(options.undo());
        finish(error);
      };
      const arm = () => {
        if (timeoutMs <= 0) return;
        clearTimeout(timer);
        timer = setTimeout(() => stop(new LollmsTimeoutError(event, timeoutMs)), timeoutMs);
      };
      const onAbort = () => stop(new CanceledError(event, undefined, { cause: options.signal?.reason }));
      const exchange: Exchange = {
        event,
        // Without acks (e.g. the original lollms-server), the head of the lane takes the reply event.
        reply: (reply) => {
          if (!this.#serverAcks) settle(reply);
        },
        progress: (progress) => {
          if (done || (options.acceptProgress && !options.acceptProgress(progress as P))) return;
          arm();
          options.onProgress?.(progress as P);
        },
        fail: (error) => finish(error),
      };
      for (const name of events) this.#heads.set(name, exchange);
      this.#inFlight.add(exchange);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      arm();
      (this.socket.emit as unknown as LooseEmit)(event, payload, (reply: unknown) => {
        this.#serverAcks = true;
        settle(reply);
      });
    });
  }
}

/**
 * A connect error as a person can act on it. The host refuses a handshake without the key, or from a page
 * origin it does not allow, on the handshake request itself (HTTP 403), which socket.io reports as a transport
 * error ("xhr poll error"): say what the status means.
 */
function connectErrorText(error: Error): string {
  const status = refusedStatus(error);
  if (status === 401 || status === 403) {
    return `the host refused the connection (HTTP ${status}): unauthorized (a missing or wrong apiKey) or a page origin not in allowed_origins`;
  }
  return error.message;
}

/**
 * The HTTP status of a refused handshake, where engine.io's TransportError carries it: polling passes the status
 * as `description` (its `context`, the XHR, is aborted by then and reads 0), fetch polling too (with the Response
 * as `context`), and Node's WebSocket says it in `description.message`. A browser's WebSocket reveals nothing.
 */
function refusedStatus(error: Error): number | undefined {
  const details = error as { description?: unknown; context?: unknown };
  if (typeof details.description === 'number' && details.description > 0) return details.description;
  const message = (details.description as { message?: unknown } | undefined)?.message;
  const fromWebSocket = /Unexpected server response: (\d+)/.exec(String(message ?? ''))?.[1];
  if (fromWebSocket !== undefined) return Number(fromWebSocket);
  const status = (details.context as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status > 0 ? status : undefined;
}
