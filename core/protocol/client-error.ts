import { errorMessage } from '../errors.js';

/** The longest error text a client receives. */
export const MAX_CLIENT_ERROR_CHARS = 1000;

// An absolute path with at least two segments (`/etc/shadow`, `/home/u/.lollms-host/models/x.gguf`), where a
// path can start: at the start, after a space, a quote or a bracket. URLs are left alone (`https://h/a/b`:
// the `//` follows a colon), and so are one-segment route names (`/update_setting`).
const POSIX_PATH = /(^|[\s"'`([{=,;])\/(?:[^\s"'`()[\]{},;:/]+\/)+[^\s"'`()[\]{},;:]*/g;
const FILE_URL = /file:\/\/\/[^\s"'`)\]},;]*/gi;
const WINDOWS_PATH = /(^|[\s"'`([{=,;])[A-Za-z]:[\\/][^\s"'`)\]},;]*/g;

/**
 * The text of an error as any client may see it (socket replies, HTTP error bodies): absolute server paths
 * replaced by `<path>` and the whole cut to `MAX_CLIENT_ERROR_CHARS`. The full error belongs in the host log.
 * This is the last line of defence; messages should not be built with server paths in the first place.
 */
export function clientErrorText(error: unknown): string {
  return redactPaths(errorMessage(error));
}

/** `text` with absolute server paths replaced by `<path>`, cut to `MAX_CLIENT_ERROR_CHARS`. */
export function redactPaths(text: string): string {
  const cut = text.length > MAX_CLIENT_ERROR_CHARS * 4 ? text.slice(0, MAX_CLIENT_ERROR_CHARS * 4) : text;
  const clean = cut.replace(FILE_URL, '<path>').replace(POSIX_PATH, '$1<path>').replace(WINDOWS_PATH, '$1<path>');
  return clean.length > MAX_CLIENT_ERROR_CHARS ? `${clean.slice(0, MAX_CLIENT_ERROR_CHARS)}…` : clean;
}
