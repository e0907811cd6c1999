import { watch, type FSWatcher } from 'chokidar';
import { basename, relative, sep } from 'node:path';

/** Which plugin a changed path belongs to. */
export interface PluginChange {
  kind: 'binding' | 'personality';
  /** The plugin root it was found under (a bindings or personalities path). */
  root: string;
  /** Path segments from the root to the changed path. */
  segments: string[];
}

export interface PluginWatcherOptions {
  /** Folders that hold bindings. */
  bindingsPaths: readonly string[];
  /** Folders that hold personalities. */
  personalitiesPaths: readonly string[];
  /** Quiet time after the last event of a plugin before it is reloaded, in ms. Default `DEFAULT_DEBOUNCE_MS`. */
  debounceMs?: number;
  /**
   * Called once per burst of changes, with a key (the plugin's folder, as the caller maps it) and the change.
   * Calls for one key never overlap: events during a reload schedule one more reload after it.
   */
  onChange(change: PluginChange): Promise<void>;
  /** Maps a change to the folder it reloads, which is the debounce key. */
  keyOf(change: PluginChange): string;
  /** Told about every change at once, before any debounce (e.g. to drop a cached listing). */
  onEvent?(change: PluginChange): void;
  onError?(error: unknown): void;
}

/** Quiet time after a plugin's last file event before it is reloaded. */
export const DEFAULT_DEBOUNCE_MS = 50;

/** Names editors and tools write next to real files: never a reason to reload. */
const IGNORED_NAMES = [/^\./, /~$/, /\.swp$/, /\.swx$/, /\.tmp$/, /^4913$/, /^#.*#$/];
const IGNORED_DIRS = new Set(['node_modules', '.git']);

/** Whether a path is noise: node_modules, .git, dot files and editor temp/swap files. */
export function isIgnoredPath(path: string): boolean {
  const parts = path.split(sep);
  if (parts.some((p) => IGNORED_DIRS.has(p))) return true;
  const name = basename(path);
  return IGNORED_NAMES.some((re) => re.test(name));
}

/**
 * chokidar over every plugin path, debounced per plugin folder. chokidar can swallow a quick second write to a
 * file (its change events are throttled without a trailing event), so the reload always reads the files anew
 * after the quiet time, and the caller re-checks the folder once its reload ends: the last write wins.
 */
export class PluginWatcher {
  readonly #options: PluginWatcherOptions;
  readonly #watcher: FSWatcher;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly ready: Promise<void>;
  #closed = false;

  constructor(options: PluginWatcherOptions) {
    this.#options = options;
    const roots = [...options.bindingsPaths, ...options.personalitiesPaths];
    // The roots themselves are never ignored, even when one lives under a dot folder.
    const rootSet = new Set(roots);
    this.#watcher = watch(roots, {
      ignoreInitial: true,
      ignored: (path: string) => !rootSet.has(path) && roots.some((r) => path.startsWith(r + sep) && isIgnoredPath(relative(r, path))),
      depth: 8,
    });
    this.ready = new Promise((resolve) => this.#watcher.once('ready', () => resolve()));
    this.#watcher.on('all', (_event, path) => this.#onPath(path));
    this.#watcher.on('error', (error) => options.onError?.(error));
  }

  #classify(path: string): PluginChange | undefined {
    const find = (roots: readonly string[], kind: PluginChange['kind']) => {
      for (const root of roots) {
        const rel = relative(root, path);
        if (rel === '' || rel.startsWith('..')) continue;
        return { kind, root, segments: rel.split(sep) };
      }
      return undefined;
    };
    // A personalities path inside a bindings path (or the reverse) is matched by the deeper root first.
    const candidates = [find(this.#options.bindingsPaths, 'binding'), find(this.#options.personalitiesPaths, 'personality')].filter(
      (c): c is PluginChange => c !== undefined,
    );
    return candidates.sort((a, b) => b.root.length - a.root.length)[0];
  }

  #onPath(path: string): void {
    if (this.#closed) return;
    const change = this.#classify(path);
    if (!change) return;
    this.#options.onEvent?.(change);
    const key = this.#options.keyOf(change);
    if (!key) return;
    clearTimeout(this.#timers.get(key));
    this.#timers.set(key, setTimeout(() => this.#fire(key, change), this.#options.debounceMs ?? DEFAULT_DEBOUNCE_MS));
  }

  #fire(key: string, change: PluginChange): void {
    this.#timers.delete(key);
    if (this.#running.has(key)) {
      this.#again.add(key);
      return;
    }
    const run = this.#options
      .onChange(change)
      .catch((error: unknown) => this.#options.onError?.(error))
      .finally(() => {
        this.#running.delete(key);
        if (this.#again.delete(key) && !this.#closed) this.#fire(key, change);
      });
    this.#running.set(key, run);
  }

  /** Wait for reloads in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#watcher.close();
    await this.idle();
  }
}
