/**
 * Generation slots and the queue in front of them, for every transport. With the defaults (one slot, no queue)
 * this is the original busy rule: one generation at a time host-wide, and a request that arrives meanwhile is
 * refused. The decision is synchronous, so two requests that arrive together can never both run (the
 * original set its flag later and had that race).
 *
 * Today's policy is first come, first served. Every waiter carries its client and a position callback, so a
 * fairer policy (FIFO per client, round-robin between clients, per-client caps: issue 18) replaces `#next`
 * and `#admit` without touching any caller.
 */
import { Busy, QueueFull } from '../errors.js';
import type { ClientRef, QueuePolicy } from './types.js';

/** The limits, read at each request (the config can change at run time). */
export interface SchedulerLimits {
  /** Generations that run at once (config `parallel`). */
  slots: number;
  /** Requests of policy `refuse-when-busy` that may wait (config `max_queue`; 0 = the original busy rule). */
  maxQueue: number;
  /** Requests of policy `wait` that may wait (at least `maxQueue`). */
  maxWaiting: number;
}

/** One request for a slot. */
export interface SlotRequest {
  client: ClientRef;
  /** `refuse-when-busy` waits only while `maxQueue` has room; `wait` waits up to `maxWaiting`. */
  policy: QueuePolicy;
  /** Slots this client may hold or wait for at once; one more is refused with `LH_ERR_BUSY`. Default: no cap. */
  maxPerClient?: number;
  /** Aborting while queued leaves the queue at once (the promise rejects with the signal's reason). */
  signal: AbortSignal;
  /** The number of requests ahead of this one while it waits (0 = next), called again whenever it changes. */
  onPosition?: (position: number) => void;
}

export interface Slot {
  /** Free the slot; safe to call more than once. */
  release(): void;
}

interface Waiter {
  readonly request: SlotRequest;
  resolve(slot: Slot): void;
  reject(error: unknown): void;
  /** The last position told to `onPosition`. */
  told: number;
}

export class GenerationScheduler {
  readonly #limits: () => SchedulerLimits;
  #running = 0;
  readonly #queue: Waiter[] = [];
  /** Slots held and places queued, by client id. */
  readonly #perClient = new Map<string, number>();

  constructor(limits: () => SchedulerLimits) {
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

  /** Slots in total and in use, and the queue's depth (for `GET /status`). */
  snapshot(): { slots: { total: number; busy: number }; queue: { depth: number } } {
    return { slots: { total: this.#limits().slots, busy: this.#running }, queue: { depth: this.#queue.length } };
  }

  /**
   * A slot now, or a promise of one when the request may wait. Throws at once, without queueing, with
   * `LH_ERR_BUSY` (policy `refuse-when-busy` and no room, or the client's cap reached) or `LH_ERR_QUEUE_FULL`
   * (policy `wait` and the queue full).
   */
  acquire(request: SlotRequest): Slot | Promise<Slot> {
    // The limits may have grown since the last release: let waiters in first, so nobody overtakes them.
    this.#admit();
    const { slots, maxQueue, maxWaiting } = this.#limits();
    const id = request.client.id;
    const held = this.#perClient.get(id) ?? 0;
    if (request.maxPerClient !== undefined && held >= request.maxPerClient) {
      throw Busy(`client ${id} already has ${held} generation(s) running or waiting`);
    }
    if (this.#running < slots && this.#queue.length === 0) return this.#take(id);
    const room = request.policy === 'wait' ? Math.max(maxWaiting, maxQueue) : maxQueue;
    if (this.#queue.length >= room) {
      if (request.policy === 'wait') throw QueueFull(`the generation queue is full (${this.#queue.length} waiting); retry later`);
      throw Busy('I am busy. Come back later.');
    }
    this.#perClient.set(id, held + 1);
    return new Promise<Slot>((resolve, reject) => {
      const onAbort = () => this.#leave(waiter, request.signal.reason);
      const waiter: Waiter = {
        request,
        told: -1,
        resolve: (slot) => {
          request.signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
        reject: (error) => {
          request.signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.#queue.push(waiter);
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.#tellPositions();
    });
  }

  #leave(waiter: Waiter, reason: unknown): void {
    const index = this.#queue.indexOf(waiter);
    if (index < 0) return;
    this.#queue.splice(index, 1);
    this.#forget(waiter.request.client.id);
    waiter.reject(reason);
    this.#tellPositions();
  }

  /** The waiter that gets the next free slot. */
  #next(): Waiter | undefined {
    return this.#queue.shift();
  }

  #take(clientId: string): Slot {
    this.#running++;
    this.#perClient.set(clientId, (this.#perClient.get(clientId) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        this.#forget(clientId);
        this.#admit();
      },
    };
  }

  /** Hand free slots to waiters. */
  #admit(): void {
    const { slots } = this.#limits();
    let moved = false;
    while (this.#running < slots && this.#queue.length > 0) {
      const waiter = this.#next()!;
      // Its queue place becomes a slot: counted once for the client.
      this.#forget(waiter.request.client.id);
      waiter.resolve(this.#take(waiter.request.client.id));
      moved = true;
    }
    if (moved) this.#tellPositions();
  }

  #forget(clientId: string): void {
    const left = (this.#perClient.get(clientId) ?? 1) - 1;
    if (left > 0) this.#perClient.set(clientId, left);
    else this.#perClient.delete(clientId);
  }

  #tellPositions(): void {
    this.#queue.forEach((waiter, position) => {
      if (waiter.told === position) return;
      waiter.told = position;
      try {
        waiter.request.onPosition?.(position);
      } catch {
        // A sink that throws must not break the queue.
      }
    });
  }
}
