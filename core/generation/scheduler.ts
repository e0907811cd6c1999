/**
 * Generation slots. With the defaults (one slot, no queue) this is the original busy rule: one generation at a
 * time host-wide, and a request that arrives meanwhile is refused. The slot is taken synchronously, so two
 * requests that arrive together can never both run (the original set its flag later and had that race).
 */
export class GenerationScheduler {
  readonly #limits: () => { slots: number; maxQueue: number };
  #running = 0;
  readonly #queue: Array<{ resolve: (slot: Slot) => void; reject: (error: unknown) => void }> = [];

  constructor(limits: () => { slots: number; maxQueue: number }) {
    this.#limits = limits;
  }

  /** Generations running now. */
  get running(): number {
    return this.#running;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * A slot now, a promise of one when the request may queue, or undefined when the host is busy.
   * Aborting `signal` while queued rejects the promise and frees the place.
   */
  acquire(signal?: AbortSignal): Slot | Promise<Slot> | undefined {
    const { slots, maxQueue } = this.#limits();
    if (this.#running < slots) return this.#take();
    if (this.#queue.length >= maxQueue) return undefined;
    return new Promise<Slot>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#queue.push(waiter);
      signal?.addEventListener('abort', () => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** Refuse every queued request (host shutdown). */
  rejectQueued(error: unknown): void {
    for (const waiter of this.#queue.splice(0)) waiter.reject(error);
  }

  #take(): Slot {
    this.#running++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        const next = this.#queue.shift();
        if (next) next.resolve(this.#take());
      },
    };
  }
}

export interface Slot {
  /** Free the slot; safe to call more than once. */
  release(): void;
}
