import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { BINDING_CARD_FILE, MODELS_FILE } from './discovery.js';
import { loadBindingPlugin } from './load-binding.js';
import { problemOf, withFrame, type PluginProblem } from './build-errors.js';
import { lintPersonality } from '../personalities/lint.js';
import { typeCheckProcessor, typeProblem } from './typecheck.js';
import { PERSONALITY_CONFIG_FILE, loadPersonalityConfig } from '../personalities/config.js';
import { disposeVersion, loadPersonalityVersion, sandboxLimits } from '../personalities/version.js';
import { PROCESSOR_ENTRY } from '../sandbox/index.js';
import { PluginCompile } from '../errors.js';
import { defaultConfig } from '../config.js';
import { createLogger } from '../logger.js';

/** The outcome of `lollms-host check <folder>`. */
export interface CheckResult {
  kind: 'binding' | 'personality' | 'unknown';
  /** The plugin's folder, absolute. */
  folder: string;
  /** The plugin's name when it loaded. */
  name?: string;
  version?: string;
  /** What is sure to fail at run time (files relative to `folder`). Empty when the plugin is good. */
  errors: PluginProblem[];
  /** What works but is likely a mistake. */
  warnings: PluginProblem[];
  /** What was checked, for the report. */
  checked: string[];
}

export interface CheckOptions {
  /** Type-check a personality's processor with the TypeScript compiler. Default true. */
  typecheck?: boolean;
  /** Aborting stops the type check. */
  signal?: AbortSignal;
}

/**
 * Validate a binding or personality folder without starting a server: YAML, API range, compile and a trial
 * load (a binding is imported and must be a `defineBinding`; a personality's processor runs its trial load in
 * a sandbox and its settings template is checked); for a personality also what the config asks that cannot
 * work (`lintPersonality`) and the processor's types (`typeCheckProcessor`). Plugin developers run it in
 * their own CI.
 */
export async function checkPlugin(folderArg: string, options: CheckOptions = {}): Promise<CheckResult> {
  const folder = resolve(folderArg);
  const logger = createLogger({ level: 'silent' });
  if (existsSync(join(folder, BINDING_CARD_FILE)) || existsSync(join(folder, MODELS_FILE))) {
    const checked = ['binding_card.yaml', 'models.yaml', 'host_api range', 'compile', 'import + defineBinding export'];
    const cacheDir = await mkdtemp(join(tmpdir(), 'lollms-check-'));
    try {
      const plugin = await loadBindingPlugin(folder, { cacheDir, logger });
      return { kind: 'binding', folder, name: plugin.name, version: plugin.version, errors: [], warnings: [], checked };
    } catch (error) {
      return { kind: 'binding', folder, errors: [await problemOf(error, folder)], warnings: [], checked };
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
  if (existsSync(join(folder, PERSONALITY_CONFIG_FILE))) return checkPersonality(folder, options, logger);
  return {
    kind: 'unknown',
    folder,
    errors: [{ message: `not a plugin: a binding has ${BINDING_CARD_FILE} and ${MODELS_FILE}, a personality has ${PERSONALITY_CONFIG_FILE}` }],
    warnings: [],
    checked: [],
  };
}

async function checkPersonality(folder: string, options: CheckOptions, logger: ReturnType<typeof createLogger>): Promise<CheckResult> {
  const hasProcessor = existsSync(join(folder, PROCESSOR_ENTRY));
  const typecheck = hasProcessor && options.typecheck !== false;
  const checked = ['config.yaml', 'host_api range', 'processor_cfg', 'name'];
  if (hasProcessor) checked.push('processor compile', 'processor trial load', 'settings template');
  if (typecheck) checked.push('processor types');
  const result: CheckResult = { kind: 'personality', folder, errors: [], warnings: [], checked };

  let compiled = true;
  try {
    const version = await loadPersonalityVersion(folder, { limits: sandboxLimits(defaultConfig()), logger });
    result.name = version.config.name;
    result.version = version.config.version;
    try {
      const lint = await lintPersonality({
        folder,
        config: version.config,
        ...(version.processor ? { hooks: version.processor.hooks } : {}),
      });
      result.errors.push(...lint.errors);
      result.warnings.push(...lint.warnings);
    } finally {
      await disposeVersion(version);
    }
  } catch (error) {
    compiled = !(error instanceof Error && (error as { code?: unknown }).code === PluginCompile.code);
    result.errors.push(await problemOf(error, folder));
    // A processor that failed its trial load: the config may still ask for what cannot work.
    const config = await loadPersonalityConfig(folder).catch(() => undefined);
    if (config) {
      const lint = await lintPersonality({ folder, config });
      result.errors.push(...lint.errors);
      result.warnings.push(...lint.warnings);
    }
  }

  // A build error is the compiler's to report: the type checker would only say it again.
  if (typecheck && compiled) {
    const types = await typeCheckProcessor(folder, options.signal ? { signal: options.signal } : {});
    if (types.skipped) result.warnings.push({ message: `types not checked: ${types.skipped}` });
    for (const diagnostic of types.diagnostics) {
      (diagnostic.category === 'error' ? result.errors : result.warnings).push(typeProblem(diagnostic));
    }
    if (types.omitted > 0) result.errors.push({ message: `and ${types.omitted} more type errors` });
  }
  result.errors = await Promise.all(result.errors.map((p) => withFrame(p, folder)));
  result.warnings = await Promise.all(result.warnings.map((p) => withFrame(p, folder)));
  return result;
}

/**
 * One problem as a compiler prints it: `scripts/processor.ts:11:9 - error TS2322: message`, the file relative
 * to `cwd` (absolute when outside it), then its code frame.
 */
export function formatProblem(problem: PluginProblem, severity: 'error' | 'warning', folder: string, cwd = process.cwd()): string {
  let where = '';
  if (problem.file !== undefined) {
    const absolute = join(folder, problem.file);
    const fromCwd = relative(cwd, absolute);
    where = fromCwd.startsWith(`..${sep}`) || fromCwd === '..' ? absolute : fromCwd;
    if (problem.line !== undefined) where += `:${problem.line}${problem.column !== undefined ? `:${problem.column}` : ''}`;
  } else {
    where = relative(cwd, folder) || '.';
    if (where.startsWith(`..${sep}`)) where = folder;
  }
  const head = `${where} - ${severity}${problem.code ? ` ${problem.code}` : ''}: ${withoutPlace(problem)}`;
  return problem.frame ? `${head}\n\n${problem.frame}\n` : head;
}

/** The message without the `personality "x": file:line:col: ` a build error starts with (the line already says where). */
function withoutPlace(problem: PluginProblem): string {
  if (problem.file === undefined || problem.line === undefined) return problem.message;
  const place = `${problem.file}:${problem.line}${problem.column !== undefined ? `:${problem.column}` : ''}: `;
  const label = /^(?:personality "[^"]*"|binding [^\n]*?): /.exec(problem.message);
  return label && problem.message.startsWith(place, label[0].length) ? problem.message.slice(label[0].length + place.length) : problem.message;
}

/** `lollms-host check`'s report of one folder: its problems, then a summary line. */
export function formatCheckResult(result: CheckResult, cwd = process.cwd()): { problems: string[]; summary: string } {
  const problems = [
    ...result.errors.map((p) => formatProblem(p, 'error', result.folder, cwd)),
    ...result.warnings.map((p) => formatProblem(p, 'warning', result.folder, cwd)),
  ];
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const warnings = result.warnings.length > 0 ? `, ${count(result.warnings.length, 'warning')}` : '';
  const summary =
    result.errors.length > 0
      ? `${result.folder}: ${count(result.errors.length, 'error')}${warnings}`
      : `${result.folder}: ok${warnings} (${result.kind} "${result.name}" ${result.version}; checked ${result.checked.join(', ')})`;
  return { problems, summary };
}
