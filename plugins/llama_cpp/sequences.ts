/**
 * The context's sequences, handed out one generation at a time, with the cache kept per session (issue 11
 * §5). A sequence's KV cache holds the last prompt evaluated on it; a prompt that shares its prefix is
 * evaluated faster, which lets one client time another's prompt. So a sequence's cache is reused only by the
 * session that filled it: a generation of another session, or of none, gets the sequence cleared first. A
 * free sequence whose cache is the requesting session's own is preferred, so with as many sequences as active
 * clients nobody loses their cache.
 */
import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp';

/** A sequence lent to one generation. */
export interface SequenceLease {
  readonly sequence: LlamaContextSequence;
  /** Whether its cache holds this session's earlier tokens (false: it was cleared for this generation). */
  readonly ownCache: boolean;
}

interface Slot {
  sequence: LlamaContextSequence;
  /** The session whose tokens are in the cache; undefined when empty or filled without a session. */
  owner: string | undefined;
  /** When it was last released (a counter), to clear the least recently used one first. */
  releasedAt: number;
}

interface Waiter {
  resolve(slot: Slot | undefined): void;
}

export class SequencePool {
  private readonly free: Slot[] = [];
  private readonly slots = new Map<LlamaContextSequence, Slot>();
  private readonly waiters: Waiter[] = [];
  private clock = 0;
  private closed = false;

  constructor(context: LlamaContext) {
    for (let i = 0; i < context.totalSequences; i++) {
      const slot: Slot = { sequence: context.getSequence(), owner: undefined, releasedAt: 0 };
      this.free.push(slot);
      this.slots.set(slot.sequence, slot);
    }
  }

  /**
   * A sequence for a generation of `session`, waiting in FIFO order while all are busy; undefined when
   * `signal` aborts or the pool closes meanwhile. Its cache is cleared unless it is the session's own.
   */
  async acquire(session: string | undefined, signal?: AbortSignal): Promise<SequenceLease | undefined> {
    const slot = this.take(session) ?? (await this.wait(signal));
    if (!slot) return undefined;
    const ownCache = session !== undefined && slot.owner === session;
    if (!ownCache) {
      try {
        await slot.sequence.clearHistory();
      } catch (error) {
        this.release(slot.sequence);
        throw error;
      }
      slot.owner = session;
    }
    return { sequence: slot.sequence, ownCache };
  }

  /** Give a sequence back; the next waiter gets it. */
  release(sequence: LlamaContextSequence): void {
    const slot = this.slots.get(sequence);
    if (!slot) return;
    slot.releasedAt = ++this.clock;
    const waiter = this.waiters.shift();
    if (waiter && !this.closed) waiter.resolve(slot);
    else this.free.push(slot);
  }

  /** Wake every waiter with undefined; later `acquire` calls still get free sequences. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
  }

  /** The free slot holding `session`'s cache, else the least recently used free one. */
  private take(session: string | undefined): Slot | undefined {
    if (this.free.length === 0) return undefined;
    let pick = 0;
    for (let i = 0; i < this.free.length; i++) {
      const slot = this.free[i]!;
      if (session !== undefined && slot.owner === session) {
        pick = i;
        break;
      }
      if (slot.releasedAt < this.free[pick]!.releasedAt) pick = i;
    }
    return this.free.splice(pick, 1)[0];
  }

  private wait(signal?: AbortSignal): Promise<Slot | undefined> {
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        resolve(undefined);
      };
      const waiter: Waiter = {
        resolve: (slot) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(slot);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }
}
