/**
 * How long the event loop of this process (the host runs in it in tests) is held by one stretch of work, measured
 * so that other processes on the machine cannot change the figure.
 *
 * A timer ticks every `TICK_MS`. Between two ticks the loop ran whatever was ready; the CPU time this thread spent
 * in between (`process.threadCpuUsage`) is what those tasks cost. When one task holds the loop for 150 ms of CPU,
 * two ticks are 150 ms of CPU apart; when the loop is merely busy with many short tasks, timers still fire every
 * turn and the ticks stay about `TICK_MS` apart. The largest CPU gap between ticks is therefore the longest the
 * loop was held, as CPU. A busy machine stretches that on the clock (the thread waits for a core) but not as
 * CPU, which is why this figure cannot flake; the time on the clock is reported too, for the record.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const TICK_MS = 5;

export interface LoopReport {
  /** The longest stretch of CPU this thread spent between two turns of the event loop (ms). */
  maxHeldCpuMs: number;
  /** The longest delay of a timer on the clock (ms, perf_hooks); grows when the machine is busy. */
  maxDelayMs: number;
  /** Ticks observed. */
  ticks: number;
}

export class LoopWatch {
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #maxHeld = 0;
  #ticks = 0;
  readonly #delay = monitorEventLoopDelay({ resolution: 10 });

  start(): this {
    this.#last = cpuMs();
    this.#delay.enable();
    this.#timer = setInterval(() => {
      const now = cpuMs();
      this.#maxHeld = Math.max(this.#maxHeld, now - this.#last);
      this.#last = now;
      this.#ticks++;
    }, TICK_MS);
    return this;
  }

  stop(): LoopReport {
    clearInterval(this.#timer);
    this.#delay.disable();
    return { maxHeldCpuMs: Math.round(this.#maxHeld * 10) / 10, maxDelayMs: Math.round(this.#delay.max / 1e5) / 10, ticks: this.#ticks };
  }
}

function cpuMs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

/**
 * Run `probes` one after the other, every `everyMs`, until `work` settles; returns each probe's latencies (ms on
 * the clock) and how `work` ended. A probe that fails fails the measurement.
 */
export async function probeWhile<T>(work: Promise<T>, probes: Record<string, () => Promise<unknown>>, everyMs = 50): Promise<{ result: T; latencies: Record<string, number[]> }> {
  let done = false;
  const settled = work.finally(() => (done = true));
  const latencies: Record<string, number[]> = Object.fromEntries(Object.keys(probes).map((name) => [name, []]));
  const loop = (async () => {
    while (!done) {
      for (const [name, probe] of Object.entries(probes)) {
        const start = performance.now();
        await probe();
        latencies[name]!.push(performance.now() - start);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  const result = await settled;
  await loop;
  return { result, latencies };
}
