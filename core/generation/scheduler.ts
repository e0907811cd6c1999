/**
 * Generation slots and the queue in front of them, for every transport. With the defaults (one slot, no queue)
 * this is the original busy rule: one generation at a time host-wide, and a request that arrives meanwhile is
 * refused. The decision is synchronous, so two requests that arrive together can never both run (the
 * original set its flag later and had that race).
 *
 * The queue is fair between clients (issue 18): each client's requests wait in their own FIFO line, and a free
 * slot goes to the lines in turn (round-robin), so one client with many requests cannot starve the others. The
 * turn is ordered by when each client was last given a slot: a client just served that still waits goes to the
 * back, and a client that joins goes before every client served more recently than itself (one with nothing
 * running joins in front of them). Each client may have a bounded number of requests waiting
 * (`maxQueuedPerClient`).
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
  /** Requests one client may have waiting at once, whatever its policy (config `max_queue_per_client`). Default: no cap. */
  maxQueuedPerClient?: number;
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

/** What the scheduler reports as it works (metrics). */
export interface SchedulerObserver {
  /** A request of `client` got its slot after waiting `waitedMs` (0 when it never waited). */
  admitted?(client: ClientRef, waitedMs: number): void;
  /** A request was refused at once (`reason` is the code's tail: `busy`, `queue_full`). */
  refused?(reason: 'busy' | 'queue_full'): void;
  /** A waiting request left the queue without a slot (cancel, disconnect). */
  abandoned?(waitedMs: number): void;
}

export class GenerationScheduler {
  readonly #limits: () => SchedulerLimits;
  readonly #observer: SchedulerObserver;
  #running = 0;
  /** Each client's waiting requests, oldest first. */
  readonly #lines = new Map<string, Waiter[]>();
  /** Clients with waiting requests, in the order they get the next free slots. */
  #turn: string[] = [];
  #depth = 0;
  /** Slots held and places queued, by client id. */
  readonly #perClient = new Map<string, number>();
  /** When each client holding or waiting for a slot was last given one (a sequence number; absent: not since it came). */
  readonly #lastServed = new Map<string, number>();
  #served = 0;
  readonly #since = new WeakMap<Waiter, number>();

  constructor(limits: () => SchedulerLimits, observer: SchedulerObserver = {}) {
    this.#limits = limits;
    this.#observer = observer;
  }

  /** Generations running now. */
  get running(): number {
    return this.#running;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#depth;
  }

  /** Slots in total and in use, and the queue's depth (for `GET /status`). */
  snapshot(): { slots: { total: number; busy: number }; queue: { depth: number } } {
    return { slots: { total: this.#limits().slots, busy: this.#running }, queue: { depth: this.#depth } };
  }

  /**
   * A slot now, or a promise of one when the request may wait. Throws at once, without queueing, with
   * `LH_ERR_BUSY` (policy `refuse-when-busy` and no room, or the client's cap reached) or `LH_ERR_QUEUE_FULL`
   * (policy `wait` and the queue, or the client's share of it, full).
   */
  acquire(request: SlotRequest): Slot | Promise<Slot> {
    // The limits may have grown since the last release: let waiters in first, so nobody overtakes them.
    this.#admit();
    const { slots, maxQueue, maxWaiting, maxQueuedPerClient } = this.#limits();
    const id = request.client.id;
    const held = this.#perClient.get(id) ?? 0;
    const refuse = (reason: 'busy' | 'queue_full', message: string): never => {
      this.#observer.refused?.(reason);
      throw reason === 'busy' ? Busy(message) : QueueFull(message);
    };
    if (request.maxPerClient !== undefined && held >= request.maxPerClient) {
      refuse('busy', `client ${id} already has ${held} generation(s) running or waiting`);
    }
    if (this.#running < slots && this.#depth === 0) {
      this.#observer.admitted?.(request.client, 0);
      return this.#take(id);
    }
    const waiting = this.#lines.get(id)?.length ?? 0;
    const room = request.policy === 'wait' ? Math.max(maxWaiting, maxQueue) : maxQueue;
    if (this.#depth >= room || (maxQueuedPerClient !== undefined && waiting >= maxQueuedPerClient)) {
      if (request.policy !== 'wait') refuse('busy', 'I am busy. Come back later.');
      if (this.#depth >= room) refuse('queue_full', `the generation queue is full (${this.#depth} waiting); retry later`);
      refuse('queue_full', `this client already has ${waiting} request(s) waiting (max_queue_per_client); retry when one has started`);
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
      this.#since.set(waiter, performance.now());
      this.#enqueue(waiter);
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.#tellPositions();
    });
  }

  #enqueue(waiter: Waiter): void {
    const id = waiter.request.client.id;
    const line = this.#lines.get(id);
    if (line) line.push(waiter);
    else {
      this.#lines.set(id, [waiter]);
      this.#joinTurn(id);
    }
    this.#depth++;
  }

  /** Place a client in the turn: behind every client served before it, in front of those served since. */
  #joinTurn(id: string): void {
    const mine = this.#lastServed.get(id) ?? -1;
    const before = this.#turn.findIndex((other) => (this.#lastServed.get(other) ?? -1) > mine);
    if (before < 0) this.#turn.push(id);
    else this.#turn.splice(before, 0, id);
  }

  #leave(waiter: Waiter, reason: unknown): void {
    const id = waiter.request.client.id;
    const line = this.#lines.get(id);
    const index = line ? line.indexOf(waiter) : -1;
    if (!line || index < 0) return;
    line.splice(index, 1);
    this.#depth--;
    if (line.length === 0) {
      this.#lines.delete(id);
      this.#turn = this.#turn.filter((c) => c !== id);
    }
    this.#forget(id);
    this.#observer.abandoned?.(performance.now() - (this.#since.get(waiter) ?? performance.now()));
    waiter.reject(reason);
    this.#tellPositions();
  }

  /** The waiter that gets the next free slot: the head of the next client's line; that client goes to the back. */
  #next(): Waiter | undefined {
    const id = this.#turn.shift();
    if (id === undefined) return undefined;
    const line = this.#lines.get(id)!;
    const waiter = line.shift()!;
    this.#depth--;
    if (line.length === 0) this.#lines.delete(id);
    return waiter;
  }

  #take(clientId: string): Slot {
    this.#running++;
    this.#perClient.set(clientId, (this.#perClient.get(clientId) ?? 0) + 1);
    this.#lastServed.set(clientId, ++this.#served);
    // Served and still waiting: to the back of the turn.
    if (this.#lines.has(clientId)) {
      this.#turn = this.#turn.filter((c) => c !== clientId);
      this.#joinTurn(clientId);
    }
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
    while (this.#running < slots && this.#depth > 0) {
      const waiter = this.#next()!;
      // Its queue place becomes a slot: counted once for the client.
      this.#forget(waiter.request.client.id);
      this.#observer.admitted?.(waiter.request.client, performance.now() - (this.#since.get(waiter) ?? performance.now()));
      waiter.resolve(this.#take(waiter.request.client.id));
      moved = true;
    }
    if (moved) this.#tellPositions();
  }

  #forget(clientId: string): void {
    const left = (this.#perClient.get(clientId) ?? 1) - 1;
    if (left > 0) this.#perClient.set(clientId, left);
    else {
      // Nothing held or waiting: the client is forgotten (memory stays bounded by the active clients).
      this.#perClient.delete(clientId);
      this.#lastServed.delete(clientId);
    }
  }

  /**
   * The waiters in the order they will be served if nobody else arrives: round after round, one from each line
   * in turn order.
   */
  #order(): Waiter[] {
    const order: Waiter[] = [];
    const lines = this.#turn.map((id) => this.#lines.get(id)!);
    const rounds = Math.max(0, ...lines.map((line) => line.length));
    for (let round = 0; round < rounds; round++) {
      for (const line of lines) if (round < line.length) order.push(line[round]!);
    }
    return order;
  }

  #tellPositions(): void {
    this.#order().forEach((waiter, position) => {
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
