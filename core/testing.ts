/**
 * `lollms-host/testing`: run your binding or personality in a real host, from a test, in a few lines.
 *
 * ```ts
 * import { startTestHost } from 'lollms-host/testing';
 *
 * const host = await startTestHost({ personalitiesPaths: ['/path/to/my/zoo'] });
 * const { id } = await host.addPersonality('english/custom/my_helper');
 * const result = await host.generate('Hello', { personality: id });
 * await host.close();
 * ```
 *
 * The host is the same one `lollms-host serve` runs (socket.io server, bindings, sandboxed processors, hot
 * reload), started on a free port of 127.0.0.1 with a temp data dir, CPU only, one engine thread, silent logs
 * and no `LOLLMS_HOST_*` variable of the environment leaking in. A random-weight tiny llama model is written
 * into the selected binding's models dir and loaded, so generations work with nothing downloaded; their text
 * is gibberish, so test the shape of an answer (steps, chunks, errors, your processor's own text), not its
 * meaning. Every call goes over a real socket.io connection, as a client's would.
 *
 * It works with any test runner (`node --test`, mocha, vitest...).
 */
import { copyFile, mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { io as connectClient, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { startHost, TINY_MODEL_NAME, type Host, type HostHandle } from './host.js';
import type { HostConfig } from './config.js';
import { errorMessage } from './errors.js';
import type { LoadedModel } from '../plugin-api/index.js';
import { TEST_MODEL_FORMAT, writeTestModel } from './bindings/test-model.js';
import type {
  BindingsListEntry,
  ClientToServerEvents,
  GenerationAsk,
  GenerationMessage,
  PersonalityInfo,
  PersonalitySettingsReply,
  SamplingParameters,
  ServerEventName,
  ServerPayload,
  ServerToClientEvents,
} from './protocol/index.js';

/** A socket.io client typed with the host's events. */
export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Options of `startTestHost`. Every one is optional. */
export interface TestHostOptions {
  /**
   * Folders of personalities (each holds `language/category/name/` or `category/name/` folders), searched
   * after the built-in `personalities/`. Pass the folder your personality lives in, three (or two) levels up.
   */
  personalitiesPaths?: string[];
  /** Folders of bindings (each holds `<binding>/binding_card.yaml`), searched after the built-in `plugins/`. */
  bindingsPaths?: string[];
  /**
   * The binding to select at start, by folder name. Default `llama_cpp`, the built-in one. `null` starts
   * without a binding (generations then fail with "No model loaded").
   */
  binding?: string | null;
  /**
   * The model to load at start. Default (`undefined`): the tiny random test model is written into the
   * binding's models dir as `tiny-random-llama.gguf` (see `TEST_MODEL_NAME`) and loaded. A string loads that
   * model name, as `listModels` of the binding lists it (put the file in `host.modelsDir()` first with a
   * `dataDir` of your own). `null` loads no model (for a binding that does not load GGUF files).
   */
  model?: string | null;
  /** Seed of the tiny model's random weights: the same seed gives the same file. Default 1. */
  modelSeed?: number;
  /**
   * Watch the plugin folders and hot-reload what changes, as `lollms-host serve` does. Default `false`:
   * a test that edits files and waits for `plugin_reloaded` turns it on.
   */
  watch?: boolean;
  /** Include the built-in `plugins/` and `personalities/`. Default `true`. */
  builtins?: boolean;
  /** Host log level: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`. Default `silent`. */
  logLevel?: HostConfig['log_level'];
  /**
   * Any other config value (see docs/configuration.md), e.g. `{ parallel: 2, ctx_size: 1024 }`. These win over
   * the test defaults (`port: 0`, `n_threads: 1`, `enable_gpu: false`, ...) and over the path, watch, builtins
   * and log options above. Choose the binding and model with `binding` and `model`, not with this.
   */
  config?: Partial<HostConfig>;
  /** Data dir (config, models, settings, caches). Default: a new temp folder, deleted by `close()`. A folder you pass is kept. */
  dataDir?: string;
  /** Default timeout of each request and generation, in ms. Default 60 000. */
  timeoutMs?: number;
}

/** Options of `TestHost.generate`. */
export interface TestGenerateOptions {
  /** Id of a mounted personality (see `addPersonality`); default -1, raw mode (the prompt goes to the model as is). */
  personality?: number;
  /** Most tokens to generate (`n_predicts`). Default 16, so that tests stay fast; the host's default is `n_predict`. */
  nPredicts?: number;
  /** Raw-mode sampling (`temperature`, `top_k`, `top_p`, `repeat_penalty`, `repeat_last_n`, `seed`); ignored in personality mode. */
  parameters?: SamplingParameters;
  /** The client to send from (default the host's own socket). Each client has its own discussion. */
  socket?: TestSocket;
  /** Give up after this many ms (the generation is cancelled). Default the host's `timeoutMs`. */
  timeoutMs?: number;
  /**
   * Answers the processor's questions (`ctx.ask` → `generation_ask`): return the answer, sent as
   * `generation_answer`. Without it (or when it returns `undefined`) questions stay unanswered and time out.
   */
  onAsk?: (question: GenerationAsk) => string | undefined | Promise<string | undefined>;
}

/** What one `generate` saw. */
export interface TestGeneration {
  /** `text_generated.text`: the answer (the chunks joined, unless a processor's workflow decides otherwise); `''` on an error. */
  text: string;
  /** Every `text_chunk.chunk`, in order. */
  chunks: string[];
  /** Every `generation_message` (steps, infos, `MSG_TYPE_FULL`, ...), in order. */
  messages: GenerationMessage[];
  /** Every `generation_ask` (the processor's questions), in order. */
  questions: GenerationAsk[];
  /** `generation_error.error` (or the busy message) when the generation failed. */
  error?: string;
}

/** A running test host. `close()` it (in `after`), or the process keeps running. */
export interface TestHost {
  /** `http://127.0.0.1:<port>`, for your own clients. */
  readonly url: string;
  readonly port: number;
  /** The temp data dir (or the one you passed). */
  readonly dataDir: string;
  /** The host object itself, for what the wire does not show (`host.paths`, `host.bindings`, `host.config`). */
  readonly host: Host;
  /** The host's own connected client, used by the methods below. */
  readonly socket: TestSocket;
  /** The models dir of a binding (default the active one): `<data dir>/models/<binding>/`. */
  modelsDir(binding?: string): string;
  /**
   * The loaded model, as the binding's `loadModel` returned it, to call directly: `generate` with `stop`,
   * `signal` and `onChunk`, which the wire does not expose. Throws when no model is loaded.
   */
  model(): LoadedModel;
  /** Another connected client (its own discussion); closed by `close()`. */
  connect(options?: Partial<ManagerOptions & SocketOptions>): Promise<TestSocket>;
  /**
   * Send `event` and resolve with the host's reply (the payload of its reply event, success or failure), using
   * a socket.io acknowledgement. Rejects on timeout.
   */
  request(event: keyof ClientToServerEvents, payload?: unknown, options?: { socket?: TestSocket; timeoutMs?: number }): Promise<unknown>;
  /** The next `event` the host sends to `socket` (default the host's own), e.g. `plugin_reloaded`. Rejects on timeout. */
  next<E extends ServerEventName>(event: E, options?: { socket?: TestSocket; timeoutMs?: number }): Promise<ServerPayload<E>>;
  /** `list_available_bindings`: every binding with its card and models. */
  listBindings(): Promise<BindingsListEntry[]>;
  /** `list_available_personalities`: `{language: {category: [info]}}`. */
  listPersonalities(): Promise<Record<string, Record<string, PersonalityInfo[]>>>;
  /**
   * `add_personality`: mount a personality and return its id for `generate`. `path` is a zoo path
   * (`english/custom/my_helper`) or the absolute folder of a personality inside one of `personalitiesPaths`.
   * Throws with the host's message when it fails to load (broken YAML, compile error, trial load...).
   */
  addPersonality(path: string): Promise<{ id: number; name: string }>;
  /** `select_binding`; throws with the host's message when the binding fails to load. */
  selectBinding(name: string): Promise<void>;
  /** `select_model` with the active binding; throws with the host's message when it fails. */
  selectModel(name: string): Promise<void>;
  /** `get_personality_settings` of a mounted personality: its values. */
  getSettings(id: number): Promise<Record<string, unknown>>;
  /** `set_personality_settings`: validated against the processor's template; throws with the host's message if refused. */
  setSettings(id: number, settings: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** `generate_text`, collecting chunks and messages until the answer or the error. Never throws for a generation error: see `error`. */
  generate(prompt: string, options?: TestGenerateOptions): Promise<TestGeneration>;
  /** `tokenize` with the loaded model. */
  tokenize(text: string): Promise<number[]>;
  /** `detokenize` with the loaded model. */
  detokenize(tokens: number[]): Promise<string>;
  /** `embed` with the loaded model. */
  embed(text: string): Promise<number[]>;
  /** Close the clients and the host (generations are cancelled, models and sandboxes freed) and delete the temp data dir. */
  close(): Promise<void>;
}

/** File name of the tiny test model `startTestHost` loads. */
export const TEST_MODEL_NAME = TINY_MODEL_NAME;

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_N_PREDICTS = 16;

/** Where generated tiny models are cached between runs (one file per seed and writer format). */
function tinyModelCacheFile(seed: number): string {
  return join(tmpdir(), 'lollms-host-test-models', `tiny-v${TEST_MODEL_FORMAT}-${seed}.gguf`);
}

/** The cached tiny model for `seed`, written first when missing (atomically: parallel runs never see a torn file). */
export async function tinyTestModel(seed = 1): Promise<string> {
  const file = tinyModelCacheFile(seed);
  if (await stat(file).then((s) => s.isFile() && s.size > 0, () => false)) return file;
  await mkdir(join(file, '..'), { recursive: true });
  await writeTestModel(file, { preset: 'tiny', seed });
  return file;
}

/** Connect a typed socket.io client to `url` (websocket, no reconnection). Rejects with the server's message if refused. */
export async function connectTestClient(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<TestSocket> {
  const socket: TestSocket = connectClient(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
  await new Promise<void>((resolveConnect, reject) => {
    socket.once('connect', () => resolveConnect());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** The next `event` on `socket`, or a rejection after `timeoutMs`. */
export function nextEvent<E extends ServerEventName>(socket: TestSocket, event: E, timeoutMs = 10_000): Promise<ServerPayload<E>> {
  const on = socket.once as (e: string, fn: (payload: ServerPayload<E>) => void) => void;
  const off = socket.off as (e: string, fn: (payload: ServerPayload<E>) => void) => void;
  return new Promise((resolveEvent, reject) => {
    const timer = setTimeout(() => {
      off.call(socket, event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    // A wait that lost a race (text_generated vs generation_error) must not keep the process alive.
    timer.unref();
    const onEvent = (payload: ServerPayload<E>) => {
      clearTimeout(timer);
      resolveEvent(payload);
    };
    on.call(socket, event, onEvent);
  });
}

/** Send `event` with an acknowledgement; resolves with the reply payload. */
function ask(socket: TestSocket, event: keyof ClientToServerEvents, payload: unknown, timeoutMs: number): Promise<unknown> {
  const emit = socket.timeout(timeoutMs).emitWithAck as unknown as (e: string, ...args: unknown[]) => Promise<unknown>;
  return emit.call(socket.timeout(timeoutMs), event, payload ?? {}).catch((error: unknown) => {
    throw new Error(`no reply to "${event}" within ${timeoutMs} ms (${errorMessage(error)})`);
  });
}

/** Throw the host's message when a reply is a failure `{success: false, error}`. */
function ensureSuccess<T>(event: string, reply: unknown): T {
  const r = reply as { success?: unknown; error?: unknown } | null;
  if (r && typeof r === 'object' && r.success === false) throw new Error(`${event} failed: ${String(r.error)}`);
  return reply as T;
}

/** Start a host for a test; see the module comment and `TestHostOptions`. */
export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = resolve(options.dataDir ?? (await mkdtemp(join(tmpdir(), 'lollms-host-test-'))));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const binding = options.binding === undefined ? 'llama_cpp' : options.binding;
  let handle: HostHandle | undefined;
  const sockets: TestSocket[] = [];
  const cleanup = async () => {
    for (const socket of sockets) socket.close();
    await handle?.close();
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    handle = await startHost({
      dataDir,
      env: {},
      config: {
        host: '127.0.0.1',
        port: 0,
        n_threads: 1,
        enable_gpu: false,
        log_level: options.logLevel ?? 'silent',
        watch: options.watch ?? false,
        builtin_plugins: options.builtins ?? true,
        bindings_paths: (options.bindingsPaths ?? []).map((p) => resolve(p)),
        personalities_paths: (options.personalitiesPaths ?? []).map((p) => resolve(p)),
        ...options.config,
        // The binding and model are selected below, so that a failure throws with its reason.
        binding_name: null,
        model_name: null,
      },
    });
    const host = handle.host;
    if (binding !== null) {
      await host.selection.selectBinding(binding).catch((error: unknown) => {
        throw new Error(`binding "${binding}" failed to load: ${errorMessage(error)}`, { cause: error });
      });
      let model = options.model;
      if (model === undefined) {
        await copyFile(await tinyTestModel(options.modelSeed ?? 1), join(host.bindings.modelsDir(binding), TEST_MODEL_NAME));
        model = TEST_MODEL_NAME;
      }
      if (model !== null) {
        const name = model;
        await host.selection.selectModel(name).catch((error: unknown) => {
          throw new Error(`model "${name}" of binding "${binding}" failed to load: ${errorMessage(error)}`, { cause: error });
        });
      }
    }
    const socket = await connectTestClient(handle.url);
    sockets.push(socket);
    return makeTestHost(handle, { dataDir, socket, sockets, timeoutMs, cleanup });
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

function makeTestHost(
  handle: HostHandle,
  state: { dataDir: string; socket: TestSocket; sockets: TestSocket[]; timeoutMs: number; cleanup: () => Promise<void> },
): TestHost {
  const { socket, sockets, timeoutMs } = state;
  const host = handle.host;
  let closing: Promise<void> | undefined;
  const send = (event: keyof ClientToServerEvents, payload?: unknown, o: { socket?: TestSocket; timeoutMs?: number } = {}) =>
    ask(o.socket ?? socket, event, payload, o.timeoutMs ?? timeoutMs);

  const testHost: TestHost = {
    url: handle.url,
    port: handle.port,
    dataDir: state.dataDir,
    host,
    socket,
    modelsDir: (binding?: string) => host.bindings.modelsDir(binding),
    model() {
      const active = host.bindings.model;
      if (!active) throw new Error('no model is loaded (see the binding and model options of startTestHost)');
      return active.model;
    },
    async connect(options = {}) {
      const extra = await connectTestClient(handle.url, options);
      sockets.push(extra);
      return extra;
    },
    request: send,
    next: (event, o = {}) => nextEvent(o.socket ?? socket, event, o.timeoutMs ?? timeoutMs),
    async listBindings() {
      return ensureSuccess<{ bindings: BindingsListEntry[] }>('list_available_bindings', await send('list_available_bindings')).bindings;
    },
    async listPersonalities() {
      const reply = ensureSuccess<{ personalities: Record<string, Record<string, PersonalityInfo[]>> }>('list_available_personalities', await send('list_available_personalities'));
      return reply.personalities;
    },
    async addPersonality(path) {
      const zooPath = isAbsolute(path) ? await zooPathOf(host, path) : path;
      const reply = ensureSuccess<{ id: number; name: string }>('add_personality', await send('add_personality', { path: zooPath }));
      return { id: reply.id, name: reply.name };
    },
    async selectBinding(name) {
      ensureSuccess('select_binding', await send('select_binding', { binding_name: name }));
    },
    async selectModel(name) {
      ensureSuccess('select_model', await send('select_model', { model_name: name }));
    },
    async getSettings(id) {
      const reply = ensureSuccess<Extract<PersonalitySettingsReply, { success: true }>>('get_personality_settings', await send('get_personality_settings', { id }));
      return reply.settings as Record<string, unknown>;
    },
    async setSettings(id, settings) {
      const reply = ensureSuccess<Extract<PersonalitySettingsReply, { success: true }>>('set_personality_settings', await send('set_personality_settings', { id, settings }));
      return reply.settings as Record<string, unknown>;
    },
    async generate(prompt, options = {}) {
      const client = options.socket ?? socket;
      const chunks: string[] = [];
      const messages: GenerationMessage[] = [];
      const questions: GenerationAsk[] = [];
      const onChunk = (c: { chunk: string }) => chunks.push(c.chunk);
      const onMessage = (m: GenerationMessage) => messages.push(m);
      const onQuestion = (q: GenerationAsk) => {
        questions.push(q);
        void (async () => {
          const answer = await options.onAsk?.(q);
          if (typeof answer === 'string') await ask(client, 'generation_answer', { request_id: q.request_id, answer }, timeoutMs);
        })().catch(() => {});
      };
      client.on('text_chunk', onChunk);
      client.on('generation_message', onMessage);
      client.on('generation_ask', onQuestion);
      const limit = options.timeoutMs ?? timeoutMs;
      try {
        const payload = {
          prompt,
          personality: options.personality ?? -1,
          n_predicts: options.nPredicts ?? DEFAULT_N_PREDICTS,
          ...(options.parameters ? { parameters: options.parameters } : {}),
        };
        let reply: unknown;
        try {
          reply = await ask(client, 'generate_text', payload, limit);
        } catch (error) {
          client.emit('cancel_generation');
          throw new Error(`generate: no answer within ${limit} ms; the generation was cancelled`, { cause: error });
        }
        const r = reply as { text?: unknown; error?: unknown; message?: unknown };
        if (typeof r.text === 'string') return { text: r.text, chunks, messages, questions };
        return { text: '', chunks, messages, questions, error: String(r.error ?? r.message ?? 'unknown error') };
      } finally {
        client.off('text_chunk', onChunk);
        client.off('generation_message', onMessage);
        client.off('generation_ask', onQuestion);
      }
    },
    async tokenize(text) {
      return ensureSuccess<{ tokens: number[] }>('tokenize', await send('tokenize', { prompt: text })).tokens;
    },
    async detokenize(tokens) {
      return ensureSuccess<{ text: string }>('detokenize', await send('detokenize', { prompt: tokens })).text;
    },
    async embed(text) {
      return ensureSuccess<{ text: number[] }>('embed', await send('embed', { prompt: text })).text;
    },
    close() {
      closing ??= state.cleanup();
      return closing;
    },
  };
  return testHost;
}

/** `language/category/name` (or `category/name`) of an absolute personality folder, from the host's personalities paths. */
async function zooPathOf(host: Host, folder: string): Promise<string> {
  const real = await realpath(folder).catch(() => {
    throw new Error(`addPersonality: folder ${folder} does not exist`);
  });
  // Later paths win in the zoo, so look there first.
  for (const root of [...host.paths.personalities].reverse()) {
    const rel = relative(root, real);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  throw new Error(
    `addPersonality: ${folder} is not inside a personalities path of this host (${host.paths.personalities.join(', ')}); ` +
      'pass the folder that holds its language/category/name (or category/name) folders in personalitiesPaths',
  );
}
