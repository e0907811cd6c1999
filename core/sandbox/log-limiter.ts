/**
 * The host log's share of one personality: its processor's log lines (`ctx.log`, `console`, and the sandbox's
 * own lines about its calls) pass at a steady rate with bursts, each cut to `maxLineChars`; the rest is
 * dropped, and the log says so once when dropping starts, then gives the count (when the processor has slowed
 * down, and at most once a minute while it has not).
 * Per-turn budgets alone do not bound this: a processor answering many quick turns wrote 526 MB in 10 s.
 */

/** Options of `LogLimiter`. */
export interface LogLimiterOptions {
  /** The personality, named in the notices. */
  name: string;
  /** Lines per second in the long run (config `sandbox_log_lines_per_second`). */
  linesPerSecond: number;
  /** Lines that may pass at once after a quiet spell. Default 10 x `linesPerSecond`. */
  burst?: number;
  /** Longest line kept, in characters; the rest is replaced by a note of how much was cut. Default 4096. */
  maxLineChars?: number;
  /** Where the two notices go (as warnings of the host log). */
  notice(message: string): void;
  /** Clock in ms (tests). Default `performance.now`. */
  now?: () => number;
}

export const DEFAULT_MAX_LOG_LINE_CHARS = 4096;
/** While lines keep being dropped, their count is logged at most this often. */
const REPORT_MS = 60_000;

/** A token bucket over log lines, one per personality, shared by all its sandbox processes. */
export class LogLimiter {
  readonly #options: LogLimiterOptions;
  readonly #burst: number;
  readonly #max: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  #dropped = 0;
  #dropping = false;
  #reportedAt = 0;

  constructor(options: LogLimiterOptions) {
    this.#options = options;
    this.#burst = Math.max(1, options.burst ?? options.linesPerSecond * 10);
    this.#max = options.maxLineChars ?? DEFAULT_MAX_LOG_LINE_CHARS;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#last = this.#now();
  }

  /** Lines dropped and not yet counted in a notice. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * The line to log (cut to the maximum), or undefined when it is dropped. A dropping spell is announced once
   * when it starts; its count is logged when the processor has been quiet long enough to refill the burst, and
   * at most every `REPORT_MS` while it goes on.
   */
  pass(line: string): string | undefined {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#options.linesPerSecond);
    this.#last = now;
    if (this.#dropping && this.#tokens >= this.#burst) {
      this.#report();
      this.#dropping = false;
    }
    if (this.#tokens < 1) {
      if (!this.#dropping) {
        this.#dropping = true;
        this.#reportedAt = now;
        this.#options.notice(
          `personality "${this.#options.name}" logs more than ${this.#options.linesPerSecond} lines per second (sandbox_log_lines_per_second): its log lines are dropped until it slows down`,
        );
      }
      this.#dropped++;
      return undefined;
    }
    this.#tokens -= 1;
    if (this.#dropping && now - this.#reportedAt >= REPORT_MS) {
      this.#report();
      this.#reportedAt = now;
    }
    return this.clip(line);
  }

  #report(): void {
    if (this.#dropped === 0) return;
    this.#options.notice(`personality "${this.#options.name}": ${this.#dropped} log lines were dropped`);
    this.#dropped = 0;
  }

  /** `text` cut to the longest line kept. */
  clip(text: string): string {
    return text.length > this.#max ? `${text.slice(0, this.#max)}… [${text.length - this.#max} more characters cut]` : text;
  }
}
