import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** A binding folder found in one of the bindings paths. */
export interface BindingFolder {
  /** The folder name: the binding's id on the wire. */
  name: string;
  /** Absolute path of the folder. */
  folder: string;
  /** The bindings path it was found in. */
  root: string;
  /** Folders of the same name in earlier paths that this one overrides (for a log line). */
  shadowed: string[];
}

/** The two files that make a folder a binding; anything else (`.git`, `.vscode`, stray files) is skipped. */
export const BINDING_CARD_FILE = 'binding_card.yaml';
export const MODELS_FILE = 'models.yaml';

/**
 * The binding folders in `paths`, sorted by name. A sub-folder counts when it holds both `binding_card.yaml`
 * and `models.yaml`; others are skipped silently (a cloned zoo has `.git`, `.vscode`, docs). A path that
 * does not exist contributes nothing.
 *
 * When two paths hold a folder of the same name, the LATER path wins: list the built-in bindings first and a
 * user's own folder after them, so a user's copy overrides a built-in one. The losers are in `shadowed`.
 */
export async function discoverBindings(paths: readonly string[]): Promise<BindingFolder[]> {
  const byName = new Map<string, BindingFolder>();
  for (const path of paths) {
    const root = resolve(path);
    for (const name of await listSubfolders(root)) {
      const folder = join(root, name);
      if (!(await isFile(join(folder, BINDING_CARD_FILE))) || !(await isFile(join(folder, MODELS_FILE)))) continue;
      const earlier = byName.get(name);
      const shadowed = earlier ? [...earlier.shadowed, earlier.folder] : [];
      byName.set(name, { name, folder, root, shadowed });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Names of the sub-folders of `root` (following symlinks); none when `root` is missing or not a folder. */
async function listSubfolders(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) names.push(entry.name);
    else if (entry.isSymbolicLink() && (await stat(join(root, entry.name)).then((s) => s.isDirectory(), () => false))) names.push(entry.name);
  }
  return names;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}
