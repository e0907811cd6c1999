/**
 * `lollms-host list | use <model> | rm <model>`: the installed models of the bindings, as Ollama's verbs do it,
 * with the original lollms flag names (`--bindings_path`, `--models_path`, `--binding_name`) kept. They act on the
 * data dir and config a host would use, without starting one.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { ModelFile } from '../../plugin-api/index.js';
import { ConfigStore, bindingsPathsOf, ensureConfigFile, modelsPathOf, resolveDataDir, type HostConfig } from '../config.js';
import { CliUsage, errorMessage } from '../errors.js';
import { createLogger } from '../logger.js';
import { discoverBindings } from '../plugins/discovery.js';
import { commandHint, type DataLocation } from '../util/cli-hint.js';
import { BindingManager } from './manager.js';
import { createLlamaEngine } from './engine.js';
import { chooseStartupModel, withInstallTimes, type StartupChoice } from './startup-model.js';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Flags every models command takes: where the data is, and which binding. */
const LOCATION_OPTIONS = {
  'data-dir': { type: 'string' },
  data_dir: { type: 'string' },
  config: { type: 'string' },
  'models-path': { type: 'string' },
  models_path: { type: 'string' },
  'bindings-path': { type: 'string', multiple: true },
  bindings_path: { type: 'string', multiple: true },
  binding: { type: 'string' },
  'binding-name': { type: 'string' },
  binding_name: { type: 'string' },
  builtins: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const LOCATION_USAGE = '[--binding NAME] [--data-dir DIR] [--config FILE] [--models_path DIR] [--bindings_path DIR]';

/** The CLI's view of the models a host would serve. */
interface ModelsContext {
  location: DataLocation;
  store: ConfigStore;
  /** `--binding`, when given. */
  binding: string | undefined;
  manager: BindingManager;
  dispose(): Promise<void>;
}

function parse(command: string, argv: string[], positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: LOCATION_OPTIONS, allowPositionals: true, allowNegative: true, strict: true });
  } catch (error) {
    throw CliUsage(`${command}: ${errorMessage(error)}`);
  }
  if (!parsed.values.help && parsed.positionals.length !== positionals) {
    throw CliUsage(positionals === 0 ? `${command} takes no arguments` : `${command} takes exactly one model name`);
  }
  return parsed;
}

async function open(values: ReturnType<typeof parse>['values'], options: { createConfig?: boolean } = {}): Promise<ModelsContext> {
  const dataDir = resolveDataDir(values['data-dir'] ?? values.data_dir);
  const configFile = resolve(values.config ?? join(dataDir, 'config.yaml'));
  if (options.createConfig) await ensureConfigFile(configFile);
  const cli: Partial<HostConfig> = {};
  const modelsPath = values['models-path'] ?? values.models_path;
  if (modelsPath !== undefined) cli.models_path = resolve(modelsPath);
  const bindingsPaths = [...(values['bindings-path'] ?? []), ...(values.bindings_path ?? [])];
  if (bindingsPaths.length > 0) cli.bindings_paths = bindingsPaths.map((p) => resolve(p));
  if (values.builtins !== undefined) cli.builtin_plugins = values.builtins;
  const store = await ConfigStore.load({ file: configFile, cli });
  const binding = values.binding ?? values['binding-name'] ?? values.binding_name;
  // Listing models never starts the engine; it exists because bindings get it in their context.
  const engine = createLlamaEngine({ gpu: false, threads: 1 });
  const manager = new BindingManager({
    bindingsPaths: () => bindingsPathsOf(store.values),
    modelsPath: modelsPathOf(store.values, dataDir),
    dataDir,
    cacheDir: join(dataDir, 'cache', 'bindings'),
    engine,
    gpu: false,
    loadDefaults: () => ({ contextSize: store.values.ctx_size, sequences: 1, threads: 1 }),
    logger: createLogger({ level: 'error' }),
  });
  return {
    location: { dataDir, configFile, modelsPath: modelsPathOf(store.values, dataDir), binding: binding ?? store.values.binding_name },
    store,
    binding,
    manager,
    async dispose() {
      await manager.dispose();
      await engine.dispose();
    },
  };
}

/** `1.2 GB`, `512 MB`, `0.5 MB`, as Ollama prints sizes. */
export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} KB`;
  return `${bytes} B`;
}

/** The installed models of `binding`, loading the binding first. */
async function modelsOf(ctx: ModelsContext, binding: string): Promise<ModelFile[]> {
  await ctx.manager.selectBinding(binding);
  return ctx.manager.listModels();
}

/** `lollms-host list`: every binding's installed models with their size, and which one is selected. */
export async function listCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse('list', argv, 0);
  if (values.help) {
    io.stdout.write(`lollms-host list ${LOCATION_USAGE}\n  installed models per binding, with size; * marks the one a start serves\n`);
    return 0;
  }
  const ctx = await open(values);
  try {
    const folders = await discoverBindings(bindingsPathsOf(ctx.store.values));
    const names = ctx.binding ? [ctx.binding] : folders.map((f) => f.name);
    if (ctx.binding && !folders.some((f) => f.name === ctx.binding)) {
      throw CliUsage(`no binding named "${ctx.binding}" (available: ${folders.map((f) => f.name).join(', ') || 'none'})`);
    }
    const rows: string[][] = [];
    let failed = false;
    let serves: { binding: string; choice: StartupChoice } | undefined;
    for (const binding of names) {
      let models: ModelFile[];
      try {
        models = await modelsOf(ctx, binding);
      } catch (error) {
        failed = true;
        io.stderr.write(`lollms-host: binding "${binding}": cannot list its models: ${errorMessage(error)}\n`);
        continue;
      }
      // The configured binding's `*` is the model the next start serves, by the host's own rule.
      if (ctx.store.values.binding_name === binding) {
        serves = { binding, choice: chooseStartupModel(await withInstallTimes(models, ctx.manager.modelsDir(binding)), ctx.store.values.model_name) };
      }
      for (const model of models) {
        const selected = serves?.binding === binding && serves.choice.model === model.name;
        const notes = [...(selected ? [`(${SERVES_NOTE[serves!.choice.reason]})`] : []), ...(model.kind === 'reference' ? [`-> ${model.path}`] : [])];
        rows.push([`${selected ? '*' : ' '} ${model.name}`, binding, formatSize(model.size), notes.join(' ')]);
      }
    }
    if (rows.length === 0) {
      io.stdout.write(`No models installed. Install one with ${commandHint('pull <models.yaml filename or URL>', ctx.location)}.\n`);
      return failed ? 1 : 0;
    }
    const table = [['  NAME', 'BINDING', 'SIZE', ''], ...rows];
    const widths = [0, 1, 2].map((i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table) io.stdout.write(`${row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('   ').trimEnd()}\n`);
    const reason = serves?.choice.reason;
    if (reason !== 'configured') {
      const next = reason === 'last-installed' || reason === 'test-model' ? `the next start serves ${serves!.choice.model} (${SERVES_NOTE[reason]}); ` : '';
      io.stdout.write(`\nNo model is selected (model_name): ${next}${commandHint('use <model>', ctx.location)} selects one.\n`);
    }
    return failed ? 1 : 0;
  } finally {
    await ctx.dispose();
  }
}

/** Why the `*` model serves (docs/configuration.md, "Which model serves"). */
const SERVES_NOTE: Record<StartupChoice['reason'], string> = {
  configured: 'model_name',
  'last-installed': 'installed last',
  'test-model': 'test model: no real model installed',
  none: '',
};

/** The installed model `name` of the context's binding, or a usage-style error listing the installed ones. */
async function findInstalled(ctx: ModelsContext, name: string): Promise<{ binding: string; model: ModelFile }> {
  if (name === '' || basename(name) !== name || name === '.' || name === '..' || name.includes('\\')) {
    throw CliUsage(`"${name}" is not a model name (a file name in the binding's models folder)`);
  }
  const binding = ctx.binding ?? ctx.store.values.binding_name ?? 'llama_cpp';
  const models = await modelsOf(ctx, binding);
  const model = models.find((m) => m.name === name);
  if (!model) {
    const known = models.map((m) => m.name).join(', ') || 'none';
    throw new ModelNotInstalled(
      `model "${name}" is not installed for binding "${binding}" (installed: ${known}). Install it with ${commandHint(`pull ${name}`, { ...ctx.location, binding })}.`,
    );
  }
  return { binding, model };
}

class ModelNotInstalled extends Error {}

async function reportMissing<T>(io: Io, run: () => Promise<T>): Promise<T | number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof ModelNotInstalled)) throw error;
    io.stderr.write(`lollms-host: ${error.message}\n`);
    return 1;
  }
}

/** `lollms-host use <model>`: select an installed model (and its binding) and save it in the config. */
export async function useCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('use', argv, 1);
  if (values.help) {
    io.stdout.write(`lollms-host use <model> ${LOCATION_USAGE}\n  select an installed model and save it in the config (binding_name, model_name)\n`);
    return 0;
  }
  const ctx = await open(values, { createConfig: true });
  try {
    return await reportMissing(io, async () => {
      const { binding, model } = await findInstalled(ctx, positionals[0]!);
      await ctx.store.update({ binding_name: binding, model_name: model.name });
      io.stdout.write(
        `${binding}/${model.name} is selected (saved in ${ctx.store.file}). The next start serves it; a running host keeps its model until it restarts or gets select_model.\n`,
      );
      return 0;
    });
  } finally {
    await ctx.dispose();
  }
}

/** `lollms-host rm <model>`: delete an installed model (a `.reference` file only, never what it points to). */
export async function rmCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse('rm', argv, 1);
  if (values.help) {
    io.stdout.write(`lollms-host rm <model> ${LOCATION_USAGE}\n  delete an installed model (for a .reference, the reference file only) and its partial download\n`);
    return 0;
  }
  const ctx = await open(values);
  try {
    return await reportMissing(io, async () => {
      const { binding, model } = await findInstalled(ctx, positionals[0]!);
      const dir = ctx.manager.modelsDir(binding);
      const file = join(dir, model.name);
      const size = model.kind === 'reference' ? (await stat(file)).size : model.size;
      await rm(file);
      // A resumable download of the same file would otherwise come back as the model on the next pull.
      if (existsSync(`${file}.part`)) await rm(`${file}.part`, { force: true });
      const notes: string[] = [];
      if (ctx.store.values.binding_name === binding && ctx.store.values.model_name === model.name) {
        await ctx.store.update({ model_name: null });
        notes.push('it was the selected model: model_name is cleared in the config');
      }
      io.stdout.write(`deleted ${binding}/${model.name} (${formatSize(size)})${notes.length ? `; ${notes.join('; ')}` : ''}\n`);
      return 0;
    });
  } finally {
    await ctx.dispose();
  }
}
