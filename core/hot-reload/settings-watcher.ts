/**
 * Watches the binding settings folder (`<dataDir>/settings/bindings/`), so that a settings file edited by hand is
 * picked up without a restart. It reports which file changed, debounced (an editor's save is several events);
 * the host decides whether that file is the active binding's and whether its values really changed.
 */
import { mkdir } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';

export interface SettingsWatcherOptions {
  /** The folder to watch; created when missing. */
  folder: string;
  /** A settings file was added or changed (its absolute path), once per burst of events. */
  onChange: (file: string) => void;
  onError?: (error: unknown) => void;
  /** Quiet time before a change is reported, in ms. Default 150. */
  debounceMs?: number;
}

export class SettingsWatcher {
  readonly #watcher: FSWatcher;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly ready: Promise<void>;

  private constructor(options: SettingsWatcherOptions) {
    const debounceMs = options.debounceMs ?? 150;
    // Atomic writes (a temp file renamed over the file): temp files are not settings.
    this.#watcher = watch(options.folder, { ignoreInitial: true, depth: 0, ignored: (path: string) => path !== options.folder && !path.endsWith('.yaml') });
    const changed = (file: string) => {
      clearTimeout(this.#timers.get(file));
      this.#timers.set(
        file,
        setTimeout(() => {
          this.#timers.delete(file);
          options.onChange(file);
        }, debounceMs),
      );
    };
    this.#watcher.on('add', changed).on('change', changed).on('unlink', changed);
    this.#watcher.on('error', (error) => options.onError?.(error));
    this.ready = new Promise((resolve) => this.#watcher.once('ready', () => resolve()));
  }

  static async start(options: SettingsWatcherOptions): Promise<SettingsWatcher> {
    await mkdir(options.folder, { recursive: true });
    const watcher = new SettingsWatcher(options);
    await watcher.ready;
    return watcher;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#watcher.close();
  }
}
