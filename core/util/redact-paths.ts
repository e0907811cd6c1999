/** Server paths out of texts that reach clients or guest code. */

/** Absolute paths (POSIX or Windows) inside a message, replaced before the text reaches a guest. */
const PATH_PATTERN = /(?:[A-Za-z]:[\\/]|(?<![\w.])\/)(?:[^\s'"`:;,()<>]+[\\/])*[^\s'"`:;,()<>]*/g;

/** A message with absolute paths replaced by `<path>`. */
export function redactPaths(message: string): string {
  return message.replace(PATH_PATTERN, '<path>');
}
