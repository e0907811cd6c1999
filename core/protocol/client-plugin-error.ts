import { basename, isAbsolute, relative, sep } from 'node:path';
import type { PluginErrorEvent } from './payloads.js';
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
 * `plugin_error` as clients get it: `path` is the plugin's folder relative to its plugins root
 * (`english/generic/lollms`, `llama_cpp`), `error.file` relative to that folder, and the message without
 * absolute server paths. The host log keeps the absolute ones.
 */
export function clientPluginError<E extends PluginErrorEvent>(event: E, roots: PluginRoots): E {
  const list = event.kind === 'binding' ? roots.bindings : roots.personalities;
  const folder = event.path;
  const path = list.map((root) => inside(root, folder)).find((r) => r !== undefined) ?? basename(folder);
  const error = { ...event.error, message: clientText(event.error.message) };
  // Already relative (a build or load error placed in the plugin by the host): keep it.
  if (error.file !== undefined && isAbsolute(error.file)) error.file = inside(folder, error.file) ?? basename(error.file);
  return { ...event, path, error };
}
