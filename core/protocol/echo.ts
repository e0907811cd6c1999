import { MAX_ECHO_CHARS } from './limits.js';

/**
 * A client-supplied value as a reply may echo it: a string (anything else becomes `""`), cut to
 * `MAX_ECHO_CHARS` with a trailing `…`. Replies name what they answer (`model_name`, `filename`), but a 60 MiB
 * name must not travel back twice.
 */
export function echo(value: unknown, max = MAX_ECHO_CHARS): string {
  if (typeof value !== 'string') return '';
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
