/**
 * What `lollms-host check` and a watching host say about a personality beyond "it loads": problems that are
 * sure to fail at run time (errors) and ones that work but are likely mistakes (warnings), each with its place
 * in `config.yaml` when it has one.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { PERSONALITY_CONFIG_FILE, type PersonalityConfig } from './config.js';
import { nameMatchesFolder } from './folder-name.js';
import type { ProcessorHook } from '../sandbox/index.js';
import type { PluginProblem } from '../plugins/build-errors.js';

/** Where the porting guide is, for errors about Python processors. */
export const PORTING_GUIDE = 'docs/writing-a-personality.md, "Porting a Python processor"';

const HOOK_OF_FLAG = {
  custom_workflow: 'runWorkflow',
  process_model_input: 'processModelInput',
  process_model_output: 'processModelOutput',
} as const satisfies Record<string, ProcessorHook>;
type HookFlag = keyof typeof HOOK_OF_FLAG;

/** What a lint knows of a loaded personality. */
export interface LintInput {
  folder: string;
  config: PersonalityConfig;
  /** The hooks `scripts/processor.ts` defines, when it has one and it loaded. */
  hooks?: Readonly<Record<ProcessorHook, boolean>>;
}

export interface LintResult {
  errors: PluginProblem[];
  warnings: PluginProblem[];
}

/** The problems of a personality that loaded. */
export async function lintPersonality(input: LintInput): Promise<LintResult> {
  const { folder, config } = input;
  const errors: PluginProblem[] = [];
  const warnings: PluginProblem[] = [];
  const places = await configPlaces(join(folder, PERSONALITY_CONFIG_FILE));
  const inConfig = (message: string, ...path: string[]): PluginProblem => ({ message, file: PERSONALITY_CONFIG_FILE, ...places(path) });

  const hasTs = existsSync(join(folder, 'scripts', 'processor.ts'));
  const hasPy = existsSync(join(folder, 'scripts', 'processor.py'));
  const cfg = config.processor_cfg;
  const flags = (Object.keys(HOOK_OF_FLAG) as HookFlag[]).filter((flag) => cfg?.[flag] === true);

  if (!hasTs && hasPy) {
    for (const flag of flags) {
      errors.push(
        inConfig(
          `processor_cfg.${flag} asks for a hook of scripts/processor.py, and lollms-host does not run Python processors: ` +
            `port it to scripts/processor.ts (see ${PORTING_GUIDE})`,
          'processor_cfg',
          flag,
        ),
      );
    }
  } else if (!hasTs) {
    for (const flag of flags) {
      warnings.push(
        inConfig(
          `processor_cfg.${flag} is true, but the personality has no scripts/processor.ts: it generates as a plain personality`,
          'processor_cfg',
          flag,
        ),
      );
    }
  } else if (input.hooks) {
    for (const flag of flags) {
      const hook = HOOK_OF_FLAG[flag];
      if (!input.hooks[hook]) {
        errors.push(inConfig(`processor_cfg.${flag} asks for ${hook}, but scripts/processor.ts defines no ${hook}: every turn fails`, 'processor_cfg', flag));
      }
    }
  }
  if (hasTs && hasPy) {
    warnings.push({ message: 'scripts/processor.py is ignored: scripts/processor.ts is the processor', file: 'scripts/processor.py' });
  }
  if (config.host_api === undefined) {
    warnings.push(
      inConfig(
        'no host_api: add `host_api: "^1.0.0"` (the plugin API range the personality is written for), so that a host it does not fit refuses it with a clear error',
      ),
    );
  }
  const folderName = basename(folder);
  if (!nameMatchesFolder(config.name, folderName)) {
    warnings.push(inConfig(`name "${config.name}" does not match the folder "${folderName}": clients list it by folder and show the name`, 'name'));
  }
  return { errors, warnings };
}

/** Line and column (1-based) of a key path in a YAML file, e.g. `processor_cfg`, `custom_workflow`. */
async function configPlaces(file: string): Promise<(path: string[]) => { line?: number; column?: number }> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return () => ({});
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
  return (path) => {
    let node: unknown = doc.contents;
    let offset: number | undefined;
    for (const key of path) {
      if (!isMap(node)) return {};
      // The last of duplicated keys wins, as the loader reads them.
      const pair = node.items.filter((item) => isScalar(item.key) && item.key.value === key).at(-1);
      if (!pair || !isScalar(pair.key)) return {};
      offset = pair.key.range?.[0];
      node = pair.value;
    }
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
}
