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

  constructor(options: BindingManagerOptions) {
    this.#options = options;
    this.#models = new Versioned<ActiveModel>(
      (m) => m.model.dispose(),
      (error, m) => options.logger.warn({ binding: m.binding, model: m.name, err: errorMessage(error) }, 'a model failed to dispose'),
    );
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
    if (!lease) throw NoModelLoaded('No model loaded: select a binding and a model first (select_binding, select_model)');
    return lease;
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
        this.#models.swap(undefined);
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
      this.#models.swap(entry);
      return entry;
    });
  }

  /** Load `name` through `active`, shown as `loading` (for `/health`) and abortable by `abortLoading`. */
  async #load(active: ActiveBinding, name: string, onProgress?: (progress: number) => void): Promise<ActiveModel> {
    const controller = new AbortController();
    this.#loading = { model: name, controller };
    try {
      const loaded = await active.plugin.binding.loadModel(active.ctx, {
        model: name,
        ...this.#options.loadDefaults(),
        signal: controller.signal,
        ...(onProgress ? { onProgress } : {}),
      });
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
      const model = current ? await this.#load(next, current.name) : undefined;
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
      this.#models.swap(undefined);
      if (previous) await this.#disposeBinding(previous);
    });
  }

  /** Resolves once a hot reload of the active binding in progress has swapped (new requests wait on it). */
  async whenReady(): Promise<void> {
    await this.#reloading;
  }

  /** Abort a model load in progress (shutdown must not wait for a large model to finish loading). */
  abortLoading(): void {
    this.#loading?.controller.abort();
  }

  /** Abort a load in progress and dispose every model (host shutdown). */
  async dispose(): Promise<void> {
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
