/**
 * Processor settings (issue 5): validating values against a processor's `SettingsTemplate`, and persisting
 * them per personality in the data dir, migrating saved values when the template changes.
 *
 * Only the values a user set are saved (`<dataDir>/settings/personalities/<safe id>.yaml`), so a new default
 * in a processor update reaches everyone who never changed that setting.
 */
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import YAML from 'yaml';
import { SettingInvalid, SettingUnknown } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { SettingValue, SettingsTemplate } from '../../plugin-api/processor.js';
import { boundProblem, DEFAULT_SETTING_MAX_BYTES, SETTING_TYPES, settingProblem, show } from './setting-rules.js';

export { DEFAULT_SETTING_MAX_BYTES };

export type SettingsValues = Record<string, SettingValue>;

/** Check a template itself: known types and defaults that fit. Throws `SettingInvalid` naming the setting. */
export function validateTemplate(template: SettingsTemplate, maxBytes = DEFAULT_SETTING_MAX_BYTES): void {
  for (const [name, entry] of Object.entries(template)) {
    if (typeof entry !== 'object' || entry === null || !SETTING_TYPES.has(entry.type)) {
      throw SettingInvalid(`setting "${name}": type must be one of int, float, str, bool, list`);
    }
    const bound = boundProblem(entry.max);
    if (bound) throw SettingInvalid(`setting "${name}": ${bound}`);
    const problem = settingProblem(entry, entry.value, maxBytes);
    if (problem) throw SettingInvalid(`setting "${name}": the default value does not fit its template: ${problem}`);
  }
}

/** The template's defaults (copies). */
export function defaultSettings(template: SettingsTemplate): SettingsValues {
  return Object.fromEntries(Object.entries(template).map(([name, entry]) => [name, structuredClone(entry.value)]));
}

/**
 * Check `values` (any subset of the template's settings) and return a copy. An unknown name throws
 * `SettingUnknown`; a value of the wrong type, out of range or not among `options` throws `SettingInvalid`,
 * each naming the setting and why.
 */
export function validateSettings(template: SettingsTemplate, values: unknown, maxBytes = DEFAULT_SETTING_MAX_BYTES): SettingsValues {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw SettingInvalid(`settings must be an object of setting names to values, got ${show(values)}`);
  }
  const out: SettingsValues = {};
  for (const [name, value] of Object.entries(values)) {
    if (!Object.hasOwn(template, name)) {
      const known = Object.keys(template);
      throw SettingUnknown(`unknown setting ${show(name)} (${known.length === 0 ? 'this personality has no settings' : `known: ${known.join(', ')}`})`);
    }
    const problem = settingProblem(template[name]!, value, maxBytes);
    if (problem) throw SettingInvalid(`setting "${name}": ${problem}`);
    out[name] = structuredClone(value) as SettingValue;
  }
  return out;
}

/**
 * The file name for a personality id (`english/generic/lollms`, `coaching/mental health advisor`): every
 * character but letters, digits, `_` and `-` percent-encoded, so distinct ids never share a file and no id can
 * name a path. Very long ids are shortened with a hash.
 */
export function settingsFileName(id: string): string {
  return personalityFileName(id, '.yaml');
}

/** A file name for a personality id with `extension` (see `settingsFileName`): no id can name a path. */
export function personalityFileName(id: string, extension: string): string {
  const encoded = Array.from(new TextEncoder().encode(id), (byte) => {
    const c = String.fromCharCode(byte);
    return /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
  if (encoded.length <= 200) return `${encoded}${extension}`;
  return `${encoded.slice(0, 150)}-${createHash('sha256').update(id).digest('hex').slice(0, 16)}${extension}`;
}

export interface PersonalitySettingsStoreOptions {
  /** The host's data dir; files go to `<dataDir>/settings/personalities/`. */
  dataDir: string;
  /** Bound on one value (`personality_setting_max_bytes`), read on every use. Default `DEFAULT_SETTING_MAX_BYTES`. */
  maxValueBytes?: () => number;
}

export interface SettingsResult {
  /** The template's defaults overlaid with the saved values. */
  values: SettingsValues;
  /** What migration did: saved values reset to their default or dropped (for the log). */
  warnings: string[];
}

export class PersonalitySettingsStore {
  readonly folder: string;
  readonly #maxValueBytes: () => number;
  /** Operations per id run one after another, so a read-modify-write never interleaves with another. */
  #queues = new Map<string, Promise<unknown>>();

  constructor(options: PersonalitySettingsStoreOptions) {
    this.folder = join(options.dataDir, 'settings', 'personalities');
    this.#maxValueBytes = options.maxValueBytes ?? (() => DEFAULT_SETTING_MAX_BYTES);
  }

  /** The file holding `id`'s saved values. */
  fileFor(id: string): string {
    return join(this.folder, settingsFileName(id));
  }

  /**
   * `id`'s settings under `template`. A saved value that no longer fits the template (type, range, options) is
   * reset to the default, and a saved name the template no longer has is dropped, each with a warning; the
   * migrated values are saved back so the warning comes once.
   */
  get(id: string, template: SettingsTemplate): Promise<SettingsResult> {
    return this.#serial(id, async () => {
      const { saved, warnings } = await this.#load(id, template);
      return { values: { ...defaultSettings(template), ...structuredClone(saved) }, warnings };
    });
  }

  /**
   * Validate `changes` (a subset of the settings), save them over the current values and return the result. A
   * refused change (any value out of bounds) saves nothing: every current value stays.
   */
  async set(id: string, template: SettingsTemplate, changes: unknown): Promise<SettingsResult> {
    const valid = validateSettings(template, changes, this.#maxValueBytes());
    return this.#serial(id, async () => {
      const { saved, warnings } = await this.#load(id, template);
      const next = { ...saved, ...valid };
      await this.#write(id, next);
      return { values: { ...defaultSettings(template), ...structuredClone(next) }, warnings };
    });
  }

  /** The saved values that still fit `template`; rewrites the file when migration changed them. */
  async #load(id: string, template: SettingsTemplate): Promise<{ saved: SettingsValues; warnings: string[] }> {
    const file = this.fileFor(id);
    const warnings: string[] = [];
    const maxBytes = this.#maxValueBytes();
    // A file far larger than the template's values can be (written before the bounds existed, or by hand) is
    // not even parsed: it is set aside as `<file>.rejected` and the defaults apply.
    const fileLimit = Math.max(1024 * 1024, (Object.keys(template).length + 1) * (maxBytes * 4 + 4096));
    const size = await stat(file).then((s) => s.size, () => 0);
    if (size > fileLimit) {
      await rename(file, `${file}.rejected`).catch(() => {});
      warnings.push(`personality ${id}: the saved settings file is ${size} bytes, above what its settings can hold (${fileLimit}); set aside as ${settingsFileName(id)}.rejected, using the defaults`);
      return { saved: {}, warnings };
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return { saved: {}, warnings };
      throw error;
    }
    let raw: unknown;
    try {
      raw = YAML.parse(text);
    } catch (error) {
      warnings.push(`${file}: unreadable (${(error as Error).message.split('\n')[0]}); using the defaults`);
      return { saved: {}, warnings };
    }
    if (raw === null || raw === undefined) return { saved: {}, warnings };
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      warnings.push(`${file}: not a mapping of settings; using the defaults`);
      return { saved: {}, warnings };
    }
    const saved: SettingsValues = {};
    let changed = false;
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const entry = template[name];
      if (!Object.hasOwn(template, name) || !entry) {
        warnings.push(`personality ${id}: setting "${name}" is no longer in the template; dropped the saved value ${show(value)}`);
        changed = true;
        continue;
      }
      const problem = settingProblem(entry, value, maxBytes);
      if (problem) {
        warnings.push(`personality ${id}: saved value of setting "${name}" no longer fits (${problem}); reset to the default ${show(entry.value)}`);
        changed = true;
        continue;
      }
      saved[name] = value as SettingValue;
    }
    if (changed) await this.#write(id, saved);
    return { saved, warnings };
  }

  async #write(id: string, saved: SettingsValues): Promise<void> {
    await mkdir(this.folder, { recursive: true });
    const header = `# Settings of personality ${JSON.stringify(id)} (the values a user set; the others come from the processor's template).\n`;
    await writeFileAtomic(this.fileFor(id), header + YAML.stringify(saved));
  }

  #serial<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => {});
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return run;
  }
}
