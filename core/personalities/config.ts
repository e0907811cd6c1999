/**
 * A personality's `config.yaml` (lollms-reference §4.2): the original keys with the original defaults, a type
 * check of every known key, unknown keys kept in `extra`, and the `{{date}}`-style placeholders filled at access.
 */
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isMap, isScalar } from 'yaml';
import semver from 'semver';
import { PersonalityConfigInvalid, PersonalityConfigSyntax, PersonalityConfigTooLarge, PersonalityNotFound } from '../errors.js';
import { formatLocation, parseYaml, type YamlOddity } from '../util/yaml.js';
import type { PersonalityView } from '../../plugin-api/processor.js';
import { fillPlaceholders } from './conditioning.js';

export const PERSONALITY_CONFIG_FILE = 'config.yaml';

/**
 * Largest `config.yaml` the host reads, in bytes. Real configs are under 11 KB (the whole original zoo); a 20 MB
 * flow-style file once took the host's heap down, and 8 MB cost 21 s per listing.
 */
export const MAX_PERSONALITY_CONFIG_BYTES = 256 * 1024;

/** Which processor hooks the host calls (`processor_cfg`). */
export interface ProcessorCfg {
  custom_workflow?: boolean;
  process_model_input?: boolean;
  process_model_output?: boolean;
  /** Other keys are kept as written. */
  [key: string]: unknown;
}

/** One entry of `commands` (shown by UIs; `value` is what the command sends). */
export interface PersonalityCommand {
  name: string;
  value?: unknown;
  help?: string;
  [key: string]: unknown;
}

/** The known keys of `config.yaml`, after defaults. */
export interface PersonalityConfigValues {
  /** The personality's version; a YAML number (`version: 1.0`) is kept as written (`"1.0"`). */
  version: string;
  author: string;
  name: string;
  user_name: string;
  /** Informational in a three-level zoo (the folder wins); the listing language in a two-level zoo. */
  language: string;
  category: string;
  personality_description: string;
  /** As written, with `{{date}}` etc. unfilled; use `conditioning()` for the text to send. */
  personality_conditioning: string;
  /** As written; use `welcomeMessage()` for the filled text. */
  welcome_message: string;
  /** Sic (the original's spelling). */
  include_welcome_message_in_disucssion: boolean;
  user_message_prefix: string;
  link_text: string;
  ai_message_prefix: string;
  anti_prompts: string[];
  dependencies: string[];
  disclaimer: string;
  help: string;
  commands: PersonalityCommand[];
  model_temperature: number;
  model_n_predicts: number;
  model_top_k: number;
  model_top_p: number;
  model_repeat_penalty: number;
  model_repeat_last_n: number;
  /** `undefined` when the key is absent, which is not the same as `{}` (issue 5: absent = use every hook defined). */
  processor_cfg: ProcessorCfg | undefined;
  /** Semver range of the plugin API the personality's processor needs, e.g. `"^1.0.0"`. */
  host_api: string | undefined;
  /**
   * Which personalities may run this one with `ctx.callPersonality` (issue 15): absent or `true` every one,
   * `false` none, or a list of zoo paths (`language/category/name` or `category/name`; `"*"` is every one).
   */
  callable_by: boolean | string[] | undefined;
}

/** A loaded personality config. */
export interface PersonalityConfig extends Readonly<PersonalityConfigValues> {
  /** Absolute folder of the personality. */
  readonly folder: string;
  /** Absolute path of its `config.yaml`. */
  readonly file: string;
  /** Keys the file sets (the listing applies the original listing defaults for the others). */
  readonly declaredKeys: ReadonlySet<string>;
  /** Keys the loader does not know (`lollms_version`, `recommended_model`, ...), as parsed. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** PyYAML-only constructs the file uses, read as the original did (for a warning; see core/util/yaml.ts). */
  readonly yamlOddities: readonly YamlOddity[];
  /** `personality_conditioning` with `{{date}}`, `{{time}}`, `{{date_time}}` filled for `now`. */
  conditioning(now?: Date): string;
  /** `welcome_message`, filled the same way. */
  welcomeMessage(now?: Date): string;
  /** The read-only copy a processor sees as `ctx.personality` (plain data, placeholders filled). */
  view(now?: Date): PersonalityView;
}

/** The original loader's defaults (`AIPersonality` at `84bed48`), except `version` (the listing's `1.0.0`). */
export const PERSONALITY_DEFAULTS: Readonly<Omit<PersonalityConfigValues, 'processor_cfg' | 'host_api' | 'callable_by'>> = Object.freeze({
  version: '1.0.0',
  author: 'ParisNeo',
  name: 'lollms',
  user_name: 'user',
  language: 'english',
  category: 'General',
  personality_description: 'This personality is a helpful and Kind AI ready to help you solve your problems',
  personality_conditioning: [
    '## Instructions:',
    'lollms (Lord of LLMs) is a smart and helpful Assistant built by the computer geek ParisNeo.',
    'It is compatible with many bindings to LLM models such as llama, gpt4all, gptj, autogptq etc.',
    'It can discuss with humans and assist them on many subjects.',
    'It runs locally on your machine. No need to connect to the internet.',
    'It answers the questions with precise details',
    'Its performance depends on the underlying model size and training.',
    'Try to answer with as much details as you can',
    'Date: {{date}}',
    '',
  ].join('\n'),
  welcome_message: 'Welcome! I am lollms (Lord of LLMs) A free and open assistant built by ParisNeo. What can I do for you today?',
  include_welcome_message_in_disucssion: true,
  user_message_prefix: '## Human: ',
  link_text: '\n',
  ai_message_prefix: '## lollms:',
  anti_prompts: ['## Human', '## lollms', '##Human', '##Assistant', '##lollms'],
  dependencies: [],
  disclaimer: '',
  help: '',
  commands: [],
  model_temperature: 0.8,
  model_n_predicts: 2048,
  model_top_k: 50,
  model_top_p: 0.95,
  model_repeat_penalty: 1.3,
  model_repeat_last_n: 40,
});

type Kind = 'string' | 'boolean' | 'integer' | 'number' | 'string[]' | 'commands';

const KINDS: Record<keyof typeof PERSONALITY_DEFAULTS, Kind> = {
  version: 'string',
  author: 'string',
  name: 'string',
  user_name: 'string',
  language: 'string',
  category: 'string',
  personality_description: 'string',
  personality_conditioning: 'string',
  welcome_message: 'string',
  include_welcome_message_in_disucssion: 'boolean',
  user_message_prefix: 'string',
  link_text: 'string',
  ai_message_prefix: 'string',
  anti_prompts: 'string[]',
  dependencies: 'string[]',
  disclaimer: 'string',
  help: 'string',
  commands: 'commands',
  model_temperature: 'number',
  model_n_predicts: 'integer',
  model_top_k: 'integer',
  model_top_p: 'number',
  model_repeat_penalty: 'number',
  model_repeat_last_n: 'integer',
};

const KIND_TEXT: Record<Kind, string> = {
  string: 'a string',
  boolean: 'a boolean',
  integer: 'an integer',
  number: 'a number',
  'string[]': 'a list of strings',
  commands: 'a list of {name, value, help} mappings',
};

const PROCESSOR_FLAGS = ['custom_workflow', 'process_model_input', 'process_model_output'] as const;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function fits(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'commands':
      return Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { name?: unknown }).name === 'string');
  }
}

export interface ParsePersonalityConfigOptions {
  /** Path of the file, for error messages and `PersonalityConfig.file`. */
  file: string;
  /** The personality's folder. */
  folder: string;
}

/** Parse and check the text of a `config.yaml`. Throws `PersonalityConfigSyntax` (with line) or `PersonalityConfigInvalid`. */
export function parsePersonalityConfig(text: string, options: ParsePersonalityConfigOptions): PersonalityConfig {
  const { file, folder } = options;
  // Read as the original did (PyYAML): see core/util/yaml.ts for what that changes.
  const parsed = parseYaml(text, { file, syntaxError: PersonalityConfigSyntax, pyyaml: true });
  const doc = parsed.document;
  if (!isMap(doc.contents)) throw PersonalityConfigInvalid(`${file}: a personality config must be a YAML mapping of keys to values`, { file });
  const raw = parsed.value as Record<string, unknown>;
  const invalid = (key: string, expected: string, value: unknown) => {
    const position = parsed.positionOf(key.split('.'));
    return PersonalityConfigInvalid(`${formatLocation(file, position)}: "${key}" must be ${expected} (got ${describe(value)})`, { file, ...(position ?? {}) });
  };

  const values: Record<string, unknown> = structuredClone(PERSONALITY_DEFAULTS) as Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  const declaredKeys = new Set<string>();
  for (const [key, value] of Object.entries(raw)) {
    // An empty value (`disclaimer:`) is null in YAML; the original would then crash later, so take the default.
    if (value === null || value === undefined) continue;
    declaredKeys.add(key);
    if (key === 'version') {
      if (typeof value === 'number') {
        // Keep the number as written: `1.0` and `1.10` must not become "1" and "1.1".
        const node = doc.get('version', true);
        values.version = isScalar(node) && typeof node.source === 'string' && node.source !== '' ? node.source : String(value);
      } else if (typeof value === 'string') values.version = value;
      else throw invalid(key, 'a string or a number', value);
    } else if (key === 'processor_cfg') {
      if (typeof value !== 'object' || Array.isArray(value)) throw invalid(key, 'a mapping of flags', value);
      for (const flag of PROCESSOR_FLAGS) {
        const v = (value as Record<string, unknown>)[flag];
        if (v !== undefined && v !== null && typeof v !== 'boolean') throw invalid(`processor_cfg.${flag}`, 'a boolean', v);
      }
      values.processor_cfg = value;
    } else if (key === 'callable_by') {
      const ok = typeof value === 'boolean' || (Array.isArray(value) && value.length <= 256 && value.every((v) => typeof v === 'string' && v !== '' && v.length <= 4096));
      if (!ok) throw invalid(key, 'true, false or a list of personality paths', value);
      values.callable_by = value;
    } else if (key === 'host_api') {
      if (typeof value !== 'string' || semver.validRange(value) === null) throw invalid(key, 'a semver range such as "^1.0.0"', value);
      values.host_api = value;
    } else if (Object.hasOwn(KINDS, key)) {
      const kind = KINDS[key as keyof typeof KINDS];
      if (!fits(kind, value)) throw invalid(key, KIND_TEXT[kind], value);
      values[key] = value;
    } else {
      extra[key] = value;
    }
  }

  const config = values as unknown as PersonalityConfigValues;
  const result: PersonalityConfig = {
    ...config,
    processor_cfg: config.processor_cfg,
    host_api: config.host_api,
    callable_by: config.callable_by,
    folder,
    file,
    declaredKeys,
    extra,
    yamlOddities: parsed.oddities,
    conditioning: (now?: Date) => fillPlaceholders(config.personality_conditioning, now),
    welcomeMessage: (now?: Date) => fillPlaceholders(config.welcome_message, now),
    view: (now?: Date): PersonalityView => ({
      name: config.name,
      folder: basename(folder),
      author: config.author,
      version: config.version,
      language: config.language,
      // The folder decides the category, as in listings (the key in config.yaml is informational).
      category: basename(dirname(folder)),
      user_message_prefix: config.user_message_prefix,
      ai_message_prefix: config.ai_message_prefix,
      link_text: config.link_text,
      anti_prompts: [...config.anti_prompts],
      personality_conditioning: fillPlaceholders(config.personality_conditioning, now),
      model_temperature: config.model_temperature,
      model_n_predicts: config.model_n_predicts,
      model_top_k: config.model_top_k,
      model_top_p: config.model_top_p,
      model_repeat_penalty: config.model_repeat_penalty,
      model_repeat_last_n: config.model_repeat_last_n,
    }),
  };
  return result;
}

/**
 * Read a personality config file, refusing one larger than `MAX_PERSONALITY_CONFIG_BYTES` before reading it
 * (`PersonalityConfigTooLarge`). The size is checked on the open file, so a file that grows in between is cut
 * at the limit and refused too.
 */
export async function readPersonalityConfigText(file: string, folder: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw PersonalityNotFound(`no ${PERSONALITY_CONFIG_FILE} in ${folder}`, { file, cause: error });
    throw error;
  }
  try {
    const tooLarge = (size: string) =>
      PersonalityConfigTooLarge(`${file}: ${size} is larger than the ${MAX_PERSONALITY_CONFIG_BYTES / 1024} KiB a personality config may have; it is not read`, { file });
    const { size } = await handle.stat();
    if (size > MAX_PERSONALITY_CONFIG_BYTES) throw tooLarge(`${(size / 1024 / 1024).toFixed(1)} MB`);
    // Read what the file held when it was opened, as fs.readFile does: one read in the usual case.
    const buffer = Buffer.alloc(size);
    let length = 0;
    while (length < size) {
      const { bytesRead } = await handle.read(buffer, length, size - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Load `<folder>/config.yaml`. Throws `PersonalityNotFound` when it is missing, `PersonalityConfigTooLarge` above
 * `MAX_PERSONALITY_CONFIG_BYTES`, `PersonalityConfigSyntax` for broken YAML (file, line and column) and
 * `PersonalityConfigInvalid` for a wrongly typed key (key, file, line and column).
 */
export async function loadPersonalityConfig(folder: string): Promise<PersonalityConfig> {
  const file = join(folder, PERSONALITY_CONFIG_FILE);
  return parsePersonalityConfig(await readPersonalityConfigText(file, folder), { file, folder });
}
