import { resolve } from 'node:path';
import { isBinding, type Binding, type PluginLogger } from '../../plugin-api/index.js';
import { PluginImport, PluginNotABinding } from '../errors.js';
import { checkApiRange } from './api-range.js';
import { compileBinding, pruneCompiledBindings } from './compile-binding.js';
import { readBindingManifest, refusePythonBinding } from './manifest.js';

/** Options of `loadBindingPlugin`. */
export interface LoadBindingOptions {
  /** Where compiled modules are cached (e.g. `<data dir>/cache/bindings`). */
  cacheDir: string;
  /** Receives warnings (missing `host_api`, esbuild warnings) and a debug line per load. */
  logger?: Pick<PluginLogger, 'debug' | 'warn'>;
}

/** A binding plugin, compiled, imported and checked. */
export interface LoadedBindingPlugin {
  /** The folder name: the binding's id on the wire. */
  name: string;
  /** Absolute path of the folder. */
  folder: string;
  /** `binding_card.yaml` as parsed, sent verbatim to clients. */
  card: Record<string, unknown>;
  /** `models.yaml` as parsed, one raw entry per model. */
  models: unknown[];
  /** The plugin API range it declared (or the default). */
  hostApi: string;
  /** `card.version` as a string; empty when the card has none. */
  version: string;
  /** The module's default export. */
  binding: Binding;
  /** `file://` URL of the imported module (content-hashed: a new URL per changed build). */
  moduleUrl: string;
}

/**
 * Load one binding folder: read its manifest, check its `host_api` range, compile its entry, import it and
 * check that the default export was made by `defineBinding`. Every failure is a coded error that names the
 * folder: `PluginManifest`, `PluginApiMismatch`, `PluginCompile`, `PluginImport` or `PluginNotABinding`.
 * Nothing is registered anywhere: the caller decides whether to swap it in.
 */
export async function loadBindingPlugin(folder: string, options: LoadBindingOptions): Promise<LoadedBindingPlugin> {
  const manifest = await readBindingManifest(resolve(folder));
  refusePythonBinding(manifest);
  const dir = manifest.folder;
  if (!manifest.hostApiDeclared) {
    options.logger?.warn({ folder: dir, assumed: manifest.hostApi }, `binding ${manifest.name} declares no host_api; assuming "${manifest.hostApi}"`);
  }
  checkApiRange(manifest.hostApi, { folder: dir });

  const compiled = await compileBinding(dir, manifest.entry, { cacheDir: options.cacheDir, name: manifest.name });
  for (const warning of compiled.warnings) options.logger?.warn({ folder: dir }, `binding ${manifest.name}: ${warning}`);

  let mod: Record<string, unknown>;
  try {
    mod = (await import(compiled.moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    throw PluginImport(`binding ${dir}: importing ${manifest.entry} failed: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
      file: dir,
    });
  }
  const binding = mod['default'];
  if (!isBinding(binding)) {
    throw PluginNotABinding(
      `binding ${dir}: the default export of ${manifest.entry} is not a binding (export default defineBinding({ listModels, loadModel }))`,
      { file: dir },
    );
  }
  await pruneCompiledBindings(options.cacheDir, manifest.name, compiled.path);
  options.logger?.debug({ folder: dir, moduleUrl: compiled.moduleUrl }, `binding ${manifest.name} loaded`);

  const version = manifest.card['version'];
  return {
    name: manifest.name,
    folder: dir,
    card: manifest.card,
    models: manifest.models,
    hostApi: manifest.hostApi,
    version: version === undefined || version === null ? '' : String(version),
    binding,
    moduleUrl: compiled.moduleUrl,
  };
}
