/**
 * A wake-up call for code that waits on a state it cannot subscribe to (the model state of the binding manager):
 * `notify()` wakes every waiter, and each waiter looks at the state again. A waiter gives up at its deadline or
 * when its signal aborts.
 */
export class ChangeSignal {
  #waiters: Array<() => void> = [];

  /** Wake everyone waiting now. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Resolves `'changed'` at the next `notify()`, `'timeout'` at `deadline` (a `performance.now()` time), and
   * rejects with the signal's reason when `signal` aborts.
   */
  next(deadline: number, signal?: AbortSignal): Promise<'changed' | 'timeout'> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => settle(() => resolve('changed'));
      const onAbort = () => settle(() => reject(signal!.reason));
      const settle = (how: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        how();
      };
      this.#waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => settle(() => resolve('timeout')), Math.max(0, deadline - performance.now()));
    });
  }
}
