/**
 * Bounds the sandbox processes of a host (issue 18). Each processor sandbox still has a process of its own while
 * it has one (so one personality's fatal error never takes another's turn with it), but an idle process is
 * ended after `idleMs`, and when more than `maxProcesses` run, the least recently used idle one is ended to make
 * room. The sandbox starts a new process, from the host's spare, at its next call: its module state lives for
 * one call anyway, so nothing is lost but the start-up time (a few tens of ms with the spare ready).
 *
 * A process that serves a call, or has calls waiting, is never ended: when every process is busy the pool runs
 * over its cap, by at most the number of calls in flight, and shrinks back as they end.
 */

/** What the pool needs of a sandbox that owns a process. */
export interface PooledSandbox {
  /** For logs. */
  readonly name: string;
  /** A call runs or waits: the process must not be ended. */
  readonly busy: boolean;
  /** The process id of its current process (memory figures). */
  readonly pid: number | undefined;
  /** End the process now, if idle; returns false when it is not running (already ending). The sandbox starts a new one at its next call. */
  reclaim(): boolean;
}

/** Why a sandbox process was started. */
export type SandboxStartReason = 'load' | 'wake' | 'restart';

/** What the pool reports (metrics). */
export interface SandboxPoolObserver {
  /** A process started: `load` for a new sandbox (mount, hot reload), `wake` after it was reclaimed, `restart` after it ended on its own (crash, limit). */
  started?(reason: SandboxStartReason): void;
  /** A process was ended by the pool (`idle`: it sat idle for `idleMs`; `evicted`: room was needed). */
  reclaimed?(why: 'idle' | 'evicted'): void;
  /** A call failed on a sandbox limit; `kind` is the code's tail in snake case (`timeout`, `memory`, `host_calls`, `emit`, `payload`, `crashed`). */
  violation?(kind: string): void;
}

export interface SandboxPoolOptions {
  /** How long a process may sit idle before it is ended, in ms; 0 ends it when its call is done; negative: never for idleness. Read at each check. */
  idleMs: () => number;
  /** Processes that may run at once (the spare not counted); beyond it the least recently used idle one is ended. Read at each start. */
  maxProcesses: () => number;
  observer?: SandboxPoolObserver;
}

/** A running process of a pooled sandbox. */
export interface PoolEntry {
  /** A call of the sandbox ended: it is the most recently used, and its idle time starts now. */
  used(): void;
  /** The process ended (reclaimed, crashed, disposed): it no longer counts. Safe to call more than once. */
  ended(): void;
}

interface Live {
  readonly member: PooledSandbox;
  lastUsed: number;
  /** Asked to end; it no longer counts against the cap. */
  ending: boolean;
}

export class SandboxPool {
  readonly #options: SandboxPoolOptions;
  /** Running processes, least recently used first (a Map keeps insertion order; `used` re-inserts). */
  readonly #live = new Map<PoolEntry, Live>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #disposed = false;

  constructor(options: SandboxPoolOptions) {
    this.#options = options;
  }

  /** Sandbox processes running now (ending ones included; the spare not counted). */
  get processes(): number {
    return this.#live.size;
  }

  /** Process ids of the running processes (memory figures for the metrics). */
  pids(): number[] {
    return [...this.#live.values()].map((l) => l.member.pid).filter((pid): pid is number => pid !== undefined);
  }

  get observer(): SandboxPoolObserver {
    return this.#options.observer ?? {};
  }

  /** A process of `member` started: count it, and end the least recently used idle ones beyond the cap. */
  register(member: PooledSandbox, reason: SandboxStartReason): PoolEntry {
    const live: Live = { member, lastUsed: performance.now(), ending: false };
    const entry: PoolEntry = {
      used: () => {
        if (!this.#live.has(entry)) return;
        this.#live.delete(entry);
        live.lastUsed = performance.now();
        this.#live.set(entry, live);
        this.#arm();
      },
      ended: () => {
        if (this.#live.delete(entry)) this.#arm();
      },
    };
    this.#live.set(entry, live);
    this.#options.observer?.started?.(reason);
    this.#evict(entry);
    this.#arm();
    return entry;
  }

  /** End every idle process now (benchmarks, memory pressure); returns how many were asked to end. */
  reclaimIdle(): number {
    let count = 0;
    for (const live of this.#live.values()) if (this.#end(live, 'idle')) count++;
    return count;
  }

  /** Stop the idle timer (host shutdown; the sandboxes themselves are disposed by their owners). */
  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #end(live: Live, why: 'idle' | 'evicted'): boolean {
    if (live.ending || live.member.busy) return false;
    // A process that is already ending on its own (disposed, crashed) is not counted either way.
    live.ending = true;
    if (!live.member.reclaim()) return false;
    this.#options.observer?.reclaimed?.(why);
    return true;
  }

  #evict(keep: PoolEntry): void {
    const max = this.#options.maxProcesses();
    let counted = [...this.#live.values()].filter((l) => !l.ending).length;
    for (const [entry, live] of this.#live) {
      if (counted <= max) return;
      if (entry !== keep && this.#end(live, 'evicted')) counted--;
    }
  }

  /** Set the timer for the next idle process to end, if any may. */
  #arm(): void {
    if (this.#disposed) return;
    const idleMs = this.#options.idleMs();
    if (idleMs < 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    let earliest = Infinity;
    // A busy process is left out: it is used again (and the timer armed) when its call ends.
    for (const live of this.#live.values()) if (!live.ending && !live.member.busy) earliest = Math.min(earliest, live.lastUsed + idleMs);
    if (earliest === Infinity || (this.#timer && earliest >= this.#timerAt)) return;
    clearTimeout(this.#timer);
    this.#timerAt = earliest;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, earliest - performance.now()));
    // Idle processes never keep the host alive.
    this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const idleMs = this.#options.idleMs();
    if (idleMs >= 0) {
      const now = performance.now();
      for (const live of this.#live.values()) if (now - live.lastUsed >= idleMs) this.#end(live, 'idle');
    }
    this.#arm();
  }
}
