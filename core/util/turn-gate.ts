/**
 * A gate for short synchronous work that many clients ask for (tokenize, detokenize, embed): each task starts on
 * a turn of the event loop of its own, clients take turns, and a client has one task at a time. Whatever one
 * client sends at once (a burst of requests arrives in one read of its socket), the event loop runs at most one
 * of its tasks before it serves everything else again: `/health`, other clients, the generation's tokens.
 *
 * A task may be async (a long text tokenized on another thread): the client's next task starts once it settled.
 * Tasks per client (waiting or running) are bounded; one more is refused at once with `LH_ERR_TOO_MANY_REQUESTS`.
 */
import { TooManyRequests } from '../errors.js';

/** Tokenize, detokenize and embed requests one client may have at once (`LH_ERR_TOO_MANY_REQUESTS` past it). */
export const DEFAULT_MAX_TASKS_PER_CLIENT = 16;

interface Pending {
  start(): void;
}

export interface TurnGateOptions {
  /** Tasks one client may have at once, waiting or running; default `DEFAULT_MAX_TASKS_PER_CLIENT`. */
  maxTasksPerClient?: number;
}

export class TurnGate {
  readonly #maxTasks: number;
  /** Per client: its waiting tasks, oldest first. Insertion order of the map is the round-robin order. */
  readonly #waiting = new Map<string, Pending[]>();
  /** Clients with a task running. */
  readonly #running = new Set<string>();
  #scheduled = false;

  constructor(options: TurnGateOptions = {}) {
    this.#maxTasks = options.maxTasksPerClient ?? DEFAULT_MAX_TASKS_PER_CLIENT;
  }

  /** Tasks waiting, over all clients (diagnostics). */
  get waiting(): number {
    let n = 0;
    for (const queue of this.#waiting.values()) n += queue.length;
    return n;
  }

  /**
   * Run `task` for `client` on a turn of its own. Rejects with `LH_ERR_TOO_MANY_REQUESTS` when the client has
   * `maxTasksPerClient` tasks already, or with the signal's reason when `signal` aborts before the task started.
   */
  run<T>(client: string, task: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    const queue = this.#waiting.get(client) ?? [];
    const pending = queue.length + (this.#running.has(client) ? 1 : 0);
    if (pending >= this.#maxTasks) {
      return Promise.reject(TooManyRequests(`${pending} requests of this client are not answered yet (at most ${this.#maxTasks}); send the next once one is answered`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const at = queue.indexOf(entry);
        if (at < 0) return;
        queue.splice(at, 1);
        if (queue.length === 0 && this.#waiting.get(client) === queue) this.#waiting.delete(client);
        reject(signal!.reason);
      };
      const entry: Pending = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#running.add(client);
          const done = () => {
            this.#running.delete(client);
            this.#schedule();
          };
          try {
            Promise.resolve(task()).then(resolve, reject).finally(done);
          } catch (error) {
            reject(error);
            done();
          }
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(entry);
      this.#waiting.set(client, queue);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate runs after the I/O of this turn: every task gets a turn of the event loop of its own.
    setImmediate(() => {
      this.#scheduled = false;
      this.#startNext();
    });
  }

  /** Start the oldest task of the first client (in turn order) that has none running, then move it to the back. */
  #startNext(): void {
    for (const [client, queue] of this.#waiting) {
      if (this.#running.has(client)) continue;
      const next = queue.shift();
      this.#waiting.delete(client);
      if (queue.length > 0) this.#waiting.set(client, queue); // to the back of the round
      if (next) next.start();
      if (this.waiting > 0) this.#schedule();
      return;
    }
  }
}
