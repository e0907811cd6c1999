import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigStore, ensureConfigFile, resolveDataDir } from '../config.js';
import { CliUsage, errorMessage } from '../errors.js';
import { readBindingManifest } from '../plugins/manifest.js';
import { discoverBindings } from '../plugins/discovery.js';
import { BUILTIN_BINDINGS_PATH } from '../util/package-root.js';
import { runPull, PULL_EXIT } from './pull.js';
import { becomesDefault } from './startup-model.js';

/** `lollms-host pull <url | models.yaml filename> [--binding NAME] [--data-dir DIR] [--models-path DIR]`. */
export async function pullFromCli(argv: string[], io: { stdout: NodeJS.WritableStream & { isTTY?: boolean }; stderr: NodeJS.WritableStream }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        binding: { type: 'string' },
        binding_name: { type: 'string' },
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        data_dir: { type: 'string' },
        'models-path': { type: 'string' },
        models_path: { type: 'string' },
        'bindings-path': { type: 'string', multiple: true },
        bindings_path: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw CliUsage(errorMessage(error));
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout.write('lollms-host pull <url | models.yaml filename> [--binding NAME] [--data-dir DIR] [--config FILE] [--models_path DIR] [--bindings_path DIR]\n');
    return 0;
  }
  const target = parsed.positionals[0];
  if (!target || parsed.positionals.length > 1) throw CliUsage('pull takes exactly one URL or models.yaml filename');
  const dataDir = resolveDataDir(v['data-dir'] ?? v.data_dir);
  const configFile = resolve(v.config ?? join(dataDir, 'config.yaml'));
  const config = await ConfigStore.load({ file: configFile });
  const binding = v.binding ?? v.binding_name ?? config.values.binding_name ?? 'llama_cpp';
  const modelsPath = resolve(v['models-path'] ?? v.models_path ?? config.values.models_path ?? join(dataDir, 'models'));
  const extra = [...(v['bindings-path'] ?? []), ...(v.bindings_path ?? []), ...config.values.bindings_paths].map((p) => resolve(p));
  const folders = await discoverBindings([...(config.values.builtin_plugins ? [BUILTIN_BINDINGS_PATH] : []), ...extra]);
  const folder = folders.find((f) => f.name === binding);
  if (!folder) throw CliUsage(`no binding named "${binding}"`);
  const manifest = await readBindingManifest(folder.folder);
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  const modelsDir = join(modelsPath, binding);
  const configured = config.values.model_name;
  const configuredInstalled = configured !== null && existsSync(join(modelsDir, configured));
  let code: number;
  let installed: string | undefined;
  try {
    code = await runPull(target, {
      modelsDir,
      models: manifest.models,
      stdout: io.stdout,
      isTTY: Boolean(io.stdout.isTTY),
      signal: controller.signal,
      onInstalled: (path) => (installed = basename(path)),
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
  // The first real model pulled becomes the default: the next start serves it (docs/configuration.md).
  const sameBinding = config.values.binding_name === null || config.values.binding_name === binding;
  if (code === PULL_EXIT.ok && installed !== undefined && sameBinding && becomesDefault(configured, configuredInstalled, installed)) {
    await ensureConfigFile(configFile);
    const store = await ConfigStore.load({ file: configFile });
    await store.update({ binding_name: binding, model_name: installed });
    io.stdout.write(`${installed} is now the default model (model_name in ${configFile}): the next start serves it; a running host keeps its model until then or a select_model.\n`);
  }
  return code;
}
