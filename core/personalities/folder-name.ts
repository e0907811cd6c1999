/**
 * Folder names of personalities. Zoo personalities are named for people (`"ascii artist"`, `"Chain Of
 * Thoughts"`); their folders hold the same words in a form every file system and URL takes.
 */

/** Folder names: a letter or digit, then letters, digits, `_` and `-` (64 at most). */
export const FOLDER_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

/**
 * The folder name for a personality name: accents dropped, lower case, every run of other characters one
 * `_`, at most 64 characters (`"ASCII Artist"` → `ascii_artist`, `"Café crème"` → `cafe_creme`). An empty
 * string when the name has no letter or digit that fits (`"日本語"`): ask for a folder name then.
 */
export function folderNameFor(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+|[_-]+$/g, '')
    .slice(0, 64)
    .replace(/[_-]+$/, '');
}

/** Whether a personality's `name` and its folder name say the same thing (case, accents, spaces and `_`/`-` aside). */
export function nameMatchesFolder(name: string, folder: string): boolean {
  const words = (s: string) => folderNameFor(s).replace(/[_-]+/g, '_');
  return words(name) !== '' && words(name) === words(folder);
}
