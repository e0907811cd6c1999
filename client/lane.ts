/**
 * A lane runs one request at a time, first come first served. Requests whose replies share an event name go in
 * the same lane, so that a reply can never be taken for another request's (the wire has no request ids).
 */
export class Lane {
  #busy = false;
  readonly #waiters: Array<() => void> = [];

  /**
   * Wait for the lane. Resolves to the function that frees it (safe to call twice). While waiting, an abort of
   * `signal` removes the request from the queue and rejects with `onAbort()`.
   */
  acquire(signal: AbortSignal | undefined, onAbort: () => Error): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', abort);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.#next();
        });
      };
      const abort = () => {
        const at = this.#waiters.indexOf(grant);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(onAbort());
      };
      if (!this.#busy) {
        this.#busy = true;
        grant();
        return;
      }
      this.#waiters.push(grant);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** True when no request runs or waits. */
  get idle(): boolean {
    return !this.#busy;
  }

  #next(): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter();
    else this.#busy = false;
  }
}
