/**
 * The CPU time a hook call is charged against its limit (`sandbox_cpu_time_ms`), measured as CPU, not as time
 * on the clock: a loaded machine makes a call slower, never makes it fail sooner.
 *
 * Why not isolated-vm's own measures: the per-entry `timeout` is wall time while the isolate runs, and
 * `isolate.cpuTime` is too while an entry is running (it adds the clock time since the entry started; with
 * the prebuilt Linux binary it stays clock time after the entry as well: a loop that ran for 1.5 s on a core
 * shared three ways read 1509 ms of `cpuTime` against 209 ms of process CPU). Both made work near the limit
 * fail whenever the machine was busy.
 *
 * What is counted, per interval between two samples (the engine samples every 10 ms and after each entry):
 * - the sandbox process's CPU time (`process.cpuUsage`, all its threads: the isolate's, its garbage collector,
 *   the bridge on the main thread), but only while the isolate ran, and at most as long as it ran: the interval
 *   is charged `min(process CPU, isolate run time)`, where the run time is `isolate.wallTime` (clock time
 *   inside the isolate, a call out through the bridge included). While the call awaits the host, the isolate
 *   does not run and nothing is charged (the process's own timers cost about 1% of a core, which would add up
 *   over a long generation);
 * - plus the CPU the host spent serving the call's ctx operations (tokenizing its texts, encoding its results),
 *   which the host measures and sends back with each result (`charge`).
 */

/** Reads a clock in ns. */
export type NsClock = () => bigint;

/** CPU time of the whole process (user + system, every thread), in ns. */
export const processCpuNs: NsClock = () => {
  const { user, system } = process.cpuUsage();
  return BigInt(user + system) * 1000n;
};

/** What a call's CPU came to, in ns. */
export interface CpuUsed {
  /** Charged while the isolate ran: the guest's code, the bootstrap and the bridge. */
  sandboxNs: bigint;
  /** Reported by the host for the call's ctx operations. */
  hostNs: bigint;
  /** The two together: what the limit is checked against. */
  totalNs: bigint;
}

export class CallCpuMeter {
  readonly #isolateClock: NsClock;
  readonly #processCpu: NsClock;
  #lastIsolate: bigint;
  #lastProcess: bigint;
  #sandboxNs = 0n;
  #hostNs = 0n;

  constructor(
    /** Clock time spent inside the isolate so far (`isolate.wallTime`); 0 once it is gone. */
    isolateClock: NsClock,
    processCpu: NsClock = processCpuNs,
  ) {
    this.#isolateClock = isolateClock;
    this.#processCpu = processCpu;
    this.#lastIsolate = isolateClock();
    this.#lastProcess = processCpu();
  }

  /** Charge the interval since the last sample. Cheap (two clock reads): call it often. */
  sample(): void {
    const isolate = this.#isolateClock();
    const cpu = this.#processCpu();
    const ran = isolate - this.#lastIsolate;
    const spent = cpu - this.#lastProcess;
    if (ran > 0n && spent > 0n) this.#sandboxNs += ran < spent ? ran : spent;
    // A replaced isolate's clock starts again at 0: keep the reading either way.
    this.#lastIsolate = isolate;
    this.#lastProcess = cpu;
  }

  /** Add CPU time the host spent for this call (ns; negative or non-finite values are ignored). */
  charge(ns: number): void {
    if (Number.isFinite(ns) && ns > 0) this.#hostNs += BigInt(Math.round(ns));
  }

  get used(): CpuUsed {
    return { sandboxNs: this.#sandboxNs, hostNs: this.#hostNs, totalNs: this.#sandboxNs + this.#hostNs };
  }
}

/** Milliseconds, rounded, of a ns figure. */
export function nsToMs(ns: bigint): number {
  return Number((ns + 500_000n) / 1_000_000n);
}
