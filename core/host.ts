import { createServer, type Server as HttpServer } from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdir, readdir } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ConfigStore, bindingsPathsOf, effectiveThreads, ensureConfigFile, modelsPathOf, personalitiesPathsOf, resolveDataDir, type HostConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { StartupRefused, errorMessage } from './errors.js';
import { BUILTIN_BINDINGS_PATH, BUILTIN_PERSONALITIES_PATH } from './util/package-root.js';
import { isLoopbackHost } from './transports/access.js';
import { checkSecurityConfig } from './transports/security-config.js';
import { clientPluginError, clientPluginReloaded, clientPluginWarning } from './protocol/client-plugin-error.js';
import { createLlamaEngine, type LlamaEngine } from './bindings/engine.js';
import { BindingManager } from './bindings/manager.js';
import { Selection } from './bindings/selection.js';
import { ZooCache } from './personalities/zoo.js';
import { TEST_MODEL_NAME } from './bindings/test-model-name.js';
import { InstallRegistry } from './bindings/installs.js';
import { writeTestModel } from './bindings/test-model.js';
import { GenerationScheduler } from './generation/scheduler.js';
import { GenerationService, type PromptEvent } from './generation/service.js';
import { PersonalityManager } from './personalities/manager.js';
import { SocketTransport, type HostIo } from './transports/socket/server.js';
import type { ClientRegistry } from './transports/socket/clients.js';
import { handleHttpRequest } from './transports/http/routes.js';
import type { HttpDeps } from './transports/http/deps.js';
import { installCatastrophicErrorHandler, SandboxPool } from './sandbox/index.js';
import { HotReloader } from './hot-reload/reloader.js';
import { PluginWatcher } from './hot-reload/watcher.js';
import { commandHint, type DataLocation } from './util/cli-hint.js';
import { keepAliveMs } from './util/duration.js';
import { HostMetrics } from './metrics/host-metrics.js';

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

/**
 * The composition root: it builds every part with the few things that part uses, and wires them. Nothing
 * below imports this file (a test checks); the CLI, `lollms-host/testing`, the public index and the benches do.
 */
export class Host {
  readonly config: ConfigStore;
  readonly logger: Logger;
  readonly paths: HostPaths;
  readonly engine: LlamaEngine;
  readonly bindings: BindingManager;
  /** Select a binding or model and save the choice (`select_*` events, `update_setting`). */
  readonly selection: Selection;
  readonly personalities: PersonalityManager;
  /** The personalities' sandbox processes: idle ones are ended, their number bounded (issue 18). */
  readonly sandboxPool: SandboxPool;
  /** The Prometheus metrics (`GET /metrics`). */
  readonly metrics: HostMetrics;
  readonly scheduler: GenerationScheduler;
  /** Every generation of every transport goes through it. */
  readonly generation: GenerationService;
  readonly installs: InstallRegistry;
  readonly reloader: HotReloader;
  /** Parsed personality configs between listings; trusted as they are while the watcher runs. */
  readonly zoo = new ZooCache();
  /** The plugin watcher, when `watch` is on (after `initialise`). */
  watcher: PluginWatcher | undefined;
  readonly http: HttpServer;
  /** The LoLLMs socket.io transport. */
  readonly socket: SocketTransport;
  /** Diagnostics for tests and tools: `prompt` ({@link PromptEvent}) is emitted with each model input. */
  readonly events = new EventEmitter();
  #closing: Promise<void> | undefined;
  #initialising: Promise<void> | undefined;

  private constructor(config: ConfigStore, logger: Logger, paths: HostPaths) {
    this.config = config;
    this.logger = logger;
    this.paths = paths;
    const values = () => config.values;
    // Read at scrape time only, once every part below exists.
    const metrics = new HostMetrics({
      slots: () => scheduler.snapshot().slots,
      queueDepth: () => scheduler.queued,
      sandboxProcesses: () => sandboxPool.processes,
      sandboxPids: () => sandboxPool.pids(),
      modelLoaded: () => bindings.model !== undefined,
      isMounted: (path) => personalities.mounted.some((m) => m.path === path && !m.removed),
    });
    const engine = createLlamaEngine({ gpu: values().enable_gpu, threads: effectiveThreads(values()), logger });
    const bindings = new BindingManager({
      bindingsPaths: () => paths.bindings,
      modelsPath: paths.modelsPath,
      dataDir: paths.dataDir,
      cacheDir: join(paths.cacheDir, 'bindings'),
      engine,
      gpu: values().enable_gpu,
      loadDefaults: () => ({ contextSize: values().ctx_size, sequences: values().parallel, threads: effectiveThreads(values()) }),
      logger,
      keepAliveMs: () => keepAliveMs(values().keep_alive) ?? -1,
      observer: metrics.models,
    });
    const selection = new Selection({ bindings, config });
    const sandboxPool = new SandboxPool({ idleMs: () => values().sandbox_idle_ms, maxProcesses: () => values().sandbox_max_processes, observer: metrics.sandbox });
    const personalities = new PersonalityManager({
      personalitiesPaths: paths.personalities,
      dataDir: paths.dataDir,
      config,
      logger,
      sandboxPool,
      // Settings bounds such as `max: ctx_size` follow the loaded model's context (the config's without one).
      contextSize: () => bindings.model?.model.contextSize ?? values().ctx_size,
    });
    const scheduler = new GenerationScheduler(() => ({
      slots: values().parallel,
      maxQueue: values().max_queue,
      // HTTP clients wait even with max_queue 0: an OpenAI client expects its request served, not refused.
      maxWaiting: Math.max(values().max_queue, values().http_max_queue),
      maxQueuedPerClient: values().max_queue_per_client,
    }), metrics.scheduler);
    const generation = new GenerationService({
      scheduler,
      models: bindings,
      personalities,
      settings: values,
      logger,
      onPrompt: (event: PromptEvent) => this.events.emit('prompt', event),
      observer: metrics.generation,
    });
    const installs = new InstallRegistry(() => values().install_max_concurrent);
    // The HTTP server first (socket.io attaches to it); its handler reads `httpDeps`, complete before any request.
    let httpDeps: HttpDeps | undefined;
    const http = createServer((req, res) => void handleHttpRequest(httpDeps!, req, res));
    const socket = new SocketTransport(http, {
      generation,
      bindings,
      selection,
      personalities,
      personalitiesPaths: paths.personalities,
      zoo: this.zoo,
      installs,
      access: values,
      installConfig: values,
      logger,
    });
    const reloader = new HotReloader({
      bindings,
      personalities,
      notify: {
        pluginError: (event) => socket.broadcast('plugin_error', clientPluginError(event, paths)),
        pluginReloaded: (event) => socket.broadcast('plugin_reloaded', clientPluginReloaded(event, paths)),
        pluginWarning: (event) => socket.broadcast('plugin_warning', clientPluginWarning(event, paths)),
      },
      logger,
      onReload: metrics.reloaded,
    });
    httpDeps = {
      config,
      bindings,
      selection,
      personalities,
      generation,
      personalitiesPaths: paths.personalities,
      zoo: this.zoo,
      reloads: reloader,
      engine,
      modelsPath: paths.modelsPath,
      isTestModel: (name) => name === TINY_MODEL_NAME,
      metrics,
      logger,
    };
    this.engine = engine;
    this.bindings = bindings;
    this.selection = selection;
    this.personalities = personalities;
    this.sandboxPool = sandboxPool;
    this.metrics = metrics;
    this.scheduler = scheduler;
    this.generation = generation;
    this.installs = installs;
    this.http = http;
    this.socket = socket;
    this.reloader = reloader;
  }

  /** The socket.io server. */
  get io(): HostIo {
    return this.socket.io;
  }

  /** The connected socket clients. */
  get clients(): ClientRegistry {
    return this.socket.clients;
  }

  /** Load and validate the config, prepare the data dir. Refuses unsafe or broken settings. */
  static async create(options: HostOptions = {}): Promise<Host> {
    const env = options.env ?? process.env;
    const dataDir = resolveDataDir(options.dataDir, env);
    await mkdir(dataDir, { recursive: true });
    const configFile = resolve(options.configFile ?? join(dataDir, 'config.yaml'));
    // Nothing is lost: a reset keeps the previous file as <config>.bak.
    await ensureConfigFile(configFile, options.resetConfig);
    const cli: Partial<HostConfig> = { ...options.config };
    if (options.port !== undefined) cli.port = options.port;
    if (options.host !== undefined) cli.host = options.host;
    const config = await ConfigStore.load({ file: configFile, env, cli });
    const values = config.values;
    const logger = options.logger ?? createLogger({ level: values.log_level });
    for (const warning of config.warnings) logger.warn(warning);
    if (!isLoopbackHost(values.host) && !values.api_key) {
      throw StartupRefused(
        `refusing to bind to ${values.host} without an API key: the socket is unencrypted and open to the network. ` +
          'Set --api-key or LOLLMS_HOST_API_KEY (clients then send it as auth.token or "Authorization: Bearer"), or bind to 127.0.0.1.',
      );
    }
    checkSecurityConfig(values, logger);
    const modelsPath = modelsPathOf(values, dataDir);
    const builtins = values.builtin_plugins;
    // Real paths, so that the watcher's paths and the loaders' (realpath-checked) folders compare equal.
    const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
    const paths: HostPaths = {
      dataDir,
      configFile,
      modelsPath,
      cacheDir: join(dataDir, 'cache'),
      bindings: bindingsPathsOf(values).map(real),
      personalities: personalitiesPathsOf(values).map(real),
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
      onEvent: (change) => {
        if (change.kind === 'personality') this.zoo.changed();
      },
      onChange: (change) => this.reloader.onChange(change),
      onError: (error) => this.logger.warn({ err: errorMessage(error) }, 'plugin watcher error'),
    });
    await this.watcher.ready;
    this.zoo.watched = true;
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
      // The binding logs "model loaded" with its details; a second line here would repeat it.
      await this.bindings.selectModel(modelName);
    } catch (error) {
      const at = this.#dataLocation();
      this.logger.error(
        { err: errorMessage(error) },
        `model "${modelName}" could not be loaded; the host serves without a model. Next step: ${commandHint('list', at)} shows the installed models, ` +
          `${commandHint('use <model>', at)} selects one for the next start (or send select_model), ${commandHint('pull <models.yaml filename or URL>', at)} installs one.`,
      );
    }
  }

  /** This host's data, for the flags of the CLI commands its hints name. */
  #dataLocation(): DataLocation {
    const { dataDir, configFile, modelsPath } = this.paths;
    return { dataDir, configFile, modelsPath, binding: this.bindings.activeBinding ?? this.config.values.binding_name };
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
      this.logger.warn(
        `No model selected. Installed models: ${models.map((m) => m.name).join(', ')}. Next step: ${commandHint('use <model>', this.#dataLocation())} ` +
          'and start again, or start with --model_name <model>, or send select_model.',
      );
      return undefined;
    }
    if (binding !== 'llama_cpp') {
      this.logger.warn(`No model installed for binding "${binding}". Next step: ${commandHint('pull <models.yaml filename or URL>', this.#dataLocation())}, or send install_model.`);
      return undefined;
    }
    const dir = this.bindings.modelsDir();
    const entries = await readdir(dir).catch(() => []);
    if (entries.some((e) => e.endsWith('.gguf') || e.endsWith('.reference'))) return undefined;
    const name = TINY_MODEL_NAME;
    await writeTestModel(join(dir, name), { preset: 'tiny' });
    this.logger.warn(
      `No model was installed, so ${name} was written and selected: a random-weight TEST model that produces gibberish. ` +
        `Install a real one with ${commandHint('pull <models.yaml filename or URL>', this.#dataLocation())}, then select it with ` +
        `${commandHint('use <model>', this.#dataLocation())} and start again (or send select_model).`,
    );
    await this.config.update({ model_name: name });
    return name;
  }

  /**
   * Graceful stop: no generation starts from the first moment (new ones fail with `LH_ERR_CLOSED`); running and
   * queued ones are cancelled (their socket clients get `generation_canceled`) and waited for; then the
   * servers stop, and models, sandboxes and the engine are disposed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.logger.info('shutting down');
    // In one tick, before anything awaits: the clients are told, and the gate closes behind them.
    this.socket.cancelGenerations();
    const generationsEnded = this.generation.close();
    this.bindings.abortLoading();
    await this.watcher?.close();
    this.zoo.watched = false;
    // Background type checks of reloaded plugins stop with the watcher.
    this.reloader.dispose();
    const httpClosed = new Promise<void>((r) => this.http.close(() => r()));
    await generationsEnded;
    await this.#initialising?.catch(() => {});
    await this.socket.close();
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
export const TINY_MODEL_NAME = TEST_MODEL_NAME;
