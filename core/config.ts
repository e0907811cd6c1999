import { readFile, mkdir, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir, availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import YAML, { isMap, type Document } from 'yaml';
import { z } from 'zod';
import { ConfigInvalid, ConfigSyntax } from './errors.js';
import { writeFileAtomic } from './util/atomic-write.js';
import { formatLocation, parseYaml, type ParsedYaml, type YamlPosition } from './util/yaml.js';
import { nearest } from './util/nearest.js';
import { LOG_LEVELS } from './logger.js';
import { BUILTIN_BINDINGS_PATH, BUILTIN_PERSONALITIES_PATH } from './util/package-root.js';
import { DEFAULT_SANDBOX_LIMITS as SANDBOX } from './sandbox/limits.js';
import { DEFAULT_TEXT_LIMITS as TEXT, MAX_TEXT_CHARS, MAX_TOKEN_IDS, type TextLimits } from './protocol/limits.js';
import { staticPrefixProblem } from './util/url-prefix.js';
import { keepAliveMs } from './util/duration.js';

/** Version of the config layout written by this host; `version` in the file is for future migrations. */
export const CONFIG_VERSION = 1;

/**
 * The loopback origins a browser page on this machine has. Never `null` by default: any web site can make its
 * requests carry `Origin: null` (a sandboxed iframe). Pages once opened from disk are served with `static_dirs`.
 */
export const DEFAULT_ALLOWED_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

interface KeyDef<T extends z.ZodType> {
  schema: T;
  default: z.infer<T>;
  /** One line for `--print-config`, the README and docs/configuration.md. */
  doc: string;
  /** Redacted in `/get_config` and `--print-config`. */
  secret?: boolean;
}
const key = <T extends z.ZodType>(def: KeyDef<T>) => def;

const int = () => z.number().int();
const nonEmpty = () => z.string().min(1);

/**
 * Every config key: the original lollms-server names and defaults (lollms-reference §2.3), then keys of our
 * own in the same snake_case style. This table is the single source for validation, defaults and docs.
 */
export const CONFIG_KEYS = {
  version: key({ schema: int().min(0), default: CONFIG_VERSION, doc: 'Config layout version, for migrations.' }),
  binding_name: key({ schema: nonEmpty().nullable(), default: 'llama_cpp', doc: 'Folder name of the active binding.' }),
  model_name: key({ schema: nonEmpty().nullable(), default: null, doc: 'Model file (or .reference) of the active binding; null serves the real model installed last (see "Which model serves").' }),
  host: key({ schema: nonEmpty(), default: '127.0.0.1', doc: 'Address to bind. Anything but loopback needs api_key.' }),
  port: key({ schema: int().min(0).max(65535), default: 9600, doc: 'TCP port (0 picks a free one).' }),
  seed: key({ schema: int().min(-1), default: -1, doc: 'Sampling seed for raw generation; -1 is random.' }),
  n_predict: key({ schema: int().min(1), default: 1024, doc: 'Default number of tokens to generate when a request gives no n_predicts.' }),
  ctx_size: key({ schema: int().min(16).max(1 << 20), default: 2048, doc: 'Context size in tokens of the loaded model.' }),
  temperature: key({ schema: z.number().min(0).max(100), default: 0.9, doc: 'Default sampling temperature.' }),
  top_k: key({ schema: int().min(0), default: 50, doc: 'Default top-k (0 disables).' }),
  top_p: key({ schema: z.number().min(0).max(1), default: 0.95, doc: 'Default top-p.' }),
  repeat_last_n: key({ schema: int().min(0), default: 40, doc: 'Tokens considered by the repeat penalty.' }),
  repeat_penalty: key({ schema: z.number().min(0), default: 1.2, doc: 'Default repeat penalty (1 disables).' }),
  n_threads: key({ schema: int().min(0).max(1024), default: 0, doc: 'CPU threads for the engine; 0 = cores - 1 (at least 1).' }),
  enable_gpu: key({ schema: z.boolean(), default: true, doc: 'Let the engine use a GPU when one is found.' }),
  personalities: key({ schema: z.array(nonEmpty()), default: ['english/generic/lollms'], doc: 'Mounted personalities (language/category/name or category/name); the index is the id.' }),
  active_personality_id: key({ schema: int().min(0), default: 0, doc: 'Id of the active personality.' }),
  override_personality_model_parameters: key({ schema: z.boolean(), default: false, doc: "Use the config's sampling values instead of the personality's model_* values." }),
  user_name: key({ schema: z.string(), default: 'user', doc: 'Name used for the user in discussions.' }),
  discussion_prompt_separator: key({ schema: z.string(), default: '!@>', doc: 'Separator used with use_user_name_in_discussions.' }),
  use_user_name_in_discussions: key({ schema: z.boolean(), default: false, doc: 'Prefix user turns with separator + user_name instead of the personality prefix.' }),
  allowed_origins: key({ schema: z.array(nonEmpty()), default: DEFAULT_ALLOWED_ORIGINS, doc: "Browser origins allowed (CORS and socket handshake); '*' allows any; a trailing :* matches any port." }),
  api_key: key({ schema: nonEmpty().nullable(), default: null, secret: true, doc: 'Key every client must present (required to bind anything but loopback, enforced on every bind once set).' }),
  parallel: key({ schema: int().min(1).max(64), default: 1, doc: 'Generations that run at once (context sequences).' }),
  tokenize_routes: key({ schema: z.boolean(), default: true, doc: "Serve llama-server's POST /tokenize and POST /detokenize with the loaded model's tokenizer (hosts in front of this one count tokens with them)." }),
  max_queue: key({ schema: int().min(0).max(10000), default: 0, doc: 'Requests that may wait for a free slot; 0 answers busy at once, as the original.' }),
  max_queue_per_client: key({ schema: int().min(1).max(10000), default: 16, doc: 'Requests one client may have waiting for a slot at once (the queue serves clients in turn); one more is refused (socket: busy, HTTP: LH_ERR_QUEUE_FULL).' }),
  http_max_queue: key({ schema: int().min(0).max(10000), default: 64, doc: 'Requests of HTTP clients (the OpenAI-compatible API) that may wait for a slot, even when max_queue is 0 (the larger of the two applies to them).' }),
  keep_alive: key({
    schema: z.union([z.number(), z.string().max(32)]).refine((value) => keepAliveMs(value) !== undefined, {
      message: 'expected a duration: seconds as a number, or a string like "300ms", "10s", "5m", "1h30m"; negative keeps the model loaded',
    }),
    default: -1,
    doc: 'How long the model stays loaded without use, as Ollama\'s keep_alive: seconds or "5m"-style; the next request loads it again (and waits). 0 unloads it when idle; negative keeps it loaded.',
  }),
  model_wait_ms: key({ schema: int().min(0).max(3_600_000), default: 120_000, doc: 'How long a request that needs a model waits for one that is loading (start-up, select_model, an engine retry) before it fails with LH_ERR_MODEL_LOADING; 0 fails at once.' }),
  bindings_paths: key({ schema: z.array(nonEmpty()), default: [], doc: 'Extra folders that hold bindings.' }),
  personalities_paths: key({ schema: z.array(nonEmpty()), default: [], doc: 'Extra folders that hold personalities.' }),
  models_path: key({ schema: nonEmpty().nullable(), default: null, doc: 'Folder of models (<models_path>/<binding>/); null = <data dir>/models.' }),
  builtin_plugins: key({ schema: z.boolean(), default: true, doc: "Include the host's own plugins/ and personalities/ folders." }),
  watch: key({ schema: z.boolean(), default: true, doc: 'Hot-reload plugins when their files change.' }),
  log_level: key({ schema: z.enum(LOG_LEVELS), default: 'info', doc: 'Log level.' }),
  sandbox_memory_limit_mb: key({ schema: int().min(8).max(4096), default: SANDBOX.memoryLimitMb, doc: 'Heap limit of each processor isolate, in MB.' }),
  sandbox_cpu_time_ms: key({ schema: int().min(10), default: SANDBOX.cpuTimeMs, doc: 'CPU time one processor hook call may use.' }),
  sandbox_wall_time_ms: key({ schema: int().min(100), default: SANDBOX.wallTimeMs, doc: 'Wall time of one personality turn (all its processor hooks), model calls included.' }),
  sandbox_max_host_calls: key({ schema: int().min(1), default: SANDBOX.maxHostCalls, doc: 'ctx calls one personality turn (all its processor hooks) may make.' }),
  sandbox_idle_ms: key({ schema: int().min(-1).max(7 * 24 * 3600 * 1000), default: 300_000, doc: "A personality's sandbox process idle this long is ended to free its memory (about 50 MB); the next call starts one again in tens of ms. 0: after each call; -1: never for idleness." }),
  sandbox_max_processes: key({ schema: int().min(1).max(4096), default: 8, doc: 'Sandbox processes kept running at once (one per personality in use, the spare not counted); to start another, the least recently used idle one is ended. Busy ones never are.' }),
  sandbox_max_emit_bytes: key({ schema: int().min(1024), default: SANDBOX.maxEmitBytes, doc: 'Bytes of messages one personality turn (all its processor hooks) may send.' }),
  sandbox_max_payload_bytes: key({ schema: int().min(1024).max(256 * 1024 * 1024), default: SANDBOX.maxPayloadBytes, doc: 'Largest single value a processor passes to the host or returns: a ctx.generate prompt with its options, a ctx.tokenize text, a ctx.detokenize list, a hook\'s answer (bytes).' }),
  // Texts that reach the tokenizer (issue 11 §3), from clients and processors. See docs/security.md.
  max_prompt_chars: key({ schema: int().min(1).max(MAX_TEXT_CHARS), default: TEXT.maxPromptChars, doc: 'Longest generate_text prompt (UTF-16 characters); only the end that the context can hold is tokenized.' }),
  max_tokenize_chars: key({ schema: int().min(1).max(MAX_TEXT_CHARS), default: TEXT.maxTokenizeChars, doc: 'Longest text tokenized in full: the tokenize and embed events and ctx.tokenize (UTF-16 characters). Tokenizing is superlinear on some inputs: raise with care.' }),
  max_detokenize_ids: key({ schema: int().min(1).max(MAX_TOKEN_IDS), default: TEXT.maxTokenIds, doc: 'Most token ids of one detokenize event or ctx.detokenize.' }),
  // Security limits (issue 11): web pages, network clients, personality authors. See docs/security.md.
  static_dirs: key({
    schema: z.record(z.string(), nonEmpty()).superRefine((dirs, ctx) => {
      for (const prefix of Object.keys(dirs)) {
        const problem = staticPrefixProblem(prefix);
        if (problem) ctx.addIssue({ code: 'custom', message: `static_dirs prefix "${prefix}" ${problem}` });
      }
    }),
    default: {},
    doc: 'URL prefix -> folder served read-only by the host (e.g. {"/playground": "/path/to/playground"}); such pages have the host\'s origin.',
  }),
  install_allowed_hosts: key({ schema: z.array(nonEmpty()), default: [], doc: 'Host names, addresses or CIDR ranges that client model installs may reach besides public addresses (e.g. 10.0.0.0/8, models.lan).' }),
  install_max_size_mb: key({ schema: int().min(1).max(16 * 1024 * 1024), default: 65536, doc: 'Largest model file a client may install from a URL not in models.yaml, in MiB (catalogue entries: their filesize + 10% + 1 MiB, if smaller).' }),
  install_min_free_mb: key({ schema: int().min(0), default: 1024, doc: 'Disk space (MiB) an install must leave free in the models folder; checked before and during the download.' }),
  install_max_concurrent: key({ schema: int().min(1).max(64), default: 2, doc: 'Model downloads running at once, host-wide (one per client).' }),
  personality_setting_max_bytes: key({ schema: int().min(256).max(64 * 1024 * 1024), default: 65536, doc: 'Largest value of one personality or binding setting (a str in UTF-8 bytes, a list as JSON); larger writes are refused, larger saved values reset.' }),
  sandbox_log_lines_per_second: key({ schema: int().min(1).max(100000), default: SANDBOX.maxLogLinesPerSecond, doc: 'Log lines per second one personality\'s processor may write to the host log (bursts of 10x); the rest is dropped, and said so once.' }),
  // Workflow primitives (plugin API 1.1, issues 14 and 15). See docs/writing-a-personality.md and docs/security.md.
  sandbox_max_state_bytes: key({ schema: int().min(2).max(64 * 1024 * 1024), default: SANDBOX.maxStateBytes, doc: 'Largest ctx.state (JSON, UTF-8 bytes) one personality keeps per discussion; a hook that leaves more fails.' }),
  sandbox_max_tool_rounds: key({ schema: int().min(1).max(1000), default: SANDBOX.maxToolRounds, doc: 'Most model rounds of one ctx.chat with tools (the default and the ceiling of its maxToolRounds).' }),
  sandbox_ask_timeout_ms: key({ schema: int().min(1000).max(24 * 3600 * 1000), default: 300_000, doc: 'Longest one personality turn may wait for the user\'s answers to ctx.ask, all its questions together (the default and the ceiling of a timeoutMs); the wall time limit stands still meanwhile.' }),
  sandbox_max_call_depth: key({ schema: int().min(1).max(16), default: 4, doc: 'How deep ctx.callPersonality calls may nest (a personality calling one that calls another...).' }),
  personality_store_max_bytes: key({ schema: int().min(1024).max(1024 * 1024 * 1024), default: 1024 * 1024, doc: "Quota of one personality's ctx.store: its keys and JSON values together, in UTF-8 bytes." }),
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type HostConfig = { -readonly [K in ConfigKey]: z.infer<(typeof CONFIG_KEYS)[K]['schema']> };
export type ConfigSource = 'default' | 'file' | 'env' | 'cli' | 'runtime';

export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

export function isConfigKey(name: string): name is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, name);
}

/** `LOLLMS_HOST_<KEY>`, e.g. `LOLLMS_HOST_PORT`. */
export function envVarName(name: ConfigKey): string {
  return `LOLLMS_HOST_${name.toUpperCase()}`;
}

export function defaultConfig(): HostConfig {
  return structuredClone(Object.fromEntries(CONFIG_KEY_NAMES.map((k) => [k, CONFIG_KEYS[k].default]))) as HostConfig;
}

/** The data dir: `--data-dir` > `LOLLMS_HOST_HOME` > `~/.lollms-host`. */
export function resolveDataDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env.LOLLMS_HOST_HOME ?? join(homedir(), '.lollms-host'));
}

/** The caps on texts that reach the tokenizer (`max_prompt_chars`, `max_tokenize_chars`, `max_detokenize_ids`). */
export function textLimitsOf(config: Pick<HostConfig, 'max_prompt_chars' | 'max_tokenize_chars' | 'max_detokenize_ids'>): TextLimits {
  return { maxPromptChars: config.max_prompt_chars, maxTokenizeChars: config.max_tokenize_chars, maxTokenIds: config.max_detokenize_ids };
}

/** The models folder of a config: `models_path`, or `<data dir>/models`. Each binding's models are in `<it>/<binding>/`. */
export function modelsPathOf(config: Pick<HostConfig, 'models_path'>, dataDir: string): string {
  return resolve(config.models_path ?? join(dataDir, 'models'));
}

/** The folders bindings are found in, in order (a later folder's binding of the same name wins). */
export function bindingsPathsOf(config: Pick<HostConfig, 'builtin_plugins' | 'bindings_paths'>): string[] {
  return [...(config.builtin_plugins ? [BUILTIN_BINDINGS_PATH] : []), ...config.bindings_paths].map((p) => resolve(p));
}

/** The folders personalities are found in, in order (a later folder wins). */
export function personalitiesPathsOf(config: Pick<HostConfig, 'builtin_plugins' | 'personalities_paths'>): string[] {
  return [...(config.builtin_plugins ? [BUILTIN_PERSONALITIES_PATH] : []), ...config.personalities_paths].map((p) => resolve(p));
}

/**
 * Write the commented default config to `file` when it does not exist, or (with `reset`) in place of the old
 * one, which is kept as `<file>.bak`. Private (0600): the config may hold the API key.
 */
export async function ensureConfigFile(file: string, reset = false): Promise<void> {
  if (!reset && existsSync(file)) return;
  await mkdir(dirname(file), { recursive: true });
  if (existsSync(file)) await rename(file, `${file}.bak`);
  await writeFileAtomic(file, defaultConfigText(), { mode: 0o600 });
}

/** Threads to give the engine: the configured count, or cores - 1 so the event loop keeps a core. */
export function effectiveThreads(config: Pick<HostConfig, 'n_threads'>): number {
  return config.n_threads > 0 ? config.n_threads : Math.max(1, availableParallelism() - 1);
}

/**
 * Check one value against its key's schema. `where` names the source (a file, `--flag`, `LOLLMS_HOST_X`); with
 * `position` the error carries the file's line and column too.
 */
export function validateValue<K extends ConfigKey>(name: K, value: unknown, where: string, position?: YamlPosition): HostConfig[K] {
  const parsed = CONFIG_KEYS[name].schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw ConfigInvalid(`${formatLocation(where, position)}: invalid value for "${name}": ${issue?.message ?? 'invalid'} (got ${JSON.stringify(value)})`, {
      file: where,
      ...(position ?? {}),
    });
  }
  return parsed.data as HostConfig[K];
}

/** Environment variables with the `LOLLMS_HOST_` prefix that are not config keys. */
const OTHER_ENV_VARS = new Set(['LOLLMS_HOST_HOME']);

/** The warning for a key the host does not know, with the nearest known key when one is close. */
function unknownKeyWarning(where: string, name: string, known: Iterable<string>, what = 'config key'): string {
  const suggestion = nearest(name, known);
  return `${where}: unknown ${what} "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; it is ignored`;
}

export interface LoadConfigOptions {
  /** Path of the YAML config file; it need not exist. */
  file: string;
  /** Environment to read `LOLLMS_HOST_<KEY>` from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; they win over everything. */
  cli?: Partial<Record<ConfigKey, unknown>>;
}

/**
 * The effective config and where each value came from. Runtime changes (`select_model`, ...) go through
 * `update`, which also saves them to the file atomically, keeping unknown keys and comments.
 */
export class ConfigStore {
  readonly file: string;
  readonly values: HostConfig;
  readonly sources: Record<ConfigKey, ConfigSource>;
  /** What the host should tell the operator at start: unknown keys in the file or the environment. */
  readonly warnings: readonly string[];
  #saving: Promise<void> = Promise.resolve();

  private constructor(file: string, values: HostConfig, sources: Record<ConfigKey, ConfigSource>, warnings: string[]) {
    this.file = file;
    this.values = values;
    this.sources = sources;
    this.warnings = warnings;
  }

  static async load(options: LoadConfigOptions): Promise<ConfigStore> {
    const env = options.env ?? process.env;
    const values = defaultConfig();
    const sources = Object.fromEntries(CONFIG_KEY_NAMES.map((k) => [k, 'default'])) as Record<ConfigKey, ConfigSource>;
    const warnings: string[] = [];
    const set = (name: ConfigKey, value: unknown, source: ConfigSource, where: string, position?: YamlPosition) => {
      (values as Record<ConfigKey, unknown>)[name] = validateValue(name, value, where, position);
      sources[name] = source;
    };

    const parsed = await readConfig(options.file);
    const fileValues = parsed ? configMapping(parsed, options.file) : {};
    for (const [name, value] of Object.entries(fileValues)) {
      const position = parsed?.positionOf([name]);
      if (isConfigKey(name)) set(name, value, 'file', options.file, position);
      else warnings.push(unknownKeyWarning(formatLocation(options.file, position), name, CONFIG_KEY_NAMES));
    }
    for (const name of CONFIG_KEY_NAMES) {
      const raw = env[envVarName(name)];
      if (raw !== undefined && raw !== '') set(name, parseEnvValue(raw), 'env', envVarName(name));
    }
    const knownVars = CONFIG_KEY_NAMES.map(envVarName);
    for (const variable of Object.keys(env)) {
      if (!variable.startsWith('LOLLMS_HOST_') || OTHER_ENV_VARS.has(variable) || knownVars.includes(variable)) continue;
      warnings.push(unknownKeyWarning('environment', variable, [...knownVars, ...OTHER_ENV_VARS], 'variable'));
    }
    for (const [name, value] of Object.entries(options.cli ?? {})) {
      if (value === undefined) continue;
      if (!isConfigKey(name)) throw ConfigInvalid(`unknown config key "${name}"`);
      set(name, value, 'cli', `--${name}`);
    }
    return new ConfigStore(options.file, values, sources, warnings);
  }

  /** Change keys at runtime and persist them (the file's other keys and comments are kept). */
  async update(changes: Partial<HostConfig>): Promise<void> {
    for (const [name, value] of Object.entries(changes)) {
      if (!isConfigKey(name)) throw ConfigInvalid(`unknown config key "${name}"`);
      (this.values as Record<ConfigKey, unknown>)[name] = validateValue(name, value, 'update');
      this.sources[name] = 'runtime';
    }
    // Saves are chained so two quick updates cannot interleave their read-modify-write.
    const next = this.#saving.then(() => saveConfigFile(this.file, changes));
    this.#saving = next.catch(() => {});
    await next;
  }

  /** The config with secrets replaced by `"***"`, for `/get_config` and `--print-config`. */
  redacted(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.values };
    for (const name of CONFIG_KEY_NAMES) {
      if ((CONFIG_KEYS[name] as KeyDef<z.ZodType>).secret && out[name] != null) out[name] = '***';
    }
    return out;
  }

  /** Lines `key: value  # source` for `--print-config`. */
  describe(): string {
    const redacted = this.redacted();
    return CONFIG_KEY_NAMES.map((name) => `${name}: ${JSON.stringify(redacted[name])}  # ${this.sources[name]}`).join('\n');
  }
}

/** Env values are YAML scalars or flow collections: `9600`, `true`, `[a, b]`, `null`. */
function parseEnvValue(raw: string): unknown {
  try {
    return YAML.parse(raw);
  } catch {
    return raw;
  }
}

/** The config file parsed (undefined when it does not exist). Syntax errors name the file, line and column. */
async function readConfig(file: string): Promise<ParsedYaml | undefined> {
  if (!existsSync(file)) return undefined;
  return parseYaml(await readFile(file, 'utf8'), { file, syntaxError: ConfigSyntax });
}

/** The parsed file's top-level mapping as plain data (`{}` for an empty file). */
function configMapping(parsed: ParsedYaml, file: string): Record<string, unknown> {
  const contents = parsed.document.contents;
  if (contents === null) return {};
  if (!isMap(contents)) throw ConfigInvalid(`${file}: the config must be a YAML mapping of keys to values`, { file });
  return parsed.value as Record<string, unknown>;
}

/** The file's top-level mapping as plain data (`{}` when the file is missing or empty). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  const parsed = await readConfig(file);
  return parsed ? configMapping(parsed, file) : {};
}

/** Set `changes` in the YAML file, keeping every other key and the comments, and write it atomically. */
export async function saveConfigFile(file: string, changes: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const doc: Document = (await readConfig(file))?.document ?? new YAML.Document({ version: CONFIG_VERSION });
  if (doc.contents === null) doc.contents = doc.createNode({ version: CONFIG_VERSION }) as never;
  for (const [name, value] of Object.entries(changes)) doc.set(name, value);
  // Private by default: the config may hold the API key.
  await writeFileAtomic(file, doc.toString(), { mode: 0o600 });
}

/** A fresh config file with every key and its doc as a comment. Used on first start and `--reset_config`. */
export function defaultConfigText(): string {
  const doc = new YAML.Document(defaultConfig());
  doc.commentBefore = ' lollms-host configuration. Keys follow the original lollms-server; see docs/configuration.md.';
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      const name = String((pair.key as { value: unknown }).value) as ConfigKey;
      const k = pair.key as { commentBefore?: string };
      k.commentBefore = ` ${CONFIG_KEYS[name].doc}`;
    }
  }
  return doc.toString();
}
