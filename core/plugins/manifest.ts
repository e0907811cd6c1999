import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { PluginManifest, PluginPython } from '../errors.js';
import { parseYaml } from '../util/yaml.js';
import { DEFAULT_HOST_API } from './api-range.js';
import { BINDING_CARD_FILE, MODELS_FILE } from './discovery.js';

/** What a binding folder declares, before any code is compiled. */
export interface BindingManifest {
  /** The folder name: the binding's id on the wire. */
  name: string;
  /** Absolute path of the folder. */
  folder: string;
  /** `binding_card.yaml` as parsed, sent verbatim to clients. */
  card: Record<string, unknown>;
  /** `models.yaml` as parsed: one raw entry per model (an empty file is an empty list). */
  models: unknown[];
  /** The semver range of the plugin API it needs (`DEFAULT_HOST_API` when the card has none). */
  hostApi: string;
  /** Whether the card declared `host_api` itself. */
  hostApiDeclared: boolean;
  /** The entry's path relative to the folder (`entry` in the card, default `index.ts`). */
  entry: string;
  /**
   * Set when the folder is an original Python lollms binding: no TypeScript entry, but `__init__.py` or
   * `binding.py` (the file found). Listed like any binding; loading it is refused by `refusePythonBinding`.
   */
  python?: string;
}

/** The files that make a folder an original (Python) lollms binding. */
const PYTHON_BINDING_FILES = ['__init__.py', 'binding.py'];

/** The default TypeScript entry of a binding. */
export const DEFAULT_ENTRY = 'index.ts';

/**
 * Read and check `binding_card.yaml` and `models.yaml` of a binding folder. Broken YAML, a card that is not a
 * mapping, a models file that is not a list, or a bad `host_api`/`entry` type is a `PluginManifest` error
 * naming the folder, the file and (for YAML syntax) the line and column.
 */
export async function readBindingManifest(folder: string): Promise<BindingManifest> {
  const dir = resolve(folder);
  const name = basename(dir);
  const cardFile = join(dir, BINDING_CARD_FILE);
  const modelsFile = join(dir, MODELS_FILE);

  const card = (await readYaml(dir, cardFile)) ?? {};
  if (!isRecord(card)) throw PluginManifest(`binding ${dir}: ${BINDING_CARD_FILE} must be a mapping`, { file: cardFile });
  const models = (await readYaml(dir, modelsFile)) ?? [];
  if (!Array.isArray(models)) throw PluginManifest(`binding ${dir}: ${MODELS_FILE} must be a list`, { file: modelsFile });

  const declared = card['host_api'];
  if (declared !== undefined && declared !== null && typeof declared !== 'string') {
    throw PluginManifest(`binding ${dir}: host_api in ${BINDING_CARD_FILE} must be a string such as "^1.0.0"`, { file: cardFile });
  }
  const entry = card['entry'] ?? DEFAULT_ENTRY;
  if (typeof entry !== 'string' || entry === '') {
    throw PluginManifest(`binding ${dir}: entry in ${BINDING_CARD_FILE} must be a file name`, { file: cardFile });
  }
  // The entry must stay inside the folder: the folder is the unit that is watched, hot-reloaded and removed.
  const rel = relative(dir, resolve(dir, entry));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw PluginManifest(`binding ${dir}: entry "${entry}" must be a file inside the binding folder`, { file: cardFile });
  }

  const python = existsSync(join(dir, rel)) ? undefined : PYTHON_BINDING_FILES.find((file) => existsSync(join(dir, file)));
  return {
    name,
    folder: dir,
    card,
    models,
    hostApi: typeof declared === 'string' ? declared : DEFAULT_HOST_API,
    hostApiDeclared: typeof declared === 'string',
    entry: rel,
    ...(python ? { python } : {}),
  };
}

/**
 * Refuse to load an original Python binding with a message that says so (`LH_ERR_PLUGIN_PYTHON`), instead of a
 * missing-entry compile error: lollms-host runs TypeScript bindings only.
 */
export function refusePythonBinding(manifest: BindingManifest): void {
  if (!manifest.python) return;
  throw PluginPython(
    `binding "${manifest.name}" is a Python binding (${manifest.python}), and lollms-host does not run Python bindings. ` +
      'Write it as a TypeScript binding: see docs/writing-a-binding.md (lollms-host new binding <name> scaffolds one).',
    { file: join(manifest.folder, manifest.python) },
  );
}

/** Parse one YAML file; a syntax error becomes a `PluginManifest` error with file, line and column. */
async function readYaml(folder: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw PluginManifest(`binding ${folder}: cannot read ${basename(file)}: ${(error as Error).message}`, { file, cause: error });
  }
  return parseYaml(text, { file, syntaxError: PluginManifest, describe: (where, reason) => `binding ${folder}: broken YAML in ${where}: ${reason}` }).value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
