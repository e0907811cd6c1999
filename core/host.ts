import { createServer, type Server as HttpServer } from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdir, readdir, rename } from 'node:fs/promises';
import { writeFileAtomic } from './util/atomic-write.js';
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ConfigStore, defaultConfigText, effectiveThreads, resolveDataDir, type HostConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { StartupRefused, errorMessage } from './errors.js';
import { BUILTIN_BINDINGS_PATH, BUILTIN_PERSONALITIES_PATH } from './util/package-root.js';
import { isLoopbackHost } from './http/access.js';
import { createLlamaEngine, type LlamaEngine } from './bindings/engine.js';
import { BindingManager } from './bindings/manager.js';
import { GenerationScheduler } from './generation/scheduler.js';
import { ClientRegistry } from './generation/clients.js';
import { PersonalityManager } from './personalities/manager.js';
import { InstallRegistry } from './bindings/installs.js';
import { attachSocketServer, type HostIo } from './socket.js';
import { handleHttpRequest } from './http/routes.js';
import { writeTestModel } from './models/gguf-writer.js';
import { installCatastrophicErrorHandler } from './sandbox/index.js';
import { HotReloader } from './plugins/hot-reload.js';
import { PluginWatcher } from './plugins/watcher.js';

/** Options of `startHost`. Every field is optional; the defaults serve like `lollms-host serve`. */
export interface HostOptions {
  /** Data dir: config, models, settings, caches. Default `LOLLMS_HOST_HOME` or `~/.lollms-host`. */
  dataDir?: string;
  /** Config file. Default `<dataDir>/config.yaml`, created on first start. */
  configFile?: string;
  /** Config values that win over the file and the environment, as command-line flags do. */
  config?: Partial<HostConfig>;
  /** Shorthand for `config.port`; 0 picks a free port. */
  port?: number;
  /** Shorthand for `config.host`. */
  host?: string;
  /** Environment read for `LOLLMS_HOST_<KEY>` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Replace the config file by the defaults before loading (`--reset_config`); the old one becomes `<file>.bak`. */
  resetConfig?: boolean;
  /** Logger to use; default one is made from `log_level`. */
  logger?: Logger;
}

/** The running host. `close()` stops it gracefully. */
export interface HostHandle {
  /** `http://<host>:<port>` */
  readonly url: string;
  readonly port: number;
  readonly host: Host;
  close(): Promise<void>;
}

/** Resolved folders the host serves from. */
export interface HostPaths {
  dataDir: string;
  configFile: string;
  modelsPath: string;
  cacheDir: string;
  bindings: string[];
  personalities: string[];
}

/** Start a host: load the config, serve HTTP + socket.io, then load the configured binding and model. */
export async function startHost(options: HostOptions = {}): Promise<HostHandle> {
  const host = await Host.create(options);
  await host.listen();
  await host.initialise();
  return { url: host.url, port: host.port, host, close: () => host.close() };
}

/** The composition root: owns the config, the plugins, the clients and the servers. */
export class Host {
  readonly config: ConfigStore;
  readonly logger: Logger;
  readonly paths: HostPaths;
  readonly engine: LlamaEngine;
  readonly bindings: BindingManager;
  readonly personalities: PersonalityManager;
  readonly scheduler: GenerationScheduler;
  readonly clients = new ClientRegistry();
  readonly installs: InstallRegistry;
  readonly reloader: HotReloader;
  /** The plugin watcher, when `watch` is on (after `initialise`). */
  watcher: PluginWatcher | undefined;
  readonly http: HttpServer;
  readonly io: HostIo;
  readonly startedAt = Date.now();
  /** Diagnostics for tests and tools: `prompt` {client, personality, prompt} is emitted with each model input. */
  readonly events = new EventEmitter();
  #closing: Promise<void> | undefined;
  #initialising: Promise<void> | undefined;

  private constructor(config: ConfigStore, logger: Logger, paths: HostPaths) {
    this.config = config;
    this.logger = logger;
    this.paths = paths;
    const values = config.values;
    this.engine = createLlamaEngine({ gpu: values.enable_gpu, threads: effectiveThreads(values), logger });
    this.bindings = new BindingManager({
      bindingsPaths: () => this.paths.bindings,
      modelsPath: paths.modelsPath,
      dataDir: paths.dataDir,
      cacheDir: join(paths.cacheDir, 'bindings'),
      engine: this.engine,
      gpu: values.enable_gpu,
      loadDefaults: () => ({ contextSize: values.ctx_size, sequences: values.parallel, threads: effectiveThreads(values) }),
      logger,
    });
    this.personalities = new PersonalityManager(this);
    this.scheduler = new GenerationScheduler(() => ({ slots: values.parallel, maxQueue: values.max_queue }));
    this.installs = new InstallRegistry();
    this.reloader = new HotReloader(this);
    this.http = createServer((req, res) => handleHttpRequest(this, req, res));
    this.io = attachSocketServer(this);
  }

  /** Load and validate the config, prepare the data dir. Refuses unsafe or broken settings. */
  static async create(options: HostOptions = {}): Promise<Host> {
    const env = options.env ?? process.env;
    const dataDir = resolveDataDir(options.dataDir, env);
    await mkdir(dataDir, { recursive: true });
    const configFile = resolve(options.configFile ?? join(dataDir, 'config.yaml'));
    if (options.resetConfig || !existsSync(configFile)) {
      await mkdir(resolve(configFile, '..'), { recursive: true });
      // Nothing is lost: a reset keeps the previous file as <config>.bak.
      if (existsSync(configFile)) await rename(configFile, `${configFile}.bak`);
      await writeFileAtomic(configFile, defaultConfigText(), { mode: 0o600 });
    }
    const cli: Partial<HostConfig> = { ...options.config };
    if (options.port !== undefined) cli.port = options.port;
    if (options.host !== undefined) cli.host = options.host;
    const config = await ConfigStore.load({ file: configFile, env, cli });
    const values = config.values;
    const logger = options.logger ?? createLogger({ level: values.log_level });
    if (!isLoopbackHost(values.host) && !values.api_key) {
      throw StartupRefused(
        `refusing to bind to ${values.host} without an API key: the socket is unencrypted and open to the network. ` +
          'Set --api-key or LOLLMS_HOST_API_KEY (clients then send it as auth.token or "Authorization: Bearer"), or bind to 127.0.0.1.',
      );
    }
    const modelsPath = resolve(values.models_path ?? join(dataDir, 'models'));
    const builtins = values.builtin_plugins;
    // Real paths, so that the watcher's paths and the loaders' (realpath-checked) folders compare equal.
    const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
    const paths: HostPaths = {
      dataDir,
      configFile,
      modelsPath,
      cacheDir: join(dataDir, 'cache'),
      bindings: [...(builtins ? [BUILTIN_BINDINGS_PATH] : []), ...values.bindings_paths].map(real),
      personalities: [...(builtins ? [BUILTIN_PERSONALITIES_PATH] : []), ...values.personalities_paths].map(real),
    };
    await mkdir(modelsPath, { recursive: true });
    // An isolate v8 lost control of cannot be recovered: log and exit non-zero so a supervisor restarts us.
    installCatastrophicErrorHandler(logger);
    return new Host(config, logger, paths);
  }

  get port(): number {
    return (this.http.address() as AddressInfo | null)?.port ?? this.config.values.port;
  }

  get url(): string {
    const h = this.config.values.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}`;
  }

  /** Start accepting connections. */
  async listen(): Promise<void> {
    const { host, port } = this.config.values;
    await new Promise<void>((resolveListen, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolveListen();
      });
    });
    this.logger.info(`Serving on address: ${this.url}`);
  }

  /**
   * Load the configured binding, model and personalities. Never interactive and never fatal: whatever is
   * missing is logged with the next step to take, and the host serves anyway.
   */
  initialise(): Promise<void> {
    this.#initialising ??= this.#initialise();
    return this.#initialising;
  }

  async #initialise(): Promise<void> {
    await this.#loadConfigured();
    if (this.config.values.watch) await this.startWatching();
  }

  /** Watch every plugin path and hot-reload what changes (`watch`, on by default with serve). */
  async startWatching(): Promise<void> {
    if (this.watcher || this.#closing) return;
    this.watcher = new PluginWatcher({
      bindingsPaths: this.paths.bindings,
      personalitiesPaths: this.paths.personalities,
      keyOf: (change) => this.reloader.keyOf(change),
      onChange: (change) => this.reloader.onChange(change),
      onError: (error) => this.logger.warn({ err: errorMessage(error) }, 'plugin watcher error'),
    });
    await this.watcher.ready;
    this.logger.info('watching plugins for changes');
  }

  async #loadConfigured(): Promise<void> {
    const values = this.config.values;
    await this.personalities.mountConfigured();
    if (!values.binding_name) {
      this.logger.warn('No binding selected. Next step: start with --binding_name llama_cpp, or send select_binding {binding_name}.');
      return;
    }
    try {
      await this.bindings.selectBinding(values.binding_name);
    } catch (error) {
      this.logger.error({ err: errorMessage(error) }, `binding "${values.binding_name}" could not be loaded; the host serves without one. Next step: fix it or send select_binding with another binding.`);
      return;
    }
    let modelName = values.model_name;
    if (!modelName) modelName = (await this.#provisionDefaultModel()) ?? null;
    if (!modelName) return;
    try {
      await this.bindings.selectModel(modelName);
      this.logger.info({ model: modelName, binding: values.binding_name }, 'model loaded');
    } catch (error) {
      this.logger.error({ err: errorMessage(error) }, `model "${modelName}" could not be loaded; the host serves without a model. Next step: send select_model with an installed model, or install one with \`lollms-host pull\`.`);
    }
  }

  /**
   * With no model configured: pick the only/first installed one, or, when the llama_cpp models dir is empty,
   * write the tiny random test model so that a fresh install answers generate_text out of the box.
   */
  async #provisionDefaultModel(): Promise<string | undefined> {
    const binding = this.bindings.activeBinding;
    if (!binding) return undefined;
    const models = await this.bindings.listModels();
    if (models.length > 0) {
      this.logger.warn(`No model selected. Installed models: ${models.map((m) => m.name).join(', ')}. Next step: send select_model or start with --model_name.`);
      return undefined;
    }
    if (binding !== 'llama_cpp') {
      this.logger.warn(`No model installed for binding "${binding}". Next step: install one with install_model or \`lollms-host pull\`.`);
      return undefined;
    }
    const dir = this.bindings.modelsDir();
    const entries = await readdir(dir).catch(() => []);
    if (entries.some((e) => e.endsWith('.gguf') || e.endsWith('.reference'))) return undefined;
    const name = TINY_MODEL_NAME;
    await writeTestModel(join(dir, name), { preset: 'tiny' });
    this.logger.warn(
      `No model was installed, so ${name} was written and selected: a random-weight TEST model that produces gibberish. ` +
        'Install a real one with `lollms-host pull <models.yaml filename or URL>` and select it (select_model or --model_name).',
    );
    await this.config.update({ model_name: name });
    return name;
  }

  /**
   * Graceful stop: stop accepting connections, cancel running generations (their clients get
   * `generation_canceled`), disconnect clients, then dispose models, isolates and the engine.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.logger.info('shutting down');
    await this.watcher?.close();
    this.reloader.dispose();
    const httpClosed = new Promise<void>((r) => this.http.close(() => r()));
    this.scheduler.rejectQueued(new Error('host is shutting down'));
    await this.clients.cancelAll();
    this.bindings.abortLoading();
    await this.#initialising?.catch(() => {});
    this.io.disconnectSockets(true);
    await new Promise<void>((r) => this.io.close(() => r()));
    this.http.closeAllConnections();
    await httpClosed;
    this.installs.cancelAll();
    await this.personalities.dispose();
    await this.bindings.dispose();
    await this.engine.dispose();
    this.logger.info('stopped');
  }
}

/** File name of the model written on a fresh install. */
export const TINY_MODEL_NAME = 'tiny-random-llama.gguf';
