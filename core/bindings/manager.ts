import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { BindingContext, LoadedModel, ModelFile } from '../../plugin-api/index.js';
import { BindingNotFound, EngineUnavailable, ModelLoadFailed, ModelNotFound, ModelStillLoading, NoBindingSelected, NoModelLoaded, LollmsHostError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { pluginLogger } from '../logger.js';
import { discoverBindings, type BindingFolder } from '../plugins/discovery.js';
import { readBindingManifest, type BindingManifest } from '../plugins/manifest.js';
import { loadBindingPlugin, type LoadedBindingPlugin } from '../plugins/load-binding.js';
import { SerialQueue } from '../util/serial.js';
import { Versioned, type Lease } from '../util/versioned.js';
import type { LlamaEngine } from './engine.js';
import { ChangeSignal } from './change-signal.js';
import { ModelResidency, type ResidencyTimers } from './residency.js';
import { bindingSettingsTemplate, settingDefaults } from './settings-template.js';

/** A loaded model together with the binding version that loaded it. */
export interface ActiveModel {
  /** Model name as listed by the binding. */
  name: string;
  /** Binding folder name. */
  binding: string;
  model: LoadedModel;
}

export interface BindingManagerOptions {
  /** Folders that hold bindings, in order; a later folder's binding of the same name wins. */
  bindingsPaths: () => string[];
  /** `<models_path>`; each binding gets `<models_path>/<binding>/`. */
  modelsPath: string;
  /** Where binding settings go (`<dataDir>/settings/bindings/`). */
  dataDir: string;
  /** Where compiled binding modules go. */
  cacheDir: string;
  /** The host's shared llama.cpp engine. */
  engine: LlamaEngine;
  /** Whether the engine may use a GPU. */
  gpu: boolean;
  /** Values of the load request the host makes for every model. */
  loadDefaults: () => { contextSize: number; sequences: number; threads: number };
  /**
   * How long `leaseModel` waits for a model that is loading, in ms (config `model_wait_ms`), read at each call.
   * Default {@link DEFAULT_MODEL_WAIT_MS}.
   */
  waitMs?: () => number;
  /**
   * First delay of the background retry of a model whose load failed because the engine did not start
   * (`LH_ERR_ENGINE`), in ms; doubled after each failed retry, at most {@link MAX_RETRY_DELAY_MS}. Default 30 s.
   */
  retryDelayMs?: number;
  /**
   * The settings a binding gets in its context (`ctx.settings`), read at each load of the binding. Default: the
   * card's `settings` overlaid with `<dataDir>/settings/bindings/<name>.yaml`. The host passes the validated
   * store (the same one `set_binding_settings` writes).
   */
  settingsOf?: (plugin: LoadedBindingPlugin) => Promise<Record<string, unknown>>;
  logger: Logger;
  /**
   * `keep_alive` in ms, read whenever the model becomes idle (issue 18): a model unused that long is unloaded
   * and loaded again by the next request (`leaseModel`); 0 unloads it at once; negative (the default) keeps it.
   */
  keepAliveMs?: () => number;
  /** Timers of the keep-alive clock (tests). */
  residencyTimers?: ResidencyTimers;
  /** Told of model loads and unloads (metrics). */
  observer?: ModelObserver;
}

/** What the manager reports about models (metrics). */
export interface ModelObserver {
  /** A model finished loading (`ms`: how long it took); `reason` says why it was loaded. */
  loaded?(model: string, ms: number, reason: 'select' | 'reload' | 'wake'): void;
  /** A model was unloaded after `keep_alive` without use. */
  unloaded?(model: string): void;
}

/** Default of `model_wait_ms`: long enough for a large model to load from disk. */
export const DEFAULT_MODEL_WAIT_MS = 120_000;
/** The longest wait between two background retries of a load that failed for want of the engine. */
export const MAX_RETRY_DELAY_MS = 10 * 60_000;

/**
 * Where the model stands, for `/health` and `GET /status`:
 * - `starting`: the host has not yet begun to load its start-up model;
 * - `loading`: no model serves, and one is loading (the start-up model, a `select_model`, an engine retry);
 * - `ready`: a model serves (another may be loading to replace it);
 * - `no_model`: no model serves and none is loading; `error` says why the last load failed, if one did.
 */
export interface ModelReadiness {
  state: 'starting' | 'loading' | 'ready' | 'no_model';
  /** The model that serves. */
  model: string | null;
  /** The model being loaded. */
  loading: string | null;
  /** Why the last load failed, while no model serves. */
  error?: string;
}

/** Options of `leaseModel`. */
export interface LeaseModelOptions {
  /** Stop waiting when it aborts (a cancel, a disconnect, shutdown): the call rejects with its reason. */
  signal?: AbortSignal;
  /** How long to wait for a model that is loading, in ms; default the manager's `waitMs`. */
  waitMs?: number;
}

interface ActiveBinding {
  plugin: LoadedBindingPlugin;
  ctx: BindingContext;
}

/**
 * The active binding and its loaded model. Selections are serialised; a new model replaces the old one only
 * once it has loaded, and the old one keeps serving the generations that hold a lease on it (drain).
 */
export class BindingManager {
  readonly #options: BindingManagerOptions;
  #active: ActiveBinding | undefined;
  readonly #models: Versioned<ActiveModel>;
  /** Selections, reloads and unloads run one at a time. */
  readonly #queue = new SerialQueue();
  #loading: { model: string; controller: AbortController } | undefined;
  #reloading: Promise<void> | undefined;
  /** Counts leases on the model and unloads it after `keep_alive` without any. */
  readonly #residency: ModelResidency;
  /** The model unloaded by `keep_alive`: the next `leaseModel` loads it again. */
  #asleep: string | undefined;
  #waking: Promise<void> | undefined;
  /** Hot reloads of the active binding in progress: new requests wait for the new code. */
  #swapping = 0;
  /** The host holds readiness until it has begun its start-up model (`holdForStartup`). */
  #startupHeld = false;
  /** Why the last load failed, while no model serves. */
  #lastError: unknown;
  /**
   * The model that should serve but does not, because its load failed for want of the engine: it is loaded again
   * in the background (with backoff) and by the next request that needs a model.
   */
  #wanted: { binding: string; model: string } | undefined;
  #retrying: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryRound = 0;
  #disposed = false;
  /** Wakes `leaseModel` callers whenever a load starts or ends, a model is swapped in, or the start-up hold ends. */
  readonly #changes = new ChangeSignal();

  constructor(options: BindingManagerOptions) {
    this.#options = options;
    this.#models = new Versioned<ActiveModel>(
      (m) => m.model.dispose(),
      (error, m) => options.logger.warn({ binding: m.binding, model: m.name, err: errorMessage(error) }, 'a model failed to dispose'),
    );
    this.#residency = new ModelResidency({
      keepAliveMs: options.keepAliveMs ?? (() => -1),
      unload: () => void this.#sleep().catch((error: unknown) => options.logger.warn({ err: errorMessage(error) }, 'the idle model could not be unloaded')),
      ...(options.residencyTimers ? { timers: options.residencyTimers } : {}),
    });
  }

  /** Where compiled binding modules go (also used by hot reload). */
  get cacheDir(): string {
    return this.#options.cacheDir;
  }

  /** Name of the active binding. */
  get activeBinding(): string | undefined {
    return this.#active?.plugin.name;
  }

  get activePlugin(): LoadedBindingPlugin | undefined {
    return this.#active?.plugin;
  }

  /** The current model, or undefined. */
  get model(): ActiveModel | undefined {
    return this.#models.current;
  }

  /** The model being loaded, if any (for `/health`). */
  get loading(): string | undefined {
    return this.#loading?.model;
  }

  /** A lease on the current model for one operation (it is not disposed before `release`), or a `NoModelLoaded` error that tells the client what to do. */
  requireModel(): Lease<ActiveModel> {
    const lease = this.#models.acquire();
    if (!lease) throw this.#noModelError();
    return this.#resident(lease);
  }

  /** `lease`, which also keeps the model loaded (`keep_alive` does not count) until it is released. */
  #resident(lease: Lease<ActiveModel>): Lease<ActiveModel> {
    const leave = this.#residency.hold();
    return {
      value: lease.value,
      release: () => {
        lease.release();
        leave();
      },
    };
  }

  /** The model unloaded by `keep_alive`, which the next request loads again; undefined when none is. */
  get unloadedModel(): string | undefined {
    return this.#models.current ? undefined : this.#asleep;
  }

  /** When the idle model will be unloaded by `keep_alive` (ms since the epoch), or undefined. */
  get unloadAt(): number | undefined {
    return this.#residency.unloadAt;
  }

  /**
   * Keep the model loaded while a request runs (it counts as use for `keep_alive`, between its model calls
   * too); call the returned function (safe to call more than once) when the request ends.
   */
  holdResident(): () => void {
    return this.#residency.hold();
  }

  /** `keep_alive` changed: the idle clock starts again with the new value (0 unloads an idle model now). */
  keepAliveChanged(): void {
    if (this.#models.current) this.#residency.refresh();
  }

  /** Unload the current model now if nothing uses it (its keep-alive time passed); the next request loads it again. */
  #sleep(): Promise<void> {
    return this.#serial(async () => {
      const current = this.#models.current;
      if (!current || this.#residency.inUse > 0) return;
      this.#asleep = current.name;
      this.#models.swap(undefined);
      this.#residency.stop();
      this.#changes.notify();
      this.#options.logger.info({ binding: current.binding, model: current.name }, 'model unloaded after keep_alive without use; the next request loads it again');
      this.#options.observer?.unloaded?.(current.name);
    });
  }

  /** Load the model `keep_alive` unloaded, once for every request that waits for it. */
  #wake(): Promise<void> {
    this.#waking ??= this.#serial(async () => {
      const name = this.#asleep;
      const active = this.#active;
      if (name === undefined || !active || this.#models.current) return;
      try {
        const entry = await this.#load(active, name, undefined, 'wake');
        this.#asleep = undefined;
        this.#models.swap(entry);
        this.#residency.refresh();
        this.#forgetFailure();
      } catch (error) {
        // Not asleep any more but failed: the waiting requests get the load's error through readiness.
        this.#asleep = undefined;
        this.#loadFailed(active.plugin.name, name, error);
        throw error;
      }
    }).finally(() => {
      this.#waking = undefined;
      this.#changes.notify();
    });
    return this.#waking;
  }

  /**
   * The one way a request gets the model: a lease on the current model (not disposed before `release`). When no
   * model serves but one is on its way (the host is starting, a model is loading, a hot reload of the binding is
   * swapping, a load that failed for want of the engine is retried, which this call starts, or the model that
   * `keep_alive` unloaded is loaded again, which this call starts too), it waits for it, at most `waitMs`. While
   * it waits and while the lease is held, `keep_alive` does not unload the model. Rejects with `LH_ERR_NO_MODEL` when no model serves and none is coming (the message says
   * why the last load failed), `LH_ERR_MODEL_LOADING` when the wait ran out, or the signal's reason.
   */
  async leaseModel(options: LeaseModelOptions = {}): Promise<Lease<ActiveModel>> {
    const waitMs = Math.max(0, options.waitMs ?? this.#options.waitMs?.() ?? DEFAULT_MODEL_WAIT_MS);
    const deadline = performance.now() + waitMs;
    // Held while waiting, so that a model just loaded is not unloaded before the lease is taken.
    const leave = this.#residency.hold();
    try {
      for (;;) {
        if (this.#swapping === 0) {
          const lease = this.#models.acquire();
          if (lease) return this.#resident(lease);
        }
        if (this.#asleep !== undefined && !this.#waking && !this.#loading) void this.#wake().catch(() => {});
        if (!this.#waking && !this.#pending() && !this.#retryWanted()) throw this.#noModelError();
        if ((await this.#changes.next(deadline, options.signal)) === 'timeout') {
          const what = this.#pending() ?? (this.#asleep !== undefined ? `model "${this.#asleep}"` : 'a model');
          throw ModelStillLoading(`${what} is not ready after ${waitMs} ms (model_wait_ms); retry later`);
        }
      }
    } finally {
      leave();
    }
  }

  /** What a request would wait for now, or undefined when nothing is coming. */
  #pending(): string | undefined {
    if (this.#swapping > 0) return `the reloaded binding "${this.#active?.plugin.name ?? ''}"`;
    if (this.#loading) return `model "${this.#loading.model}"`;
    if (this.#retrying && this.#wanted) return `model "${this.#wanted.model}"`;
    if (this.#startupHeld) return 'the start-up model';
    return undefined;
  }

  #noModelError(): LollmsHostError {
    const why = this.#lastError === undefined ? '' : ` (the last load failed: ${errorMessage(this.#lastError)})`;
    return NoModelLoaded(`No model loaded: select a binding and a model first (select_binding, select_model)${why}`);
  }

  /** Where the model stands (see {@link ModelReadiness}). */
  get readiness(): ModelReadiness {
    const model = this.#models.current?.name ?? null;
    const loading = this.#loading?.model ?? (this.#retrying ? this.#wanted?.model : undefined) ?? null;
    const state: ModelReadiness['state'] = model !== null ? 'ready' : loading !== null ? 'loading' : this.#startupHeld ? 'starting' : 'no_model';
    return { state, model, loading, ...(state === 'no_model' && this.#lastError !== undefined ? { error: errorMessage(this.#lastError) } : {}) };
  }

  /**
   * The host is about to choose and load its start-up model: until the returned function is called, readiness is
   * `starting` and `leaseModel` waits instead of failing. The host calls it before it listens.
   */
  holdForStartup(): () => void {
    this.#startupHeld = true;
    this.#changes.notify();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#startupHeld = false;
      this.#changes.notify();
    };
  }

  /** Every binding folder with its card and models (broken ones are logged and left out). */
  async listAvailable(): Promise<BindingManifest[]> {
    const folders = await discoverBindings(this.#options.bindingsPaths());
    const manifests: BindingManifest[] = [];
    for (const folder of folders) {
      try {
        manifests.push(await readBindingManifest(folder.folder));
      } catch (error) {
        this.#options.logger.warn({ folder: folder.folder, err: errorMessage(error) }, 'skipping a binding whose files are broken');
      }
    }
    return manifests;
  }

  async #findFolder(name: string): Promise<BindingFolder> {
    const folders = await discoverBindings(this.#options.bindingsPaths());
    const found = folders.find((f) => f.name === name);
    if (!found) {
      const known = folders.map((f) => f.name).join(', ') || 'none';
      throw BindingNotFound(`no binding named "${name}" (available: ${known})`);
    }
    return found;
  }

  /**
   * Load and activate a binding. Selecting the active one again changes nothing. Switching to another binding
   * retires the current model (running generations finish on it), since it belongs to the old binding; the
   * host then has no model until `select_model`.
   */
  selectBinding(name: string): Promise<LoadedBindingPlugin> {
    return this.#serial(async () => {
      if (this.#active?.plugin.name === name) return this.#active.plugin;
      const folder = await this.#findFolder(name);
      const plugin = await loadBindingPlugin(folder.folder, { cacheDir: this.cacheDir, logger: this.#options.logger });
      const previous = this.#active;
      this.#active = { plugin, ctx: await this.#contextFor(plugin) };
      if (previous && previous.plugin.name !== name) {
        // The old binding's model can no longer be selected; let running work finish on it, then free it.
        this.#asleep = undefined;
        this.#models.swap(undefined);
        this.#residency.stop();
        this.#forgetFailure();
        await this.#disposeBinding(previous);
      }
      return plugin;
    });
  }

  /** The active binding's models. */
  async listModels(): Promise<ModelFile[]> {
    const active = this.#requireBinding();
    return active.plugin.binding.listModels(active.ctx);
  }

  /** `<models_path>/<binding>/` of the active binding. */
  modelsDir(binding = this.#requireBinding().plugin.name): string {
    return join(this.#options.modelsPath, binding);
  }

  /**
   * Load `name` with the active binding and make it current. On failure the previous model keeps serving.
   * `onProgress` gets 0..1.
   */
  selectModel(name: string, onProgress?: (progress: number) => void): Promise<ActiveModel> {
    return this.#serial(async () => {
      const active = this.#requireBinding();
      try {
        const models = await active.plugin.binding.listModels(active.ctx);
        if (!models.some((m) => m.name === name)) {
          const known = models.map((m) => m.name).join(', ') || 'none installed';
          throw ModelNotFound(`unknown model "${name}" for binding "${active.plugin.name}" (available: ${known})`);
        }
        const entry = await this.#load(active, name, onProgress);
        this.#asleep = undefined;
        this.#models.swap(entry);
        this.#residency.refresh();
        this.#forgetFailure();
        this.#changes.notify();
        return entry;
      } catch (error) {
        this.#loadFailed(active.plugin.name, name, error);
        throw error;
      }
    });
  }

  /**
   * A load failed. With a model still serving, that model goes on and nothing else happens. With none, the error
   * is kept for `readiness` and `LH_ERR_NO_MODEL`; and when the engine did not start (`LH_ERR_ENGINE`, which a
   * later attempt usually fixes) the model is loaded again in the background, with backoff, and by the next
   * request that needs it.
   */
  #loadFailed(binding: string, model: string, error: unknown): void {
    if (this.#models.current || this.#disposed) return;
    this.#lastError = error;
    if (errorCode(error) === EngineUnavailable.code) {
      this.#wanted = { binding, model };
      this.#scheduleRetry();
    }
    this.#changes.notify();
  }

  #forgetFailure(): void {
    this.#lastError = undefined;
    this.#wanted = undefined;
    this.#retryRound = 0;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#disposed || !this.#wanted) return;
    const delay = Math.min((this.#options.retryDelayMs ?? 30_000) * 2 ** this.#retryRound, MAX_RETRY_DELAY_MS);
    this.#retryRound++;
    const { model } = this.#wanted;
    this.#options.logger.warn({ model, retryInMs: delay }, `model "${model}" is not loaded (the engine did not start); trying again in ${Math.round(delay / 1000)} s, or at the next request that needs a model`);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retryWanted();
    }, delay);
    this.#retryTimer.unref();
  }

  /** Load the wanted model again (once at a time); false when there is nothing to retry. */
  #retryWanted(): boolean {
    const wanted = this.#wanted;
    if (!wanted || this.#disposed || this.#models.current) return false;
    if (this.#active?.plugin.name !== wanted.binding) {
      this.#forgetFailure();
      return false;
    }
    if (!this.#retrying) {
      this.#options.logger.info({ model: wanted.model }, `loading model "${wanted.model}" again`);
      this.#retrying = this.selectModel(wanted.model).then(
        () => undefined,
        () => undefined,
      ).finally(() => {
        this.#retrying = undefined;
        this.#changes.notify();
      });
      this.#changes.notify();
    }
    return true;
  }

  /** Load `name` through `active`, shown as `loading` (for `/health`) and abortable by `abortLoading`. */
  async #load(active: ActiveBinding, name: string, onProgress?: (progress: number) => void, reason: 'select' | 'reload' | 'wake' = 'select'): Promise<ActiveModel> {
    const controller = new AbortController();
    this.#loading = { model: name, controller };
    this.#changes.notify();
    const started = performance.now();
    try {
      const loaded = await active.plugin.binding.loadModel(active.ctx, {
        model: name,
        ...this.#options.loadDefaults(),
        signal: controller.signal,
        ...(onProgress ? { onProgress } : {}),
      });
      this.#options.observer?.loaded?.(name, performance.now() - started, reason);
      return { name, binding: active.plugin.name, model: loaded };
    } catch (error) {
      if (error instanceof LollmsHostError) throw error;
      // Bindings raise plain errors with our codes (they cannot import core); keep the code.
      throw new LollmsHostError(errorCode(error) ?? ModelLoadFailed.code, `failed to load model "${name}": ${errorMessage(error)}`, { cause: error });
    } finally {
      if (this.#loading?.controller === controller) this.#loading = undefined;
      this.#changes.notify();
    }
  }

  /** Release what a binding holds beyond its models; a failure is logged, never thrown (the caller has moved on). */
  async #disposeBinding(binding: ActiveBinding): Promise<void> {
    try {
      await binding.plugin.binding.dispose?.(binding.ctx);
    } catch (error) {
      this.#options.logger.warn({ binding: binding.plugin.name, err: errorMessage(error) }, 'a binding failed to dispose');
    }
  }

  /**
   * Hot reload of the active binding: `plugin` is its freshly built code. The current model is loaded again
   * through the new code, then binding and model are swapped together; work running on the old ones
   * finishes on them (drain), and new requests (`leaseModel`) wait for the swap.
   */
  reloadActive(plugin: LoadedBindingPlugin): Promise<void> {
    this.#swapping++;
    const run = this.#serial(async () => {
      const previous = this.#active;
      if (!previous || previous.plugin.name !== plugin.name) return;
      const next: ActiveBinding = { plugin, ctx: await this.#contextFor(plugin) };
      const current = this.#models.current;
      // Loaded like a selection: `/health` shows it, and shutdown aborts it rather than wait.
      const model = current ? await this.#load(next, current.name, undefined, 'reload') : undefined;
      this.#active = next;
      if (model) this.#models.swap(model);
      // The old module's models drain through the Versioned; its own resources go once it is replaced.
      await this.#disposeBinding(previous);
    });
    this.#reloading = run.catch(() => {});
    void this.#reloading.then(() => {
      this.#swapping--;
      this.#changes.notify();
    });
    return run;
  }

  /**
   * The settings of binding `name` changed: when it is the active one, it is loaded again with them (its model
   * too, swapped as in a hot reload). Resolves whether it was active.
   */
  async reloadSettings(name: string, options: { ifChanged?: boolean } = {}): Promise<boolean> {
    const active = this.#active;
    if (!active || active.plugin.name !== name) return false;
    // A file event after our own write (or an edit that changed nothing) does not reload the model again.
    if (options.ifChanged && this.#options.settingsOf) {
      const next = await this.#options.settingsOf(active.plugin);
      if (JSON.stringify(next) === JSON.stringify(active.ctx.settings)) return false;
    }
    await this.reloadActive(active.plugin);
    return true;
  }

  /** The active binding's folder disappeared: retire it and its model; the host has no binding after this. */
  unloadActive(): Promise<void> {
    return this.#serial(async () => {
      const previous = this.#active;
      this.#active = undefined;
      this.#asleep = undefined;
      this.#models.swap(undefined);
      this.#residency.stop();
      this.#forgetFailure();
      this.#changes.notify();
      if (previous) await this.#disposeBinding(previous);
    });
  }

  /** Abort a model load in progress (shutdown must not wait for a large model to finish loading). */
  abortLoading(): void {
    this.#loading?.controller.abort();
  }

  /** Abort a load in progress and dispose every model (host shutdown). */
  async dispose(): Promise<void> {
    this.#disposed = true;
    this.#residency.stop();
    this.#forgetFailure();
    this.#changes.notify();
    this.abortLoading();
    await this.#queue.idle();
    await this.#models.disposeAll();
    const active = this.#active;
    this.#active = undefined;
    if (active) await this.#disposeBinding(active);
  }

  #requireBinding(): ActiveBinding {
    if (!this.#active) throw NoBindingSelected('No binding selected');
    return this.#active;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    return this.#queue.run(task);
  }

  async #contextFor(plugin: LoadedBindingPlugin): Promise<BindingContext> {
    const modelsDir = join(this.#options.modelsPath, plugin.name);
    await mkdir(modelsDir, { recursive: true });
    const settings = this.#options.settingsOf
      ? await this.#options.settingsOf(plugin)
      : { ...settingDefaults(bindingSettingsTemplate(plugin.card as Record<string, unknown> | null)), ...(await readSettings(join(this.#options.dataDir, 'settings', 'bindings', `${plugin.name}.yaml`))) };
    const engine = this.#options.engine;
    return Object.freeze({
      name: plugin.name,
      folder: plugin.folder,
      modelsDir,
      settings: Object.freeze({ ...settings }),
      logger: pluginLogger(this.#options.logger, 'binding', plugin.name),
      getLlama: () => engine.getLlama(),
      gpu: this.#options.gpu,
    });
  }
}

async function readSettings(file: string): Promise<Record<string, unknown>> {
  if (!existsSync(file)) return {};
  const parsed: unknown = YAML.parse(await readFile(file, 'utf8'));
  return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
}
