/** Server paths out of texts that reach clients or guest code. */

// An absolute path with at least two segments (`/etc/shadow`, `/home/u/.lollms-host/models/x.gguf`), where a
// path can start: at the start, after a space, a quote or a bracket. URLs are left alone (`https://h/a/b`:
// the `//` follows a colon), and so are one-segment route names (`/update_setting`).
const POSIX_PATH = /(^|[\s"'`([{=,;])\/(?:[^\s"'`()[\]{},;:/]+\/)+[^\s"'`()[\]{},;:]*/g;
const FILE_URL = /file:\/\/\/[^\s"'`)\]},;]*/gi;
const WINDOWS_PATH = /(^|[\s"'`([{=,;])[A-Za-z]:[\\/][^\s"'`)\]},;]*/g;

/** `text` with absolute server paths (POSIX, Windows, file:// URLs) replaced by `<path>`. */
export function redactPaths(text: string): string {
  return text.replace(FILE_URL, '<path>').replace(POSIX_PATH, '$1<path>').replace(WINDOWS_PATH, '$1<path>');
}
