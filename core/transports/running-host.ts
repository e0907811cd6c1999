/**
 * Where a running host listens, for the commands that talk to one (`lollms-host ps`, `lollms-host run`): `--url`,
 * else `--host`/`--port`, else the config a `serve` with the same data dir and environment would use. The API key
 * comes the same way (`--api-key`, `LOLLMS_HOST_API_KEY`, the config's `api_key`), so an operator on the host's
 * machine types no key.
 */
import { join, resolve } from 'node:path';
import { ConfigStore, resolveDataDir } from '../config.js';
import { CliUsage, errorMessage } from '../errors.js';
import type { StatusReport } from './http/status.js';

/** The flags of a command that talks to a running host. */
export interface RunningHostFlags {
  /** `--url`: the host's address, e.g. `http://127.0.0.1:9600`. Wins over everything. */
  url?: string | undefined;
  /** `--host`: the address the host binds (a wildcard bind is reached on loopback). */
  host?: string | undefined;
  /** `--port`. */
  port?: string | undefined;
  /** `--api-key`. */
  apiKey?: string | undefined;
  /** `--data-dir`: whose config tells the address and the key. */
  dataDir?: string | undefined;
  /** `--config`: the config file (default `<data dir>/config.yaml`). */
  config?: string | undefined;
}

/** The `parseArgs` options of those flags, in both spellings. */
export const RUNNING_HOST_OPTIONS = {
  url: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'api-key': { type: 'string' },
  api_key: { type: 'string' },
  'data-dir': { type: 'string' },
  data_dir: { type: 'string' },
  config: { type: 'string' },
} as const;

export const RUNNING_HOST_USAGE = '[--url URL | --host ADDR --port N] [--api-key KEY] [--data-dir DIR] [--config FILE]';

/** The flags out of `parseArgs` values of `RUNNING_HOST_OPTIONS`. */
export function runningHostFlags(values: Record<string, unknown>): RunningHostFlags {
  const text = (...names: string[]) => names.map((n) => values[n]).find((v): v is string => typeof v === 'string');
  return {
    url: text('url'),
    host: text('host'),
    port: text('port'),
    apiKey: text('api-key', 'api_key'),
    dataDir: text('data-dir', 'data_dir'),
    config: text('config'),
  };
}

/** A running host's base URL (no trailing slash) and the key to send, if any. */
export interface RunningHost {
  url: string;
  apiKey: string | undefined;
}

/** The address to connect to for a bind address: a wildcard bind answers on loopback. */
function connectAddress(bind: string): string {
  if (bind === '0.0.0.0' || bind === '') return '127.0.0.1';
  if (bind === '::' || bind === '[::]') return '::1';
  return bind;
}

export async function locateRunningHost(flags: RunningHostFlags, env: NodeJS.ProcessEnv = process.env): Promise<RunningHost> {
  const dataDir = resolveDataDir(flags.dataDir, env);
  const store = await ConfigStore.load({ file: resolve(flags.config ?? join(dataDir, 'config.yaml')), env });
  const apiKey = flags.apiKey ?? store.values.api_key ?? undefined;
  if (flags.url !== undefined) {
    let url: URL;
    try {
      url = new URL(flags.url);
    } catch {
      throw CliUsage(`--url: "${flags.url}" is not a URL (for example http://127.0.0.1:9600)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw CliUsage(`--url: "${flags.url}" is not an http(s) URL`);
    return { url: url.href.replace(/\/+$/, ''), apiKey };
  }
  let port = store.values.port;
  if (flags.port !== undefined) {
    port = Number(flags.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw CliUsage(`--port: "${flags.port}" is not a port number`);
  }
  if (port === 0) throw CliUsage('the config says port 0 (a free port picked at start): pass the port the host printed with --port or --url');
  const address = connectAddress(flags.host ?? store.values.host);
  return { url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`, apiKey };
}

/** How long `ps` waits for the host's answer. */
const STATUS_TIMEOUT_MS = 10_000;
/** The largest `/status` body `ps` reads (the host's is a few kilobytes). */
const MAX_STATUS_BYTES = 4 * 1024 * 1024;
/** Fetch `GET /status` of a running host; a clear error when none answers, or when it wants a key. */
export async function fetchStatus(host: RunningHost, signal: AbortSignal = AbortSignal.timeout(STATUS_TIMEOUT_MS)): Promise<StatusReport> {
  let response: Response;
  try {
    response = await fetch(`${host.url}/status`, { headers: host.apiKey ? { authorization: `Bearer ${host.apiKey}` } : {}, signal, redirect: 'error' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') throw new Error(`no lollms-host answers at ${host.url} (start one with \`lollms-host serve\`, or point at it with --url or --port)`);
    throw new Error(`cannot reach ${host.url}: ${errorMessage(error)}`);
  }
  const body = await response.text();
  if (body.length > MAX_STATUS_BYTES) throw new Error(`${host.url}/status answered more than ${MAX_STATUS_BYTES} bytes: is it a lollms-host?`);
  if (response.status === 401) {
    throw new Error(`${host.url} wants an API key: pass --api-key KEY, set LOLLMS_HOST_API_KEY, or run ps with the host's --data-dir`);
  }
  if (!response.ok) throw new Error(`${host.url}/status answered ${response.status}: ${body.slice(0, 200)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`${host.url}/status did not answer JSON: is it a lollms-host?`);
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { version?: unknown }).version !== 'string') {
    throw new Error(`${host.url}/status is not a lollms-host status (no version): is it a lollms-host?`);
  }
  return parsed as StatusReport;
}

