/**
 * CPU time the host spends on someone's behalf (a processor's ctx calls, issue 11 §3), in ns. Work on the
 * host's own thread is measured with `process.threadCpuUsage()` around synchronous sections (`measure`): the
 * thread runs one piece of JavaScript at a time, so what a synchronous section costs is the CPU of the thread
 * across it, whatever else the host has to do. Work elsewhere (a binding's tokenizer thread) is reported by
 * whoever did it (`add`).
 */

/** CPU time of the calling thread (user + system), in ns. */
export function threadCpuNs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) * 1000;
}

export class CpuAccount {
  #ns = 0;

  /** The CPU time counted so far, in ns. */
  get ns(): number {
    return this.#ns;
  }

  /** Add CPU time (ns) measured elsewhere; negative or non-finite values are ignored. */
  add(ns: number): void {
    if (Number.isFinite(ns) && ns > 0) this.#ns += ns;
  }

  /**
   * Run `fn` and count the calling thread's CPU time it took. For an async function that is the part up to its
   * first `await` (what runs before it returns its promise). Do not nest: the inner section would count twice.
   */
  measure<T>(fn: () => T): T {
    const start = threadCpuNs();
    try {
      return fn();
    } finally {
      this.#ns += threadCpuNs() - start;
    }
  }
}
