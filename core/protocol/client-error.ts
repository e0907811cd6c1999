import { errorMessage } from '../errors.js';
import { redactPaths } from '../util/redact-paths.js';

/** The longest error text a client receives. */
export const MAX_CLIENT_ERROR_CHARS = 1000;

/**
 * The text of an error as any client may see it (socket replies, HTTP error bodies): absolute server paths
 * replaced by `<path>` and the whole cut to `MAX_CLIENT_ERROR_CHARS`. The full error belongs in the host log.
 * This is the last line of defence; messages should not be built with server paths in the first place.
 */
export function clientErrorText(error: unknown): string {
  return clientText(errorMessage(error));
}

/** `text` with absolute server paths replaced by `<path>`, cut to `MAX_CLIENT_ERROR_CHARS`. */
export function clientText(text: string): string {
  const cut = text.length > MAX_CLIENT_ERROR_CHARS * 4 ? text.slice(0, MAX_CLIENT_ERROR_CHARS * 4) : text;
  const clean = redactPaths(cut);
  return clean.length > MAX_CLIENT_ERROR_CHARS ? `${clean.slice(0, MAX_CLIENT_ERROR_CHARS)}…` : clean;
}
