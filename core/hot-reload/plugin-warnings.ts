/**
 * A watching host's warnings about personalities it reloaded, as Vite shows type errors without blocking the
 * reload: after a new version was swapped in (so that checking never delays serving it), the config is linted
 * and the processor type-checked in the background, and the result is broadcast as `plugin_warning` and
 * logged. An empty list is broadcast when a later save fixed the earlier warnings.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.js';
import type { PluginWarning, PluginWarningEvent } from '../protocol/index.js';
import type { PersonalityVersion } from '../personalities/version.js';
import { withFrame, type PluginProblem } from '../plugins/build-errors.js';
import { lintPersonality } from '../personalities/lint.js';
import { typeCheckProcessor, typeProblem } from '../plugins/typecheck.js';

/** Most warnings in one event (the rest are counted in a last one). */
const MAX_WARNINGS = 50;
/** Quiet time after a reload before its check starts: a burst of saves (or of reloads) starts one compiler, not one each. */
const QUIET_MS = 300;

export interface PluginWarningsOptions {
  /** Broadcasts the event to every client. */
  emit(event: 'plugin_warning', payload: PluginWarningEvent): void;
  logger: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  /** Type-check processors. Default true. */
  typecheck?: boolean;
}

export class PluginWarnings {
  readonly #options: PluginWarningsOptions;
  /** The check in flight per folder; a newer version's check replaces it. */
  readonly #running = new Map<string, AbortController>();
  /** Folders whose last broadcast had warnings: a clean check then sends an empty list. */
  readonly #shown = new Set<string>();
  #disposed = false;

  constructor(options: PluginWarningsOptions) {
    this.#options = options;
  }

  /**
   * Check the personality `version` (just loaded from `folder`) in the background. Returns the check's
   * promise, which never rejects (callers do not wait for it; tests may).
   */
  personalityLoaded(version: PersonalityVersion): Promise<void> {
    const { folder, config } = version;
    this.#running.get(folder)?.abort();
    if (this.#disposed) return Promise.resolve();
    const controller = new AbortController();
    this.#running.set(folder, controller);
    // Read now: the version may be disposed (an unmounted trial load) before the check ends.
    const lintInput = {
      folder,
      config,
      ...(version.processor ? { hooks: { ...version.processor.hooks } } : {}),
    };
    const hasProcessor = version.processor !== undefined;
    return (async () => {
      try {
        await delay(QUIET_MS, undefined, { signal: controller.signal });
        const lint = await lintPersonality(lintInput);
        const problems = [...lint.errors, ...lint.warnings];
        if (hasProcessor && this.#options.typecheck !== false) {
          const types = await typeCheckProcessor(folder, { signal: controller.signal, background: true });
          if (types.skipped) problems.push({ message: `types not checked: ${types.skipped}` });
          problems.push(...types.diagnostics.map(typeProblem));
          if (types.omitted > 0) problems.push({ message: `and ${types.omitted} more type errors` });
        }
        if (controller.signal.aborted) return;
        await this.#report(config.name, folder, problems);
      } catch (error) {
        if (!controller.signal.aborted) this.#options.logger.warn({ plugin: `personality:${config.name}`, path: folder, err: errorMessage(error) }, 'could not check the personality for warnings');
      } finally {
        if (this.#running.get(folder) === controller) this.#running.delete(folder);
      }
    })();
  }

  /** The folder's plugin was removed or failed to load: its old warnings no longer apply. */
  forget(folder: string): void {
    this.#running.get(folder)?.abort();
    this.#running.delete(folder);
  }

  /** Stop every check in flight (host shutdown). */
  dispose(): void {
    this.#disposed = true;
    for (const controller of this.#running.values()) controller.abort();
    this.#running.clear();
  }

  async #report(name: string, folder: string, problems: PluginProblem[]): Promise<void> {
    if (problems.length === 0 && !this.#shown.has(folder)) return;
    const kept = problems.slice(0, MAX_WARNINGS);
    const warnings: PluginWarning[] = [];
    for (const problem of kept) {
      const framed = await withFrame(problem, folder);
      const warning: PluginWarning = { message: problem.code ? `${problem.code}: ${problem.message}` : problem.message };
      if (framed.file !== undefined) warning.file = framed.file;
      if (framed.line !== undefined) warning.line = framed.line;
      if (framed.column !== undefined) warning.column = framed.column;
      if (framed.frame !== undefined) warning.frame = framed.frame;
      warnings.push(warning);
      const where = warning.file ? `${warning.file}${warning.line ? `:${warning.line}${warning.column ? `:${warning.column}` : ''}` : ''}: ` : '';
      this.#options.logger.warn({ plugin: `personality:${name}`, path: folder, file: warning.file, line: warning.line, column: warning.column }, `${where}${warning.message}`);
    }
    if (problems.length > kept.length) warnings.push({ message: `and ${problems.length - kept.length} more warnings` });
    if (this.#disposed) return;
    if (warnings.length > 0) this.#shown.add(folder);
    else this.#shown.delete(folder);
    this.#options.emit('plugin_warning', { kind: 'personality', name, path: folder, warnings });
  }
}
