import { existsSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import type { Logger } from '../logger.js';
import type { PluginErrorEvent, PluginReloadedEvent, PluginWarningEvent } from '../protocol/index.js';
import type { BindingManager } from '../bindings/manager.js';
import { loadBindingPlugin } from '../plugins/load-binding.js';
import { BINDING_CARD_FILE, MODELS_FILE } from '../plugins/discovery.js';
import { problemOf } from '../plugins/build-errors.js';
import { PluginWarnings } from './plugin-warnings.js';
import type { PersonalityManager } from '../personalities/manager.js';
import { disposeVersion } from '../personalities/version.js';
import { PERSONALITY_CONFIG_FILE } from '../personalities/config.js';
import type { PluginChange } from './watcher.js';

/** One reload, for `GET /status`. */
export interface ReloadRecord {
  kind: 'binding' | 'personality';
  name: string;
  ok: boolean;
  /** When it ended, ISO 8601. */
  at: string;
  /** Why it failed. */
  error?: string;
}

export interface HotReloaderOptions {
  bindings: Pick<BindingManager, 'activePlugin' | 'cacheDir' | 'reloadActive' | 'unloadActive'>;
  personalities: Pick<PersonalityManager, 'mounted' | 'byFolder' | 'unmount' | 'load' | 'reload'>;
  /** Tell every client (`plugin_error`, `plugin_reloaded`, `plugin_warning`). */
  notify: {
    pluginError(event: PluginErrorEvent): void;
    pluginReloaded(event: PluginReloadedEvent): void;
    pluginWarning(event: PluginWarningEvent): void;
  };
  logger: Logger;
  /** Reloads remembered for `recentReloads()`. Default 20. */
  recentLimit?: number;
  /** Told of every reload, ok or failed (metrics). */
  onReload?: (record: ReloadRecord) => void;
}

/** `{message, file, line, column, frame}` of a failed (re)load of the plugin in `folder`, for `plugin_error` and the log. */
export async function errorLocation(error: unknown, folder: string): Promise<PluginErrorEvent['error']> {
  const { code: _code, ...problem } = await problemOf(error, folder);
  return problem;
}

/**
 * What a change to a plugin folder does to the running host. Failures keep the last good version serving and
 * are broadcast as `plugin_error`; successes as `plugin_reloaded`. Work in flight finishes on the version it
 * started with (the drains in `BindingManager` and `MountedPersonality`).
 */
export class HotReloader {
  readonly #options: HotReloaderOptions;
  readonly #recent: ReloadRecord[] = [];
  readonly #warnings: PluginWarnings;

  constructor(options: HotReloaderOptions) {
    this.#options = options;
    this.#warnings = new PluginWarnings({ emit: (_event, payload) => options.notify.pluginWarning(payload), logger: options.logger });
  }

  /** Stop the background checks in flight (host shutdown). */
  dispose(): void {
    this.#warnings.dispose();
  }

  /** The last reloads, oldest first. */
  recentReloads(): ReloadRecord[] {
    return this.#recent.map((r) => ({ ...r }));
  }

  #remember(record: Omit<ReloadRecord, 'at'>): void {
    const full = { ...record, at: new Date().toISOString() };
    this.#recent.push(full);
    try {
      this.#options.onReload?.({ ...full });
    } catch {
      // Metrics must never break a reload.
    }
    const limit = this.#options.recentLimit ?? 20;
    if (this.#recent.length > limit) this.#recent.splice(0, this.#recent.length - limit);
  }

  /** The plugin folder a change belongs to ('' to ignore it): the debounce key of the watcher. */
  keyOf(change: PluginChange): string {
    const { root, segments } = change;
    if (change.kind === 'binding') return segments.length >= 1 ? join(root, segments[0]!) : '';
    // A personality is `language/category/name` or `category/name`: the deepest candidate with a config wins;
    // for a removal (no config left), the candidate a mounted personality lives in.
    const candidates = [3, 2].filter((depth) => segments.length >= depth).map((depth) => join(root, ...segments.slice(0, depth)));
    const withConfig = candidates.find((c) => existsSync(join(c, PERSONALITY_CONFIG_FILE)));
    if (withConfig) return withConfig;
    const mounted = this.#options.personalities.mounted.filter((m) => !m.removed && m.folder);
    const under = segments.length > 0 ? join(root, ...segments) : root;
    const hit = mounted.find((m) => candidates.includes(m.folder!) || m.folder!.startsWith(under + sep) || m.folder === under);
    return hit?.folder ?? '';
  }

  async onChange(change: PluginChange): Promise<void> {
    const folder = this.keyOf(change);
    if (!folder) return;
    if (change.kind === 'binding') await this.reloadBinding(folder);
    else await this.reloadPersonality(folder);
  }

  #broadcastError(event: PluginErrorEvent): void {
    const { file, line, column, message } = event.error;
    const place = file ? `${file}${line ? `:${line}${column ? `:${column}` : ''}` : ''}` : '';
    // A build error's message already names its place.
    const where = place && !message.includes(`${place}: `) ? `${place}: ` : '';
    this.#options.logger.error({ plugin: `${event.kind}:${event.name}`, path: event.path, file, line, column }, `${where}${message} (the last good version keeps serving)`);
    this.#remember({ kind: event.kind, name: event.name, ok: false, error: message });
    this.#options.notify.pluginError(event);
  }

  #broadcastReloaded(kind: 'binding' | 'personality', name: string, version: string, folder: string): void {
    this.#options.logger.info({ plugin: `${kind}:${name}`, version, path: folder }, 'plugin reloaded');
    this.#remember({ kind, name, ok: true });
    this.#options.notify.pluginReloaded({ kind, name, version, path: folder });
  }

  /** Reload (or trial-load) the personality in `folder`, or unmount it when the folder is gone. */
  async reloadPersonality(folder: string): Promise<void> {
    const manager = this.#options.personalities;
    const mounted = manager.byFolder(folder);
    if (!existsSync(join(folder, PERSONALITY_CONFIG_FILE))) {
      for (const m of mounted) {
        const name = m.name;
        manager.unmount(m);
        this.#broadcastError({ kind: 'personality', name, path: folder, error: { message: `personality "${name}" was removed: unmounted; its id is free for the next add_personality` } });
      }
      return;
    }
    if (mounted.length === 0) {
      // Not mounted: check it anyway, so its author sees errors at once; the listing reads the disk itself.
      try {
        const version = await manager.load(folder);
        // Types and config warnings are checked after the version serves (here: after its trial load).
        void this.#warnings.personalityLoaded(version);
        await disposeVersion(version);
        this.#broadcastReloaded('personality', version.config.name, version.config.version, folder);
      } catch (error) {
        this.#warnings.forget(folder);
        this.#broadcastError({ kind: 'personality', name: basename(folder), path: folder, error: await errorLocation(error, folder) });
      }
      return;
    }
    for (const m of mounted) {
      try {
        const version = await manager.reload(m);
        this.#broadcastReloaded('personality', version.config.name, version.config.version, folder);
        void this.#warnings.personalityLoaded(version);
      } catch (error) {
        this.#warnings.forget(folder);
        this.#broadcastError({ kind: 'personality', name: m.name, path: folder, error: await errorLocation(error, folder) });
      }
    }
  }

  /** Rebuild the binding in `folder`; the active one is swapped in with its model reloaded through the new code. */
  async reloadBinding(folder: string): Promise<void> {
    const bindings = this.#options.bindings;
    const name = basename(folder);
    const isActive = bindings.activePlugin?.folder === folder;
    if (!existsSync(join(folder, BINDING_CARD_FILE)) || !existsSync(join(folder, MODELS_FILE))) {
      if (!isActive) return;
      await bindings.unloadActive();
      this.#broadcastError({
        kind: 'binding',
        name,
        path: folder,
        error: { message: `the active binding "${name}" was removed: the host has no binding now. Next step: select_binding with another binding` },
      });
      return;
    }
    try {
      const plugin = await loadBindingPlugin(folder, { cacheDir: bindings.cacheDir, logger: this.#options.logger });
      if (isActive) await bindings.reloadActive(plugin);
      this.#broadcastReloaded('binding', plugin.name, plugin.version, folder);
    } catch (error) {
      this.#broadcastError({ kind: 'binding', name, path: folder, error: await errorLocation(error, folder) });
    }
  }
}
