import { createServer, type Server as HttpServer } from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ConfigStore, bindingsPathsOf, effectiveThreads, ensureConfigFile, modelsPathOf, personalitiesPathsOf, resolveDataDir, textLimitsOf, type HostConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { EngineUnavailable, StartupRefused, errorCode, errorMessage } from './errors.js';
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
import { bindingSettingsTemplate } from './bindings/settings-template.js';
import { PersonalitySettingsStore } from './personalities/settings.js';
import { writeTestModel } from './bindings/test-model.js';
import { chooseStartupModel, isTestModel, withInstallTimes } from './bindings/startup-model.js';
import { GenerationScheduler } from './generation/scheduler.js';
import { GenerationService, type PromptEvent } from './generation/service.js';
import { PersonalityManager } from './personalities/manager.js';
import { SocketTransport, type HostIo } from './transports/socket/server.js';
import { TurnGate } from './util/turn-gate.js';
import type { ClientRegistry } from './transports/socket/clients.js';
import { handleHttpRequest } from './transports/http/routes.js';
import type { HttpDeps } from './transports/http/deps.js';
import { installCatastrophicErrorHandler, SandboxPool } from './sandbox/index.js';
import { HotReloader } from './hot-reload/reloader.js';
import { PluginWatcher } from './hot-reload/watcher.js';
import { SettingsWatcher } from './hot-reload/settings-watcher.js';
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
  /** Saved binding settings (`<dataDir>/settings/bindings/`): what bindings read at load and `set_binding_settings` writes. */
  readonly bindingSettings: PersonalitySettingsStore;
  /** Watches the binding settings files when `watch` is on: a hand edit applies without a restart. */
  settingsWatcher: SettingsWatcher | undefined;
  readonly http: HttpServer;
  /** The LoLLMs socket.io transport. */
  readonly socket: SocketTransport;
  /**
   * Diagnostics for tests and tools: `prompt` ({@link PromptEvent}) is emitted with each model input, and
   * `binding-settings` (the binding's name) once a hand-edited settings file was applied.
   */
  readonly events = new EventEmitter();
  #closing: Promise<void> | undefined;
  #initialising: Promise<void> | undefined;
  /** Ends the start-up hold on readiness (`/health` says `starting`, requests wait) once the start-up model is decided. */
  #releaseStartup: (() => void) | undefined;

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
      remoteEndpoints: () => bindings.model?.model.status?.().endpoints ?? [],
    });
    const engine = createLlamaEngine({ gpu: values().enable_gpu, threads: effectiveThreads(values()), logger });
    // Binding settings: the card's template, the values saved in the data dir (validated, migrated), one store
    // for what bindings read at load and what set_binding_settings writes.
    const bindingSettings = (this.bindingSettings = new PersonalitySettingsStore({ dataDir: paths.dataDir, kind: 'binding', maxValueBytes: () => values().personality_setting_max_bytes }));
    const bindings = new BindingManager({
      bindingsPaths: () => paths.bindings,
      modelsPath: paths.modelsPath,
      dataDir: paths.dataDir,
      cacheDir: join(paths.cacheDir, 'bindings'),
      engine,
      gpu: values().enable_gpu,
      loadDefaults: () => ({ contextSize: values().ctx_size, sequences: values().parallel, threads: effectiveThreads(values()) }),
      waitMs: () => values().model_wait_ms,
      settingsOf: async (plugin) => {
        const { values: settings, warnings } = await bindingSettings.get(plugin.name, bindingSettingsTemplate(plugin.card));
        for (const warning of warnings) logger.warn({ binding: plugin.name }, warning);
        return settings;
      },
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
    // Token requests (the tokenize, detokenize and embed events) take turns here (issue 11 §3); an HTTP route that
    // tokenizes for a client should run through it too.
    const tokenGate = new TurnGate();
    const socket = new SocketTransport(http, {
      generation,
      bindings,
      selection,
      personalities,
      personalitiesPaths: paths.personalities,
      zoo: this.zoo,
      bindingSettings,
      installs,
      access: values,
      installConfig: values,
      textLimits: () => textLimitsOf(values()),
      tokenGate,
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
      isTestModel,
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

  /**
   * Start accepting connections. Until `initialise` has loaded the start-up model (or failed to), `/health` says
   * `starting` or `loading` and requests that need a model wait for it (`model_wait_ms`).
   */
  async listen(): Promise<void> {
    this.#releaseStartup ??= this.bindings.holdForStartup();
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
    try {
      await this.#loadConfigured();
    } finally {
      this.#releaseStartup?.();
    }
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
    this.settingsWatcher = await SettingsWatcher.start({
      folder: this.bindingSettings.folder,
      onChange: (file) => {
        const active = this.bindings.activeBinding;
        if (active === undefined || file !== this.bindingSettings.fileFor(active) || this.#closing) return;
        this.bindings.reloadSettings(active, { ifChanged: true }).then(
          (reloaded) => {
            if (!reloaded) return;
            this.logger.info({ binding: active }, 'binding settings changed on disk: binding reloaded with them');
            this.events.emit('binding-settings', active);
          },
          (error: unknown) => this.logger.warn({ binding: active, err: errorMessage(error) }, 'binding settings changed on disk, but the reload failed'),
        );
      },
      onError: (error) => this.logger.warn({ err: errorMessage(error) }, 'settings watcher error'),
    });
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
    const modelName = await this.#startupModel();
    if (!modelName) return;
    try {
      // The binding logs "model loaded" with its details; a second line here would repeat it.
      await this.bindings.selectModel(modelName);
    } catch (error) {
      const at = this.#dataLocation();
      const retried = errorCode(error) === EngineUnavailable.code ? ' It is loaded again in the background and by the next request that needs it.' : '';
      this.logger.error(
        { err: errorMessage(error) },
        `model "${modelName}" could not be loaded; the host serves without a model.${retried} Next step: ${commandHint('list', at)} shows the installed models, ` +
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
   * The model this start serves, by the rule of `chooseStartupModel` (a real model before the test model). When
   * nothing is installed for llama_cpp, the tiny random test model is written so that a fresh install answers
   * generate_text out of the box; it is not saved as `model_name`, so the first real model installed serves next.
   */
  async #startupModel(): Promise<string | undefined> {
    const binding = this.bindings.activeBinding;
    if (!binding) return undefined;
    const configured = this.config.values.model_name;
    const at = this.#dataLocation();
    const installed = await withInstallTimes(await this.bindings.listModels(), this.bindings.modelsDir());
    const choice = chooseStartupModel(installed, configured);
    if (choice.reason === 'last-installed' && configured !== null) {
      const why = isTestModel(configured) ? 'is the test model, and a real model is installed' : 'is not installed';
      this.logger.warn(`model_name "${configured}" ${why}: serving ${choice.model}, the real model installed last. ${commandHint('use <model>', at)} selects another.`);
    } else if (choice.reason === 'configured' || choice.reason === 'last-installed') {
      this.logger.info({ model: choice.model, rule: choice.reason }, `serving ${choice.model} (${choice.reason === 'configured' ? 'model_name' : 'the real model installed last'})`);
    }
    if (choice.model && choice.reason !== 'test-model') return choice.model;
    if (configured !== null && !isTestModel(configured)) this.logger.warn(`model_name "${configured}" is not installed for binding "${binding}".`);
    if (!choice.model) {
      if (binding !== 'llama_cpp') {
        this.logger.warn(`No model installed for binding "${binding}". Next step: ${commandHint('pull <models.yaml filename or URL>', at)}, or send install_model.`);
        return undefined;
      }
      await writeTestModel(join(this.bindings.modelsDir(), TINY_MODEL_NAME), { preset: 'tiny' });
    }
    this.logger.warn(
      `serving ${TINY_MODEL_NAME}, a random-weight TEST model that produces gibberish, because no real model is installed. ` +
        `Install one with ${commandHint('pull <models.yaml filename or URL>', at)}: the first real model pulled serves from the next start (or send select_model now).`,
    );
    return TINY_MODEL_NAME;
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
    this.#releaseStartup?.();
    await this.watcher?.close();
    await this.settingsWatcher?.close();
    this.zoo.watched = false;
    // Background type checks of reloaded plugins stop with the watcher.
    this.reloader.dispose();
    await generationsEnded;
    await this.#initialising?.catch(() => {});
    // The socket first, while the HTTP server still listens: a long-polling client fetches its last packets
    // (`generation_canceled`) with a new request. Closing the HTTP server first would refuse that request, and
    // its 'close' event makes engine.io drop every connection unsent.
    await this.socket.close();
    const httpClosed = new Promise<void>((r) => this.http.close(() => r()));
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
