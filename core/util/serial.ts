/**
 * Tasks that run one at a time, in the order they were queued: model and binding selections, personality
 * mounts, the calls of one processor sandbox, the turns of one discussion. A failed task does not stop the
 * ones behind it. A task queued with an AbortSignal leaves the queue when it aborts while waiting (it rejects
 * with the signal's reason); the tasks behind it then wait for the one before it.
 */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  /** Tasks queued and not yet started. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Run `task` once every task queued before it has ended. */
  run<T>(task: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    this.#waiting++;
    return (async () => {
      try {
        await waitFor(previous, signal);
      } catch (error) {
        // Leaving the queue: whoever is behind waits for our predecessor instead.
        void previous.then(release);
        throw error;
      } finally {
        this.#waiting--;
      }
      try {
        return await task();
      } finally {
        release();
      }
    })();
  }

  /** Settles once every task queued so far has ended (whatever their outcome). */
  idle(): Promise<void> {
    return this.#tail;
  }
}

function waitFor(previous: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return previous;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
