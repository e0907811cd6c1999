/**
 * The personality zoo: finding personalities in one or more personalities paths, the listing events
 * (lollms-reference §1.3.3, §1.3.5-1.3.7), `add_personality {path}` resolution (§1.3.10) and the asset URLs.
 *
 * Layout. A folder is a personality iff it holds `config.yaml`; its depth below the personalities path says
 * what it is:
 * - depth 3, `language/category/name` (the zoo until 2023-08-18);
 * - depth 2, `category/name` (the zoo after). Such a personality lists under the language its config names
 *   (`language`, lower-cased; "english" when absent or empty), so old clients that pick a language first
 *   still see it, and `language/category/name` for it is accepted by `resolvePersonalityPath` too.
 * A personality folder is not searched further. Dot folders (`.git`, `.vscode`) are skipped, and so is
 * anything whose real path (symlinks followed) leaves its personalities path.
 * When several paths hold the same language/category/name, the LAST path wins, in listings and resolution, as
 * for bindings: personalities paths configured after the built-in folder override it.
 *
 * Listings go through a `ZooCache` when one is given (the host has one): a config is parsed once per version of
 * its file, and while the plugin watcher runs, a listing does no file system work at all until the watcher
 * reports a change under a personalities path.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dirent } from 'node:fs';
import { LollmsHostError, PathNotFound, PathOutsideRoot, PersonalityNotFound } from '../errors.js';
import type { PersonalityInfo } from '../protocol/payloads.js';
import { resolveInside, splitRelativePath } from '../util/safe-path.js';
import { PERSONALITY_CONFIG_FILE, loadPersonalityConfig, type PersonalityConfig } from './config.js';

/** The logo file names the original looked for, in its order of preference (`assets/logo.<ext>`). */
export const LOGO_EXTENSIONS = ['gif', 'webp', 'png', 'jpg', 'jpeg', 'bmp'] as const;

/** URL prefix of personality assets; the host serves `<prefix><rel path>/assets/<file>` (see `resolvePersonalityAsset`). */
export const PERSONALITY_ASSET_PREFIX = '/personalities/';

/** The language a two-level personality lists under when its config names none. */
export const DEFAULT_LANGUAGE = 'english';

export interface ZooOptions {
  /**
   * Told about each personality left out because its `config.yaml` is broken (and about a personalities path
   * that is missing). The listing itself never fails for those. With a cache, once per version of the file.
   */
  onError?: (folder: string, error: unknown) => void;
  /** Told about a config read despite a PyYAML-only construct (see core/util/yaml.ts); with a cache, once per version of the file. */
  onWarning?: (file: string, message: string) => void;
  /** Keeps parsed configs (and, while watched, whole listings) between calls. */
  cache?: ZooCache;
}

/** A parsed config (or why it failed), with the identity of the file version it came from. */
interface CachedConfig {
  stamp: string;
  result: { config: PersonalityConfig } | { error: unknown };
}

interface CachedScan {
  /** The last complete scan; trusted without any file system access while watched. */
  entries: ZooEntry[] | undefined;
  /** Parsed configs by file path, from the last scan. */
  files: Map<string, CachedConfig>;
}

/**
 * Parsed personality configs kept between listings. Every listing walks the folders and compares each
 * `config.yaml`'s identity (inode, size, modification times in ns) with the cached one, and parses only new or
 * changed files. While `watched` (the host's plugin watcher runs), the last listing is reused as it is until
 * `changed()`: the watcher calls it for every event under a personalities path.
 */
export class ZooCache {
  readonly #scans = new Map<string, CachedScan>();
  #watched = false;
  #generation = 0;

  /** Something under a personalities path changed: the next listing walks the folders again. */
  changed(): void {
    this.#generation++;
    for (const scan of this.#scans.values()) scan.entries = undefined;
  }

  /** Whether a watcher reports every change (then unchanged listings are served from memory). */
  get watched(): boolean {
    return this.#watched;
  }

  set watched(on: boolean) {
    this.#watched = on;
    this.changed();
  }

  /** Forget everything (tests, shutdown). */
  clear(): void {
    this.#scans.clear();
    this.#generation++;
  }

  /** @internal The scan state of one list of personalities paths. */
  scanFor(paths: readonly string[]): CachedScan {
    const key = JSON.stringify(paths);
    let scan = this.#scans.get(key);
    if (!scan) {
      scan = { entries: undefined, files: new Map() };
      this.#scans.set(key, scan);
    }
    return scan;
  }

  /** @internal */
  get generation(): number {
    return this.#generation;
  }
}

/** The identity of a file's current version, or undefined when it cannot be read. */
async function fileStamp(file: string): Promise<string | undefined> {
  const s = await stat(file, { bigint: true }).catch(() => undefined);
  return s ? `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : undefined;
}

/** One personality found in the zoo. */
export interface ZooEntry {
  /** The personalities path it was found in, as given. */
  root: string;
  /** Its real absolute folder. */
  folder: string;
  /** Its path relative to `root`, with `/`: `english/generic/lollms` or `generic/lollms`. */
  relPath: string;
  /** 3 for `language/category/name`, 2 for `category/name`. */
  layout: 2 | 3;
  /** The folder's language (layout 3) or the config's (layout 2, see the module comment). */
  language: string;
  category: string;
  /** The personality's folder name (the full name; the original's `Path.stem` cut it at the last dot). */
  folderName: string;
  config: PersonalityConfig;
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/** Sub-folder names of `dir` inside `root`, sorted; dot folders and symlinks out of `root` are skipped. */
async function subfolders(root: string, rel: string[]): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(root, ...rel), { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return [];
    throw error;
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) names.push(entry.name);
    else if (entry.isSymbolicLink()) {
      const target = await resolveInside(root, [...rel, entry.name].join('/')).catch(() => undefined);
      if (target && (await isDirectory(target))) names.push(entry.name);
    }
  }
  return names.sort();
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** Whether `rel` (inside `root`) is a personality folder: it holds a `config.yaml` file that stays inside `root`. */
async function hasConfig(root: string, rel: string): Promise<boolean> {
  const file = await resolveInside(root, `${rel}/${PERSONALITY_CONFIG_FILE}`).catch(() => undefined);
  return file !== undefined && (await isFile(file));
}

function listingLanguage(config: PersonalityConfig): string {
  const language = config.language.trim().toLowerCase();
  return language === '' ? DEFAULT_LANGUAGE : language;
}

/** Every personality in `paths` whose config loads; of duplicates, the one in the last path is kept. */
export async function scanPersonalities(paths: readonly string[], options: ZooOptions = {}): Promise<ZooEntry[]> {
  const cache = options.cache;
  const scan = cache?.scanFor(paths);
  if (cache?.watched && scan?.entries) return scan.entries;
  const generation = cache?.generation;
  const files = new Map<string, CachedConfig>();
  const load = async (folder: string): Promise<PersonalityConfig> => {
    const file = join(folder, PERSONALITY_CONFIG_FILE);
    const stamp = await fileStamp(file);
    const cached = stamp === undefined ? undefined : scan?.files.get(file);
    if (cached && cached.stamp === stamp) {
      files.set(file, cached);
      if ('error' in cached.result) throw new ReportedError(cached.result.error);
      return cached.result.config;
    }
    try {
      const config = await loadPersonalityConfig(folder);
      if (stamp !== undefined) files.set(file, { stamp, result: { config } });
      for (const oddity of config.yamlOddities) options.onWarning?.(`${file}:${oddity.line}:${oddity.column}`, oddity.message);
      return config;
    } catch (error) {
      if (stamp !== undefined) files.set(file, { stamp, result: { error } });
      throw error;
    }
  };

  const candidates: Array<{ root: string; segments: string[] }> = [];
  // Later paths first, so that the de-duplication below keeps their copy.
  for (const root of [...paths].reverse()) {
    if (!(await isDirectory(root))) {
      options.onError?.(root, PathNotFound(`personalities path ${root} does not exist`));
      continue;
    }
    for (const a of await subfolders(root, [])) {
      for (const b of await subfolders(root, [a])) {
        if (await hasConfig(root, `${a}/${b}`)) {
          candidates.push({ root, segments: [a, b] });
          continue;
        }
        for (const c of await subfolders(root, [a, b])) {
          if (await hasConfig(root, `${a}/${b}/${c}`)) candidates.push({ root, segments: [a, b, c] });
        }
      }
    }
  }

  // Configs load in parallel (a real zoo has hundreds); a broken one is reported and left out.
  const loaded = await Promise.all(candidates.map(async ({ root, segments }): Promise<ZooEntry | undefined> => {
    const relPath = segments.join('/');
    let config: PersonalityConfig;
    let folder: string;
    try {
      folder = await resolveInside(root, relPath);
      config = await load(folder);
    } catch (error) {
      // A broken file is reported once per version of it when a cache remembers it.
      if (!(error instanceof ReportedError)) options.onError?.(join(root, ...segments), error);
      return undefined;
    }
    const [first = '', second = '', third = ''] = segments;
    return segments.length === 3
      ? { root, folder, relPath, layout: 3, language: first, category: second, folderName: third, config }
      : { root, folder, relPath, layout: 2, language: listingLanguage(config), category: first, folderName: second, config };
  }));

  const found: ZooEntry[] = [];
  const seen = new Set<string>();
  for (const entry of loaded) {
    if (!entry) continue;
    const key = `${entry.language}/${entry.category}/${entry.folderName}`;
    if (seen.has(key)) continue;
    seen.add(key);
    found.push(entry);
  }
  if (scan && cache?.generation === generation) {
    scan.files = files;
    scan.entries = found;
  }
  return found;
}

/** A config error already reported when its file version was first parsed. */
class ReportedError extends Error {
  constructor(readonly original: unknown) {
    super('already reported');
  }
}

/** The URL path of a personality asset: `/personalities/<encoded rel path>/assets/<encoded file>`. */
export function personalityAssetUrl(relPath: string, file: string): string {
  const encoded = relPath.split('/').map(encodeURIComponent).join('/');
  return `${PERSONALITY_ASSET_PREFIX}${encoded}/assets/${encodeURIComponent(file)}`;
}

/** The logo's file name (`logo.<ext>`, first of `LOGO_EXTENSIONS` present), or undefined. */
async function findLogo(entry: ZooEntry): Promise<string | undefined> {
  // One readdir instead of a probe per extension: listings walk hundreds of personalities.
  const present = new Set(await readdir(join(entry.folder, 'assets')).catch(() => [] as string[]));
  for (const ext of LOGO_EXTENSIONS) {
    if (!present.has(`logo.${ext}`)) continue;
    const file = await resolveInside(entry.folder, `assets/logo.${ext}`).catch(() => undefined);
    if (file && (await isFile(file))) return `logo.${ext}`;
  }
  return undefined;
}

const infos = new WeakMap<ZooEntry, Promise<PersonalityInfo>>();

/**
 * The `personalities_list` entry of a personality (§1.3.3, with the listing's own defaults). Kept with the entry,
 * so a cached listing does not look for logos again.
 */
export function personalityInfo(entry: ZooEntry): Promise<PersonalityInfo> {
  let info = infos.get(entry);
  if (!info) {
    info = readPersonalityInfo(entry);
    infos.set(entry, info);
    info.catch(() => infos.delete(entry));
  }
  return info;
}

async function readPersonalityInfo(entry: ZooEntry): Promise<PersonalityInfo> {
  const { config } = entry;
  const logo = await findLogo(entry);
  return {
    folder: entry.folderName,
    name: config.declaredKeys.has('name') ? config.name : 'No Name',
    description: config.declaredKeys.has('personality_description') ? config.personality_description : '',
    author: config.author,
    version: config.version,
    has_scripts: await isDirectory(join(entry.folder, 'scripts')),
    has_logo: logo !== undefined,
    avatar: logo === undefined ? '' : personalityAssetUrl(entry.relPath, logo),
  };
}

/** `personalities_list.personalities`: `{ [language]: { [category]: PersonalityInfo[] } }`, sorted by folder. */
export async function listPersonalities(paths: readonly string[], options: ZooOptions = {}): Promise<Record<string, Record<string, PersonalityInfo[]>>> {
  const entries = await scanPersonalities(paths, options);
  const out: Record<string, Record<string, PersonalityInfo[]>> = {};
  const infos = await Promise.all(entries.map(personalityInfo));
  entries.forEach((entry, i) => {
    const byCategory = (out[entry.language] ??= {});
    (byCategory[entry.category] ??= []).push(infos[i]!);
  });
  for (const byCategory of Object.values(out)) {
    for (const list of Object.values(byCategory)) list.sort((x, y) => (x.folder < y.folder ? -1 : x.folder > y.folder ? 1 : 0));
  }
  return out;
}

const unique = (values: string[]) => [...new Set(values)].sort();

/** Language names (folder names for three-level zoos), sorted. */
export async function listLanguages(paths: readonly string[], options: ZooOptions = {}): Promise<string[]> {
  return unique((await scanPersonalities(paths, options)).map((e) => e.language));
}

/** Category names, of one language or (none given, the two-level clients' `{}`) of all. Unknown language → `PersonalityNotFound`. */
export async function listCategories(paths: readonly string[], language?: string, options: ZooOptions = {}): Promise<string[]> {
  let entries = await scanPersonalities(paths, options);
  if (language !== undefined) {
    entries = entries.filter((e) => e.language === language);
    if (entries.length === 0) throw PersonalityNotFound(`no personality language "${language}"`);
  }
  return unique(entries.map((e) => e.category));
}

export interface ListNamesQuery {
  /** Left out by two-level clients (`{category}` alone): every language. */
  language?: string;
  category: string;
}

/** Personality folder names of a category, sorted. An unknown category (or language) → `PersonalityNotFound`. */
export async function listNames(paths: readonly string[], query: ListNamesQuery, options: ZooOptions = {}): Promise<string[]> {
  const entries = (await scanPersonalities(paths, options)).filter(
    (e) => e.category === query.category && (query.language === undefined || e.language === query.language),
  );
  if (entries.length === 0) {
    throw PersonalityNotFound(`no personality category "${query.category}"${query.language === undefined ? '' : ` in language "${query.language}"`}`);
  }
  return unique(entries.map((e) => e.folderName));
}

/** The real folder of `rel` in `root` if it is a personality there, undefined if not; escapes throw. */
async function personalityIn(root: string, rel: string): Promise<string | undefined> {
  try {
    const folder = await resolveInside(root, rel);
    await resolveInside(root, `${rel}/${PERSONALITY_CONFIG_FILE}`);
    return folder;
  } catch (error) {
    if (error instanceof LollmsHostError && error.code === PathNotFound.code) return undefined;
    throw error;
  }
}

/**
 * The real absolute folder of the personality `relPath` (`add_personality {path}`): `language/category/name`
 * or `category/name` relative to one of `paths`, the last path first. So that both generations of clients work
 * with both zoo layouts, a three-segment path also finds a two-level personality listed under that language,
 * and a two-segment path also finds `<language>/category/name` ("english" first, then the others in order).
 * Throws `PathOutsideRoot` for `..`, absolute paths, NUL bytes, backslashes, empty segments and symlinks that
 * lead out of the personalities path; `PersonalityNotFound` when there is no such personality.
 */
export async function resolvePersonalityPath(paths: readonly string[], relPath: string): Promise<string> {
  const segments = splitRelativePath(relPath);
  if (segments.length !== 2 && segments.length !== 3) {
    throw PersonalityNotFound(`personality path "${relPath}" must be language/category/name or category/name`);
  }
  const byPriority = [...paths].reverse();
  for (const root of byPriority) {
    const folder = await personalityIn(root, relPath);
    if (folder) return folder;
  }
  if (segments.length === 3) {
    const [language, category, name] = segments as [string, string, string];
    for (const root of byPriority) {
      const folder = await personalityIn(root, `${category}/${name}`);
      if (folder && listingLanguage(await loadPersonalityConfig(folder)) === language) return folder;
    }
  } else {
    for (const root of byPriority) {
      const languages = (await subfolders(root, [])).sort((x, y) => Number(y === DEFAULT_LANGUAGE) - Number(x === DEFAULT_LANGUAGE));
      for (const language of languages) {
        const folder = await personalityIn(root, `${language}/${relPath}`);
        if (folder) return folder;
      }
    }
  }
  throw PersonalityNotFound(`personality "${relPath}" not found in ${paths.length === 0 ? 'any personalities path (none configured)' : paths.join(', ')}`);
}

/**
 * The real file behind an asset URL path made by `personalityAssetUrl` (as it arrives, percent-encoded;
 * a query string is ignored). Only files under the personality's `assets/` folder are served, never its
 * config or `secret.yaml`. Throws `PathOutsideRoot` for any escape attempt (including an encoded `/`, `..`
 * or NUL) and `PathNotFound` / `PersonalityNotFound` when there is nothing to serve.
 */
export async function resolvePersonalityAsset(paths: readonly string[], urlPath: string): Promise<string> {
  const pathname = urlPath.replace(/[?#].*$/s, '');
  if (!pathname.startsWith(PERSONALITY_ASSET_PREFIX)) throw PathNotFound(`${pathname} is not a personality asset URL`);
  const segments = pathname.slice(PERSONALITY_ASSET_PREFIX.length).split('/').map((raw) => {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch (error) {
      throw PathOutsideRoot(`asset URL ${pathname} refused: bad percent-encoding`, { cause: error });
    }
    if (segment.includes('/')) throw PathOutsideRoot(`asset URL ${pathname} refused: an encoded "/" in a segment`);
    return segment;
  });
  // Checks every segment (.., NUL, backslash, empty) before any file system access.
  splitRelativePath(segments.join('/'));
  // `<3 segments>/assets/...` or `<2 segments>/assets/...`; a three-level reading is tried first.
  for (const depth of [3, 2]) {
    if (segments[depth] !== 'assets' || segments.length < depth + 2) continue;
    const folder = await resolvePersonalityPath(paths, segments.slice(0, depth).join('/')).catch((error: unknown) => {
      if (error instanceof LollmsHostError && error.code === PersonalityNotFound.code) return undefined;
      throw error;
    });
    if (!folder) continue;
    const file = await resolveInside(folder, segments.slice(depth).join('/'));
    if (!(await isFile(file))) throw PathNotFound(`${pathname} is not a file`);
    return file;
  }
  throw PathNotFound(`no personality asset at ${pathname}`);
}

