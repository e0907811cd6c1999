/**
 * The binding's settings (the card's defaults overlaid with `<data dir>/settings/bindings/openai_remote.yaml`),
 * checked field by field. A binding cannot import the host's private libraries (zod), so the checks are
 * written out; each failure is `LH_ERR_REMOTE_CONFIG` naming the setting.
 *
 * API keys are never settings: an endpoint names an environment variable (`api_key_env`) or a file
 * (`api_key_file`) that holds its key. A literal `api_key` is refused, so that a key never sits in a settings
 * file that clients may be shown, nor in a log line that prints settings.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { remoteError } from './errors.js';

/** How an endpoint tokenizes: `auto` probes its `/tokenize` route at load, `on` requires it, `off` never uses it. */
export type TokenizeMode = 'auto' | 'on' | 'off';

/** One configured endpoint. */
export interface EndpointSettings {
  /** Short name for logs and status (default: the URL's host and port). */
  name: string;
  /** Base URL of the OpenAI-compatible API, with its `/v1`, no trailing slash. */
  url: string;
  /** The key, read from the environment or the secret file; undefined when the engine needs none. */
  apiKey: string | undefined;
  /** Most requests it runs at once. */
  maxConcurrent: number;
  /** Names this host shows -> the engine's model ids. */
  models: Readonly<Record<string, string>>;
  tokenize: TokenizeMode;
  /** Context size of the engine's model, when set (else the engine's `max_model_len`, else the host's `ctx_size`). */
  contextSize: number | undefined;
}

/** The binding's settings. */
export interface RemoteSettings {
  endpoints: EndpointSettings[];
  /** First probe delay of a failed endpoint, in ms; doubled per failed probe. */
  probeInitialMs: number;
  /** Longest probe delay, in ms. */
  probeMaxMs: number;
  /** Connect (and probe answer) timeout, in ms. */
  connectTimeoutMs: number;
  /** A request ends when the endpoint sends nothing for this long, in ms. */
  idleTimeoutMs: number;
}

/** Endpoints per binding, at most. */
export const MAX_ENDPOINTS = 64;
/** Largest secret file read, in bytes. */
const MAX_KEY_FILE_BYTES = 4096;
/** Mapped model names per endpoint, at most. */
const MAX_MODEL_MAPPINGS = 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const bad = (setting: string, why: string) => remoteError('LH_ERR_REMOTE_CONFIG', `openai_remote setting ${setting}: ${why}`);

function integer(value: unknown, setting: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw bad(setting, `must be an integer from ${min} to ${max}`);
  return value;
}

function optionalString(value: unknown, setting: string, max = 256): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) throw bad(setting, `must be a non-empty string of at most ${max} characters`);
  return value.trim();
}

/** The base URL, checked: http(s), no credentials, query or fragment; trailing slashes removed. */
export function checkBaseUrl(value: unknown, setting: string): URL {
  if (typeof value !== 'string' || value.length > 2048) throw bad(setting, 'must be the base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(setting, 'is not a URL (e.g. http://127.0.0.1:8080/v1)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(setting, 'must use http or https');
  // Credentials in a URL end up in logs and status pages: keys go in api_key_env or api_key_file.
  if (url.username !== '' || url.password !== '') throw bad(setting, 'must not hold credentials; put the key in api_key_env or api_key_file');
  if (url.search !== '' || url.hash !== '') throw bad(setting, 'must not have a query or a fragment');
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

async function readKey(raw: Record<string, unknown>, setting: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (raw['api_key'] !== undefined) throw bad(`${setting}.api_key`, 'a key is never written in the settings: name an environment variable (api_key_env) or a secret file (api_key_file)');
  const envName = raw['api_key_env'];
  const file = raw['api_key_file'];
  if (envName !== undefined && file !== undefined) throw bad(setting, 'set api_key_env or api_key_file, not both');
  if (envName !== undefined) {
    if (typeof envName !== 'string' || !ENV_NAME.test(envName)) throw bad(`${setting}.api_key_env`, 'must be the name of an environment variable');
    const key = env[envName]?.trim();
    if (!key) throw bad(`${setting}.api_key_env`, `the environment variable ${envName} is not set`);
    return key;
  }
  if (file !== undefined) {
    if (typeof file !== 'string' || !isAbsolute(file)) throw bad(`${setting}.api_key_file`, 'must be the absolute path of a file holding the key');
    const info = await stat(file).catch(() => undefined);
    // The path is the operator's own setting, so it may be named; the file's content never is.
    if (!info?.isFile()) throw bad(`${setting}.api_key_file`, 'the file does not exist or is not a file');
    if (info.size > MAX_KEY_FILE_BYTES) throw bad(`${setting}.api_key_file`, `the file is larger than ${MAX_KEY_FILE_BYTES} bytes; it must hold the key only`);
    const key = (await readFile(file, 'utf8')).trim();
    if (key === '' || /[\r\n]/.test(key)) throw bad(`${setting}.api_key_file`, 'the file must hold the key on one line');
    return key;
  }
  return undefined;
}

function checkModels(value: unknown, setting: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(setting, 'must map the names this host shows to the engine\'s model ids');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_MODEL_MAPPINGS) throw bad(setting, `at most ${MAX_MODEL_MAPPINGS} names`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [local, remote] of entries) {
    if (local === '' || local.length > 256 || typeof remote !== 'string' || remote === '' || remote.length > 256) {
      throw bad(`${setting}.${local.slice(0, 64)}`, 'names and model ids are non-empty strings of at most 256 characters');
    }
    out[local] = remote;
  }
  return out;
}

/** Parse and check the settings; reads API keys from `env` and secret files. */
export async function readRemoteSettings(settings: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): Promise<RemoteSettings> {
  const list = settings['endpoints'] ?? [];
  if (!Array.isArray(list)) throw bad('endpoints', 'must be a list of endpoints');
  if (list.length > MAX_ENDPOINTS) throw bad('endpoints', `at most ${MAX_ENDPOINTS} endpoints`);
  const endpoints: EndpointSettings[] = [];
  const names = new Set<string>();
  for (const [index, item] of list.entries()) {
    const at = `endpoints[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(at, 'must be an object with at least a url');
    const raw = item as Record<string, unknown>;
    const url = checkBaseUrl(raw['url'], `${at}.url`);
    const name = optionalString(raw['name'], `${at}.name`, 64) ?? url.host;
    if (names.has(name)) throw bad(`${at}.name`, `"${name}" names two endpoints; give each its own name`);
    names.add(name);
    const tokenize = raw['tokenize'] ?? 'auto';
    if (tokenize !== 'auto' && tokenize !== 'on' && tokenize !== 'off') throw bad(`${at}.tokenize`, 'must be auto, on or off');
    endpoints.push({
      name,
      url: url.href.replace(/\/+$/, ''),
      apiKey: await readKey(raw, at, env),
      maxConcurrent: integer(raw['max_concurrent'], `${at}.max_concurrent`, 1, 4096, 4),
      models: checkModels(raw['models'], `${at}.models`),
      tokenize,
      contextSize: raw['context_size'] === undefined ? undefined : integer(raw['context_size'], `${at}.context_size`, 16, 1 << 24, 0),
    });
  }
  const probeInitialMs = integer(settings['probe_initial_ms'], 'probe_initial_ms', 10, 3_600_000, 1000);
  return {
    endpoints,
    probeInitialMs,
    probeMaxMs: Math.max(probeInitialMs, integer(settings['probe_max_ms'], 'probe_max_ms', 10, 3_600_000, 30_000)),
    connectTimeoutMs: integer(settings['connect_timeout_ms'], 'connect_timeout_ms', 100, 600_000, 5000),
    idleTimeoutMs: integer(settings['idle_timeout_ms'], 'idle_timeout_ms', 1000, 86_400_000, 300_000),
  };
}
