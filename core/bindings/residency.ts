/**
 * Model residency (issue 18): `keep_alive` with Ollama's semantics. A model that no request has used for the
 * keep-alive time is unloaded to give its memory back; the next request that needs it loads it again and waits,
 * as requests wait during start-up. `0` unloads it as soon as nothing uses it; a negative value keeps it
 * loaded for good. A model in use (a generation, a tokenize call: any lease) is never unloaded: the clock starts
 * when the last lease ends. The config value is parsed by `keepAliveMs` (core/util/duration.ts).
 */

/** The longest delay one timer takes (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timers the residency uses (tests pass their own). */
export interface ResidencyTimers {
  setTimeout(callback: () => void, ms: number): { unref?(): void };
  clearTimeout(handle: unknown): void;
}

export interface ModelResidencyOptions {
  /** The keep-alive time in ms, read each time the model becomes idle: negative keeps it, 0 unloads at once. */
  keepAliveMs: () => number;
  /** Unload the model: called once it has been idle for the keep-alive time. */
  unload: () => void;
  timers?: ResidencyTimers;
}

/** Counts the leases on the loaded model and unloads it after `keep_alive` without any. */
export class ModelResidency {
  readonly #options: ModelResidencyOptions;
  readonly #timers: ResidencyTimers;
  #leases = 0;
  #timer: unknown;
  /** When the armed unload fires (ms since the epoch), for `GET /status`; undefined when none is armed. */
  #unloadAt: number | undefined;

  constructor(options: ModelResidencyOptions) {
    this.#options = options;
    this.#timers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  /** Leases held now. */
  get inUse(): number {
    return this.#leases;
  }

  /** When the idle model will be unloaded (ms since the epoch), or undefined (in use, kept for good, or none loaded). */
  get unloadAt(): number | undefined {
    return this.#unloadAt;
  }

  /** A lease on the model began: no unload until the returned function (safe to call more than once) ends it. */
  hold(): () => void {
    this.#leases++;
    this.#disarm();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#leases--;
      if (this.#leases === 0) this.refresh();
    };
  }

  /** Start the idle clock again with the current keep-alive (a model was loaded, the setting changed). */
  refresh(): void {
    this.#disarm();
    if (this.#leases > 0) return;
    const ms = this.#options.keepAliveMs();
    if (ms < 0) return;
    this.#unloadAt = Date.now() + ms;
    this.#arm(ms);
  }

  /** Wait `ms` (in steps a timer can take: at most about 24.8 days each), then unload. */
  #arm(ms: number): void {
    const step = Math.min(ms, MAX_TIMER_MS);
    const timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      const left = ms - step;
      if (left > 0) return this.#arm(left);
      this.#unloadAt = undefined;
      if (this.#leases === 0) this.#options.unload();
    }, step);
    // An armed unload never keeps the host alive.
    timer.unref?.();
    this.#timer = timer;
  }

  /** No model is loaded any more (unloaded, switched off, shutdown): nothing to unload. */
  stop(): void {
    this.#disarm();
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unloadAt = undefined;
  }
}
