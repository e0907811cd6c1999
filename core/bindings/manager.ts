import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { BindingContext, LoadedModel, ModelFile } from '../../plugin-api/index.js';
import { BindingNotFound, ModelLoadFailed, ModelNotFound, NoBindingSelected, NoModelLoaded, LollmsHostError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { pluginLogger } from '../logger.js';
import { discoverBindings, type BindingFolder } from '../plugins/discovery.js';
import { readBindingManifest, type BindingManifest } from '../plugins/manifest.js';
import { loadBindingPlugin, type LoadedBindingPlugin } from '../plugins/load-binding.js';
import { SerialQueue } from '../util/serial.js';
import { Versioned, type Lease } from '../util/versioned.js';
import type { LlamaEngine } from './engine.js';
import { ModelResidency, type ResidencyTimers } from './residency.js';

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
  logger: Logger;
  /**
   * `keep_alive` in ms, read whenever the model becomes idle (issue 18): a model unused that long is unloaded
   * and loaded again by the next request (`whenReady`); 0 unloads it at once; negative (the default) keeps it.
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
  #loading: { model: string; controller: AbortController; settled: Promise<unknown> } | undefined;
  #reloading: Promise<void> | undefined;
  /** Counts leases on the model and unloads it after `keep_alive` without any. */
  readonly #residency: ModelResidency;
  /** The model unloaded by `keep_alive`: the next `whenReady` loads it again. */
  #asleep: string | undefined;
  #waking: Promise<void> | undefined;

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

  /** The model unloaded by `keep_alive`, which the next request loads again; undefined when none is. */
  get unloadedModel(): string | undefined {
    return this.#models.current ? undefined : this.#asleep;
  }

  /** When the idle model will be unloaded by `keep_alive` (ms since the epoch), or undefined. */
  get unloadAt(): number | undefined {
    return this.#residency.unloadAt;
  }

  /**
   * A lease on the current model for one operation (it is not disposed before `release`, and `keep_alive` does
   * not count while it is held), or a `NoModelLoaded` error that tells the client what to do.
   */
  requireModel(): Lease<ActiveModel> {
    const lease = this.#models.acquire();
    if (!lease) throw NoModelLoaded('No model loaded: select a binding and a model first (select_binding, select_model)');
    const leave = this.#residency.hold();
    return {
      value: lease.value,
      release: () => {
        lease.release();
        leave();
      },
    };
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
      const entry = await this.#load(active, name, undefined, 'wake');
      this.#asleep = undefined;
      this.#models.swap(entry);
      this.#residency.refresh();
    }).finally(() => (this.#waking = undefined));
    return this.#waking;
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
      const models = await active.plugin.binding.listModels(active.ctx);
      if (!models.some((m) => m.name === name)) {
        const known = models.map((m) => m.name).join(', ') || 'none installed';
        throw ModelNotFound(`unknown model "${name}" for binding "${active.plugin.name}" (available: ${known})`);
      }
      const entry = await this.#load(active, name, onProgress);
      this.#asleep = undefined;
      this.#models.swap(entry);
      this.#residency.refresh();
      return entry;
    });
  }

  /** Load `name` through `active`, shown as `loading` (for `/health`) and abortable by `abortLoading`. */
  async #load(active: ActiveBinding, name: string, onProgress?: (progress: number) => void, reason: 'select' | 'reload' | 'wake' = 'select'): Promise<ActiveModel> {
    const controller = new AbortController();
    const started = performance.now();
    const loading = active.plugin.binding.loadModel(active.ctx, {
      model: name,
      ...this.#options.loadDefaults(),
      signal: controller.signal,
      ...(onProgress ? { onProgress } : {}),
    });
    this.#loading = { model: name, controller, settled: loading.catch(() => {}) };
    try {
      const loaded = await loading;
      this.#options.observer?.loaded?.(name, performance.now() - started, reason);
      return { name, binding: active.plugin.name, model: loaded };
    } catch (error) {
      if (error instanceof LollmsHostError) throw error;
      // Bindings raise plain errors with our codes (they cannot import core); keep the code.
      throw new LollmsHostError(errorCode(error) ?? ModelLoadFailed.code, `failed to load model "${name}": ${errorMessage(error)}`, { cause: error });
    } finally {
      if (this.#loading?.controller === controller) this.#loading = undefined;
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
   * finishes on them (drain), and new requests that call `whenReady` wait for the swap.
   */
  reloadActive(plugin: LoadedBindingPlugin): Promise<void> {
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
    return run;
  }

  /** The active binding's folder disappeared: retire it and its model; the host has no binding after this. */
  unloadActive(): Promise<void> {
    return this.#serial(async () => {
      const previous = this.#active;
      this.#active = undefined;
      this.#asleep = undefined;
      this.#models.swap(undefined);
      this.#residency.stop();
      if (previous) await this.#disposeBinding(previous);
    });
  }

  /**
   * Resolves once the model can serve a new request: after a hot reload of the active binding in progress has
   * swapped, a model load in progress (start-up, a selection) has ended, and a model that `keep_alive` unloaded
   * has been loaded again. Rejects with the load's error when that reload fails, or with `signal`'s reason when
   * it aborts first (the load goes on for the others).
   */
  async whenReady(signal?: AbortSignal): Promise<void> {
    const ready = (async () => {
      await this.#reloading;
      await this.#loading?.settled;
      if (this.#asleep !== undefined && !this.#models.current) await this.#wake();
    })();
    if (!signal) return ready;
    ready.catch(() => {});
    signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      ready.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Abort a model load in progress (shutdown must not wait for a large model to finish loading). */
  abortLoading(): void {
    this.#loading?.controller.abort();
  }

  /** Abort a load in progress and dispose every model (host shutdown). */
  async dispose(): Promise<void> {
    this.#residency.stop();
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
    const defaults = (plugin.card as { settings?: Record<string, unknown> } | null)?.settings ?? {};
    const saved = await readSettings(join(this.#options.dataDir, 'settings', 'bindings', `${plugin.name}.yaml`));
    const engine = this.#options.engine;
    return Object.freeze({
      name: plugin.name,
      folder: plugin.folder,
      modelsDir,
      settings: Object.freeze({ ...defaults, ...saved }),
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
