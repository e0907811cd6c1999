import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import {
  Cancelled,
  ChecksumMismatch,
  InstallExists,
  InstallFailed,
  InstallHttpStatus,
  LollmsHostError,
  ModelNotFound,
  PathOutsideRoot,
  createError,
} from '../errors.js';
import { fsyncDir } from '../util/atomic-write.js';
import { guardedFetch, type AddressPolicy, type Resolver } from './safe-fetch.js';

/** An install over its size cap, or one that would leave too little disk (the `.part` is deleted). */
export const InstallTooLarge = createError('LH_ERR_INSTALL_SIZE');
/** The source could not be reached, or is not an address client installs may reach. */
export const InstallUnreachable = createError('LH_ERR_INSTALL_UNREACHABLE');

/** What to download and where it lands. */
export interface InstallSource {
  /** The http(s) URL of the file. */
  url: string;
  /** The file name in the models dir: a plain name, no path separators, no `..`. */
  filename: string;
  /** Expected sha256 (lowercase hex) when known; the download is refused when it differs. */
  sha256?: string;
  /** Expected size in bytes when known; used as the total when the server sends no length. */
  size?: number;
}

/** A progress report. `total` and `progress` are null while the size is unknown. */
export interface InstallProgress {
  /** Bytes on disk so far, including a resumed `.part`. */
  bytes: number;
  /** Total size in bytes, or null. */
  total: number | null;
  /** `bytes / total` from 0 to 1, or null. */
  progress: number | null;
}

/** Options of `installModel`. */
export interface InstallOptions {
  /** What to download. */
  source: InstallSource;
  /** The folder the file goes to (the binding's `<models_path>/<binding>/`); created when missing. */
  modelsDir: string;
  /** Progress reports, at most one per `progressIntervalMs`, plus the first and the last. */
  onProgress?: (progress: InstallProgress) => void;
  /** Minimum time between two progress reports, in ms. Default 250. */
  progressIntervalMs?: number;
  /**
   * Cancels the download: the promise rejects with a `Cancelled` error and the `.part` file is KEPT, so that
   * installing the same file again resumes where this one stopped.
   */
  signal?: AbortSignal;
  /** Redirects followed before giving up. Default 10. */
  maxRedirects?: number;
  /** Replace a file that already exists under `filename`. Default false: an existing file is `InstallExists`. */
  overwrite?: boolean;
  /**
   * For installs a client asked for: connect only where this policy allows (public addresses and the operator's
   * `install_allowed_hosts`), checked on the address actually connected to, redirects included. Errors then
   * name no network detail (no resolver or socket error, same text for unreachable and refused), so they cannot
   * map a network. Left out (the operator's own `pull`), any address is fine and errors say what happened.
   */
  guard?: AddressPolicy;
  /** Name resolution for `guard` (tests). Default the system resolver. */
  resolve?: Resolver;
  /**
   * Largest file, in bytes: a larger announced size is refused before anything is written, and a body that
   * grows past it is cut and its `.part` deleted (`InstallTooLarge`). Default: no cap.
   */
  maxBytes?: number;
  /**
   * Disk space to leave free in the models dir, in bytes: checked before the download (against the announced
   * size) and every `DISK_CHECK_BYTES` written; a breach deletes the `.part` (`InstallTooLarge`). Default 0.
   */
  minFreeBytes?: number;
  /** Free bytes of the file system holding `dir` (tests). Default `statfs`. */
  freeBytes?: (dir: string) => Promise<number>;
}

/** A completed install. */
export interface InstallResult {
  /** Absolute path of the installed file. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Its sha256, lowercase hex. */
  sha256: string;
  /** Bytes that came from an earlier interrupted download (0 when it started from scratch). */
  resumedFrom: number;
}

const DEFAULT_PROGRESS_INTERVAL_MS = 250;
const DEFAULT_MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** How often, in bytes written, the free disk space is checked during a download. */
const DISK_CHECK_BYTES = 64 * 1024 * 1024;

async function statfsFree(dir: string): Promise<number> {
  const info = await statfs(dir);
  return info.bavail * info.bsize;
}

/** Downloads running in this process, by target path: two writers on one `.part` would corrupt it. */
const running = new Set<string>();

/**
 * Download `source` into `modelsDir`.
 *
 * - The data goes to `<filename>.part`, which is fsynced and renamed to `<filename>` only when complete and
 *   checked, so a models dir never holds a torn model under its real name.
 * - An existing `.part` is resumed with an HTTP `Range` request. A 206 appends; a server that ignores Range
 *   (200) restarts from zero; a 416 means the part may already be complete (it is checked, else restarted).
 * - The sha256 is computed while downloading (a resumed part is hashed first) and compared when known. A
 *   mismatch deletes the file and throws `ChecksumMismatch`.
 * - Errors: `Cancelled` (signal; `.part` kept), `InstallHttpStatus` (status >= 400, in the message),
 *   `InstallExists`, `PathOutsideRoot` (a filename that would leave the models dir), `InstallFailed`
 *   (bad URL, network failure, too many redirects; a `.part` is kept for a retry).
 */
export async function installModel(options: InstallOptions): Promise<InstallResult> {
  const { source, signal } = options;
  const url = checkHttpUrl(source.url);
  const modelsDir = resolve(options.modelsDir);
  const path = targetPath(modelsDir, source.filename);
  const expected = source.sha256 === undefined ? undefined : normalizeSha256(source.sha256);
  throwIfAborted(signal, source.filename);
  if (running.has(path)) throw InstallFailed(`${source.filename} is already being installed`);
  running.add(path);
  try {
    await mkdir(modelsDir, { recursive: true });
    if (!options.overwrite && (await sizeOf(path)) !== undefined) {
      throw InstallExists(`${source.filename} already exists in the models folder; delete it to install it again`, { file: path });
    }
    const net = options.guard ? guardedFetch({ policy: options.guard, ...(options.resolve ? { resolve: options.resolve } : {}) }) : undefined;
    try {
      return await download({ ...options, url, path, expected, fetch: net?.fetch ?? fetch });
    } finally {
      await net?.close().catch(() => {});
    }
  } finally {
    running.delete(path);
  }
}

interface DownloadJob extends InstallOptions {
  url: URL;
  path: string;
  expected: string | undefined;
  fetch: typeof fetch;
}

/** `where` as a client may see it: the host name only for guarded installs (the URL is theirs anyway). */
function sourceName(job: { guard?: AddressPolicy | undefined; url: URL }, url: URL = job.url): string {
  return job.guard ? url.host : url.href;
}

async function download(job: DownloadJob): Promise<InstallResult> {
  const { source, signal, path } = job;
  const part = `${path}.part`;
  const report = throttle(job.onProgress, job.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  let offset = (await sizeOf(part)) ?? 0;
  let restarted = false;

  for (;;) {
    const response = await request(job.url, offset, job);
    const status = response.status;

    if (status === 416 && offset > 0) {
      // Nothing left past our offset: the part is complete if its size is the file's size.
      await response.body?.cancel().catch(() => {});
      const total = contentRange(response.headers.get('content-range'))?.total ?? source.size ?? null;
      if (total === offset) return finish(job, part, offset, await hashFile(part, signal, source.filename), offset, report, total);
      if (restarted) throw InstallFailed(`${job.url.href}: server refused the range request twice`);
      await unlink(part).catch(() => {});
      offset = 0;
      restarted = true;
      continue;
    }
    if (status >= 400) {
      await response.body?.cancel().catch(() => {});
      // The status code only: the reason phrase and the body are the server's words, not ours to relay.
      throw InstallHttpStatus(`download of ${sourceName(job)} failed: HTTP ${status}`);
    }
    if (status !== 200 && status !== 206) {
      await response.body?.cancel().catch(() => {});
      throw InstallFailed(`download of ${job.url.href} failed: unexpected HTTP ${status}`);
    }
    if (!response.body) throw InstallFailed(`download of ${job.url.href} failed: empty response`);

    // `exact` is the size the server announced; `total` may fall back on models.yaml's `filesize`, which is
    // only good enough for progress (zoo sizes are not always exact).
    let exact: number | null;
    let resumedFrom = 0;
    if (status === 206) {
      const range = contentRange(response.headers.get('content-range'));
      if (offset === 0 || !range || range.start !== offset) {
        // A range we did not ask for: start over rather than guess how the bytes fit together.
        await response.body.cancel().catch(() => {});
        if (restarted) throw InstallFailed(`${job.url.href}: server answers with unexpected byte ranges`);
        await unlink(part).catch(() => {});
        offset = 0;
        restarted = true;
        continue;
      }
      exact = range.total;
      resumedFrom = offset;
    } else {
      // 200: the whole file. A server that ignores Range lands here too, so the part is rewritten from zero.
      exact = contentLength(response.headers.get('content-length'));
      offset = 0;
    }
    const total = exact ?? source.size ?? null;
    if (job.maxBytes !== undefined && exact !== null && exact > job.maxBytes) {
      await response.body.cancel().catch(() => {});
      await unlink(part).catch(() => {});
      throw InstallTooLarge(`${source.filename} is ${exact} bytes, more than the ${job.maxBytes} bytes allowed (install_max_size_mb, or the catalogue size + 10%)`);
    }
    await checkDisk(job, exact === null ? 0 : exact - resumedFrom, part);

    const hash = resumedFrom > 0 ? await hashFile(part, signal, source.filename) : createHash('sha256');
    let bytes = resumedFrom;
    report({ bytes, total }, true);
    const handle = await open(part, resumedFrom > 0 ? 'a' : 'w');
    try {
      let nextDiskCheck = bytes + DISK_CHECK_BYTES;
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        if (job.maxBytes !== undefined && bytes + chunk.byteLength > job.maxBytes) {
          throw InstallTooLarge(`${source.filename} grew past the ${job.maxBytes} bytes allowed (install_max_size_mb, or the catalogue size + 10%); the download was deleted`);
        }
        await handle.write(chunk);
        hash.update(chunk);
        bytes += chunk.byteLength;
        report({ bytes, total }, false);
        if (bytes >= nextDiskCheck) {
          nextDiskCheck = bytes + DISK_CHECK_BYTES;
          await checkDisk(job, 0, part);
        }
      }
      await handle.sync();
    } catch (error) {
      if (error instanceof LollmsHostError && error.code === InstallTooLarge.code) {
        await handle.close().catch(() => {});
        await unlink(part).catch(() => {});
        throw error;
      }
      throwIfAborted(signal, source.filename, error);
      if (job.guard) throw InstallFailed(`download of ${sourceName(job)} interrupted after ${bytes} bytes (install again to resume)`, { cause: error });
      throw InstallFailed(
        `download of ${job.url.href} interrupted after ${bytes} bytes: ${causeMessage(error)} (install again to resume)`,
        { cause: error },
      );
    } finally {
      await handle.close().catch(() => {});
    }
    if (exact !== null && bytes !== exact) {
      if (bytes > exact) await unlink(part).catch(() => {});
      throw InstallFailed(`download of ${job.url.href} ended at ${bytes} of ${exact} bytes${bytes < exact ? ' (install again to resume)' : ''}`);
    }
    return finish(job, part, bytes, hash, resumedFrom, report, bytes);
  }
}

/** Check the hash, rename the part into place and make the rename durable. */
async function finish(
  job: DownloadJob,
  part: string,
  bytes: number,
  hash: Hash,
  resumedFrom: number,
  report: Reporter,
  total: number | null,
): Promise<InstallResult> {
  const sha256 = hash.digest('hex');
  if (job.expected !== undefined && sha256 !== job.expected) {
    await unlink(part).catch(() => {});
    throw ChecksumMismatch(`${job.source.filename}: sha256 is ${sha256}, expected ${job.expected}; the download was deleted`, {
      file: job.path,
    });
  }
  await rename(part, job.path);
  await fsyncDir(dirname(job.path));
  report({ bytes, total: total ?? bytes }, true);
  return { path: job.path, bytes, sha256, resumedFrom };
}

/** GET `url` (from `offset` when > 0), following redirects ourselves to bound them and re-check each URL. */
async function request(start: URL, offset: number, job: DownloadJob): Promise<Response> {
  const maxRedirects = job.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  // identity: a transparently decompressed body would not match Content-Length or byte ranges.
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (offset > 0) headers['range'] = `bytes=${offset}-`;
  let url = start;
  for (let redirects = 0; ; redirects++) {
    let response: Response;
    try {
      response = await job.fetch(url, { headers, redirect: 'manual', ...(job.signal ? { signal: job.signal } : {}) });
    } catch (error) {
      throwIfAborted(job.signal, job.source.filename, error);
      if (job.guard) {
        // One text for "refused by the policy", "no such name", "connection refused" and "timed out": a client
        // must not learn which addresses exist or which ports are open. The cause goes to the host log.
        throw InstallUnreachable(
          `cannot download from ${url.host}: it cannot be reached from this host, or it is not a public address (operators can allow more with install_allowed_hosts)`,
          { cause: error },
        );
      }
      throw InstallFailed(`download of ${url.href} failed: ${causeMessage(error)}`, { cause: error });
    }
    if (!REDIRECTS.has(response.status)) return response;
    await response.body?.cancel().catch(() => {});
    const location = response.headers.get('location');
    if (!location) throw InstallFailed(`download of ${sourceName(job, url)} failed: HTTP ${response.status} without a Location`);
    if (redirects >= maxRedirects) throw InstallFailed(`download of ${sourceName(job, start)} failed: more than ${maxRedirects} redirects`);
    url = checkHttpUrl(new URL(location, url).href);
  }
}

/** Refuse (and delete the part) when writing `more` bytes would leave less than `minFreeBytes` free. */
async function checkDisk(job: DownloadJob, more: number, part: string): Promise<void> {
  const reserve = job.minFreeBytes ?? 0;
  if (reserve <= 0 && more <= 0) return;
  const free = await (job.freeBytes ?? statfsFree)(dirname(job.path));
  if (free - more >= reserve) return;
  await unlink(part).catch(() => {});
  throw InstallTooLarge(
    `not enough disk space for ${job.source.filename}: ${Math.floor(free / 1048576)} MiB free, ${Math.ceil(more / 1048576)} MiB more needed and ${Math.ceil(reserve / 1048576)} MiB kept free (install_min_free_mb); the download was deleted`,
  );
}

type Reporter = (state: { bytes: number; total: number | null }, force: boolean) => void;

function throttle(onProgress: InstallOptions['onProgress'], intervalMs: number): Reporter {
  if (!onProgress) return () => {};
  let last = -Infinity;
  return ({ bytes, total }, force) => {
    const now = performance.now();
    if (!force && now - last < intervalMs) return;
    last = now;
    onProgress({ bytes, total, progress: total === null ? null : total === 0 ? 1 : Math.min(1, bytes / total) });
  };
}

/** sha256 of a file so far, as a hash that more data can be added to. */
async function hashFile(path: string, signal: AbortSignal | undefined, filename: string): Promise<Hash> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, signal ? { signal } : {})) hash.update(chunk as Buffer);
  } catch (error) {
    throwIfAborted(signal, filename, error);
    throw error;
  }
  return hash;
}

function throwIfAborted(signal: AbortSignal | undefined, filename: string, cause?: unknown): void {
  if (signal?.aborted) {
    throw Cancelled(`install of ${filename} cancelled (the partial download is kept, installing again resumes it)`, {
      cause: signal.reason ?? cause,
    });
  }
}

// ------------------------------------------------------------------------------------------ sources

/**
 * An install source from a `models.yaml` entry (original zoo keys): `server` + "/" + `filename`,
 * `sha256` or `SHA256`, `filesize`. A `server` that already ends with the filename is used as is.
 */
export function installSourceFromEntry(entry: unknown): InstallSource {
  if (typeof entry !== 'object' || entry === null) throw InstallFailed('a models.yaml entry must be a mapping');
  const e = entry as Record<string, unknown>;
  const filename = e['filename'];
  const server = e['server'];
  if (typeof filename !== 'string' || filename === '') throw InstallFailed('the models.yaml entry has no filename');
  checkFilename(filename);
  if (typeof server !== 'string' || server.trim() === '') throw InstallFailed(`models.yaml entry ${filename} has no server`);
  const base = server.trim();
  const encoded = encodeURIComponent(filename);
  const url = base.endsWith(`/${filename}`) || base.endsWith(`/${encoded}`) ? base : `${base.replace(/\/+$/, '')}/${encoded}`;
  checkHttpUrl(url);
  const source: InstallSource = { url, filename };
  const sha = e['sha256'] ?? e['SHA256'];
  if (typeof sha === 'string' && sha.trim() !== '') source.sha256 = normalizeSha256(sha);
  const size = typeof e['filesize'] === 'string' ? Number(e['filesize']) : e['filesize'];
  if (typeof size === 'number' && Number.isSafeInteger(size) && size > 0) source.size = size;
  return source;
}

/** Options of `installSourceFromUrl`. */
export interface UrlSourceOptions {
  /** The file name to save under; default the URL's last path segment. */
  filename?: string;
  /** Expected sha256, when the caller knows it. */
  sha256?: string;
}

/** An install source from any http(s) URL; the file name is the URL's last path segment unless given. */
export function installSourceFromUrl(url: string, options: UrlSourceOptions = {}): InstallSource {
  const parsed = checkHttpUrl(url);
  let filename = options.filename;
  if (filename === undefined) {
    const last = parsed.pathname.split('/').pop() ?? '';
    try {
      filename = decodeURIComponent(last);
    } catch {
      filename = last;
    }
  }
  if (filename === '') throw InstallFailed(`cannot tell a file name from ${url}; give one`);
  checkFilename(filename);
  const source: InstallSource = { url: parsed.href, filename };
  if (options.sha256 !== undefined && options.sha256.trim() !== '') source.sha256 = normalizeSha256(options.sha256);
  return source;
}

/** The entry of `models` whose `filename` is `filename`, if any. */
export function findModelEntry(models: readonly unknown[], filename: string): Record<string, unknown> | undefined {
  return models.find(
    (m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as Record<string, unknown>)['filename'] === filename,
  );
}

/** An `install_model` request: a `models.yaml` filename, or a URL (`url`, or `path` as the original named it). */
export interface InstallRequest {
  /** A filename listed in the binding's `models.yaml`. */
  filename?: string;
  /** Any http(s) URL. */
  url?: string;
  /** The original's name for the URL. */
  path?: string;
  /** Expected sha256 for a URL install. */
  sha256?: string;
}

/**
 * The source for an `install_model` request against a binding's parsed `models.yaml`. A URL that is also a
 * `models.yaml` entry's URL gets that entry's checksum and size. An unknown filename is `ModelNotFound`.
 */
export function resolveInstallRequest(request: InstallRequest, models: readonly unknown[]): InstallSource {
  const url = request.url ?? request.path;
  if (url !== undefined) {
    const href = checkHttpUrl(url).href;
    const known = models
      .flatMap((m) => {
        try {
          return [installSourceFromEntry(m)];
        } catch {
          return []; // a broken entry elsewhere in models.yaml does not block a URL install
        }
      })
      .find((s) => s.url === url || new URL(s.url).href === href);
    const source = installSourceFromUrl(url, {
      ...(request.filename !== undefined ? { filename: request.filename } : known ? { filename: known.filename } : {}),
      ...(request.sha256 !== undefined ? { sha256: request.sha256 } : known?.sha256 !== undefined ? { sha256: known.sha256 } : {}),
    });
    if (known?.size !== undefined) source.size = known.size;
    return source;
  }
  if (request.filename === undefined) throw InstallFailed('install_model needs a filename or a url');
  const entry = findModelEntry(models, request.filename);
  if (!entry) throw ModelNotFound(`no model "${request.filename}" in models.yaml`);
  const source = installSourceFromEntry(entry);
  if (request.sha256 !== undefined && request.sha256.trim() !== '') source.sha256 = normalizeSha256(request.sha256);
  return source;
}

// ------------------------------------------------------------------------------------------ checks

function checkHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw InstallFailed(`not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw InstallFailed(`only http(s) URLs can be installed, not ${parsed.protocol} (${url})`);
  }
  return parsed;
}

/**
 * A plain file name, so the file stays inside the models dir and shows in listings: no separators, no `..`,
 * no NUL or control characters, at most 255 bytes; not hidden (a leading dot: the listings skip such files, so
 * it would fill the disk unseen); not `.part` (the suffix of downloads in progress) and not `.reference` (a
 * text file naming a model anywhere on disk: only the operator writes those).
 */
function checkFilename(filename: string): void {
  const refuse = (why: string) => PathOutsideRoot(`refusing model file name "${filename.slice(0, 200)}": ${why}`);
  if (filename === '' || filename === '.' || filename === '..' || /[/\\\0]/.test(filename) || filename.includes('..')) {
    throw refuse('it must be a plain file name inside the models dir');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(filename)) throw refuse('it contains control characters');
  if (Buffer.byteLength(filename) > 255) throw refuse('it is longer than 255 bytes');
  if (filename.startsWith('.')) throw refuse('hidden files (a leading dot) cannot be installed');
  if (/\.(part|reference)$/i.test(filename)) throw refuse('.part and .reference files cannot be installed');
}

function targetPath(modelsDir: string, filename: string): string {
  checkFilename(filename);
  const path = join(modelsDir, filename);
  const rel = relative(modelsDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw PathOutsideRoot(`refusing model file name "${filename}": it leaves the models dir`);
  }
  return path;
}

function normalizeSha256(sha: string): string {
  const hex = sha.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw InstallFailed(`"${sha}" is not a sha256 (64 hex digits)`);
  return hex;
}

// ------------------------------------------------------------------------------------------ helpers

async function sizeOf(path: string): Promise<number | undefined> {
  return stat(path).then((s) => s.size, () => undefined);
}

function contentLength(header: string | null): number | null {
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  return Number(header.trim());
}

// Content-Range: `bytes 100-199/1000`, `bytes */1000` (416) or `bytes 100-199/*` (total unknown).
function contentRange(header: string | null): { start: number | null; total: number | null } | undefined {
  const match = header === null ? null : /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (!match) return undefined;
  return {
    start: match[1] === undefined ? null : Number(match[1]),
    total: match[2] === undefined || match[2] === '*' ? null : Number(match[2]),
  };
}

function causeMessage(error: unknown): string {
  if (error instanceof LollmsHostError) return error.message;
  const cause = (error as { cause?: unknown })?.cause;
  const base = error instanceof Error ? error.message : String(error);
  return cause instanceof Error && cause.message && cause.message !== base ? `${base} (${cause.message})` : base;
}
