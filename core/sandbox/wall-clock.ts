/**
 * The wall clock of one turn (issue 15): it stands still while the workflow waits for the user (`ctx.ask`),
 * so that the time a person takes to answer does not count against `sandbox_wall_time_ms`. One clock is
 * shared by every hook call of a turn and by the turns of the personalities it calls (`ctx.callPersonality`):
 * a question asked anywhere in that tree stops the clock of every sandbox call that is running in it.
 *
 * Host side only: a sandbox process learns of a pause or a resume through its run's `wall` messages.
 */
export class WallClock {
  readonly startedAt: number;
  #pausedMs = 0;
  #holds = 0;
  #since = 0;
  readonly #listeners = new Set<() => void>();

  constructor(startedAt = Date.now()) {
    this.startedAt = startedAt;
  }

  /** Whether the clock stands still now. */
  get paused(): boolean {
    return this.#holds > 0;
  }

  /** Milliseconds the clock stood still in pauses that have ended (added to the wall time limit). */
  get pausedMs(): number {
    return this.#pausedMs;
  }

  /** Milliseconds left of `limitMs` (never below 0); `Infinity` while paused. */
  remaining(limitMs: number, now = Date.now()): number {
    if (this.paused) return Infinity;
    return Math.max(0, this.startedAt + this.#pausedMs + limitMs - now);
  }

  /**
   * Stop the clock until the returned function is called (once; later calls do nothing). Holds nest: the clock
   * runs again when the last one is released.
   */
  hold(): () => void {
    if (this.#holds++ === 0) {
      this.#since = Date.now();
      this.#notify();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) {
        this.#pausedMs += Date.now() - this.#since;
        this.#notify();
      }
    };
  }

  /** Call `listener` after every pause and every resume; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
