/**
 * Stop strings (anti-prompts) for streamed text, dependency-free so any binding can use it.
 *
 * Matching is case-insensitive, as in the original LoLLMs. A stop string is never emitted, and text that
 * might be the start of one is held back until it is decided. Work per `push` is proportional to the chunk
 * plus the longest stop string, never to the whole text generated so far.
 */

/** What `StopStringFilter.push` lets through. */
export interface StopFilterResult {
  /** Text that is safe to emit now (possibly empty). */
  emit: string;
  /** True once a stop string was found: `emit` is the text before it, and generation should end. */
  stopped: boolean;
}

/**
 * Lowercase one code point at a time, keeping it only when the length is unchanged (e.g. `İ` lowercases to
 * two code units), so that indexes in the folded text are indexes in the original. Folding per code point
 * also avoids context-dependent mappings (final sigma).
 */
export function foldCase(text: string): string {
  // Fast path: ASCII lowercases one-to-one.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase();
  let out = '';
  for (const ch of text) {
    const lower = ch.toLowerCase();
    out += lower.length === ch.length ? lower : ch;
  }
  return out;
}

export class StopStringFilter {
  /** Folded, non-empty, de-duplicated stop strings. */
  private readonly stops: readonly string[];
  /** Text held back because it might be the start of a stop string. */
  private held = '';
  private done = false;

  constructor(stops: readonly string[]) {
    this.stops = [...new Set(stops.filter((s) => s.length > 0).map(foldCase))];
  }

  /** Whether any stop string is configured. */
  get active(): boolean {
    return this.stops.length > 0;
  }

  /** Whether a stop string has been found; later pushes emit nothing. */
  get stopped(): boolean {
    return this.done;
  }

  /** Feed the next piece of text. */
  push(text: string): StopFilterResult {
    if (this.done) return { emit: '', stopped: true };
    if (this.stops.length === 0) return { emit: text, stopped: false };
    const combined = this.held + text;
    const folded = foldCase(combined);
    // The held text is a suffix that could start a stop, and everything before it could not: a match can
    // only start inside `combined`, and the earliest one wins.
    let matchAt = -1;
    for (const stop of this.stops) {
      const at = folded.indexOf(stop);
      if (at !== -1 && (matchAt === -1 || at < matchAt)) matchAt = at;
    }
    if (matchAt !== -1) {
      this.done = true;
      this.held = '';
      return { emit: combined.slice(0, matchAt), stopped: true };
    }
    const keep = this.longestPrefixSuffix(folded);
    this.held = combined.slice(combined.length - keep);
    return { emit: combined.slice(0, combined.length - keep), stopped: false };
  }

  /** End of generation without a stop: release what was held back. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return this.done ? '' : rest;
  }

  /** Length of the longest suffix of `folded` that is a proper prefix of some stop string. */
  private longestPrefixSuffix(folded: string): number {
    let best = 0;
    const last = folded.charCodeAt(folded.length - 1);
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, folded.length); k > best; k--) {
        // Cheap first test: the candidate prefix must end with the text's last character.
        if (stop.charCodeAt(k - 1) !== last) continue;
        if (folded.startsWith(stop.slice(0, k), folded.length - k)) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
