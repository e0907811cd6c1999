import { basename, isAbsolute, relative, sep } from 'node:path';
import type { PluginErrorEvent, PluginReloadedEvent, PluginWarningEvent } from './payloads.js';
import { clientText } from './client-error.js';

/** The plugin roots a client-facing path is made relative to. */
export interface PluginRoots {
  bindings: readonly string[];
  personalities: readonly string[];
}

function inside(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : undefined;
}

/**
 * A plugin's folder as clients see it: relative to its plugins root (`english/generic/lollms`, `llama_cpp`), or
 * its last segment when it is in none. The same for `plugin_error`, `plugin_reloaded` and `plugin_warning`, so a
 * client can tell which events are about the same plugin.
 */
export function clientPluginPath(kind: 'binding' | 'personality', folder: string, roots: PluginRoots): string {
  const list = kind === 'binding' ? roots.bindings : roots.personalities;
  return list.map((root) => inside(root, folder)).find((r) => r !== undefined) ?? basename(folder);
}

/**
 * `plugin_error` as clients get it: `path` as `clientPluginPath` says, `error.file` relative to that folder, and
 * the message without absolute server paths. The host log keeps the absolute ones.
 */
export function clientPluginError<E extends PluginErrorEvent>(event: E, roots: PluginRoots): E {
  const folder = event.path;
  const error = { ...event.error, message: clientText(event.error.message) };
  // Already relative (a build or load error placed in the plugin by the host): keep it.
  if (error.file !== undefined && isAbsolute(error.file)) error.file = inside(folder, error.file) ?? basename(error.file);
  return { ...event, path: clientPluginPath(event.kind, folder, roots), error };
}

/** `plugin_warning` as clients get it: as `plugin_error` (the warnings' files are already relative to the plugin). */
export function clientPluginWarning(event: PluginWarningEvent, roots: PluginRoots): PluginWarningEvent {
  return {
    ...event,
    path: clientPluginPath(event.kind, event.path, roots),
    warnings: event.warnings.map((w) => ({ ...w, message: clientText(w.message) })),
  };
}

/** `plugin_reloaded` as clients get it: `path` as `clientPluginPath` says. */
export function clientPluginReloaded(event: PluginReloadedEvent, roots: PluginRoots): PluginReloadedEvent {
  return { ...event, path: clientPluginPath(event.kind, event.path, roots) };
}
