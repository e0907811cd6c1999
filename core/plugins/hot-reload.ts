import { existsSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import type { Host } from '../host.js';
import type { PluginErrorEvent } from '../protocol/index.js';
import { problemOf } from './build-errors.js';
import { PluginWarnings } from './plugin-warnings.js';
import { loadBindingPlugin } from './load-binding.js';
import { BINDING_CARD_FILE, MODELS_FILE } from './discovery.js';
import { disposeVersion } from '../personalities/version.js';
import { PERSONALITY_CONFIG_FILE } from '../personalities/config.js';
import type { PluginChange } from './watcher.js';

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
  readonly #host: Host;
  readonly #warnings: PluginWarnings;

  constructor(host: Host) {
    this.#host = host;
    this.#warnings = new PluginWarnings({ emit: (event, payload) => host.io.emit(event, payload), logger: host.logger });
  }

  /** Stop the background checks in flight (host shutdown). */
  dispose(): void {
    this.#warnings.dispose();
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
    const mounted = this.#host.personalities.mounted.filter((m) => !m.removed && m.folder);
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
    this.#host.logger.error({ plugin: `${event.kind}:${event.name}`, path: event.path, file, line, column }, `${where}${message} (the last good version keeps serving)`);
    this.#host.io.emit('plugin_error', event);
  }

  #broadcastReloaded(kind: 'binding' | 'personality', name: string, version: string): void {
    this.#host.logger.info({ plugin: `${kind}:${name}`, version }, 'plugin reloaded');
    this.#host.io.emit('plugin_reloaded', { kind, name, version });
  }

  /** Reload (or trial-load) the personality in `folder`, or unmount it when the folder is gone. */
  async reloadPersonality(folder: string): Promise<void> {
    const manager = this.#host.personalities;
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
        disposeVersion(version);
        this.#broadcastReloaded('personality', version.config.name, version.config.version);
      } catch (error) {
        this.#warnings.forget(folder);
        this.#broadcastError({ kind: 'personality', name: basename(folder), path: folder, error: await errorLocation(error, folder) });
      }
      return;
    }
    for (const m of mounted) {
      try {
        const version = await manager.reload(m);
        this.#broadcastReloaded('personality', version.config.name, version.config.version);
        void this.#warnings.personalityLoaded(version);
      } catch (error) {
        this.#warnings.forget(folder);
        this.#broadcastError({ kind: 'personality', name: m.name, path: folder, error: await errorLocation(error, folder) });
      }
    }
  }

  /** Rebuild the binding in `folder`; the active one is swapped in with its model reloaded through the new code. */
  async reloadBinding(folder: string): Promise<void> {
    const bindings = this.#host.bindings;
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
      const plugin = await loadBindingPlugin(folder, { cacheDir: bindings.cacheDir, logger: this.#host.logger });
      if (isActive) await bindings.reloadActive(plugin);
      this.#broadcastReloaded('binding', plugin.name, plugin.version);
    } catch (error) {
      this.#broadcastError({ kind: 'binding', name, path: folder, error: await errorLocation(error, folder) });
    }
  }
}
