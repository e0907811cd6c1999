/**
 * A discussion: the text blocks of one client's personality-mode turns (lollms-reference §5.3), with what it
 * costs to keep them. Each block's token count is kept with it, so a turn tokenizes only its new text; blocks
 * that no window of the model can reach any more are dropped, so memory per client stays bounded.
 */
import { SerialQueue } from '../util/serial.js';
import type { TokenCounter } from './token-count.js';

export class Discussion {
  #blocks: string[] = [];
  /** Token counts of `#blocks`, by the counter in `#counter`. */
  #counts: number[] = [];
  #counter: TokenCounter | undefined;
  /** The counts of the last `countBlocks` call, reused by the next call and by `commit`. */
  #last: { blocks: readonly string[]; counts: number[] } | undefined;
  readonly #turns = new SerialQueue();
  /** `ctx.state` of each personality that took part, by its id (JSON text, bounded by `sandbox_max_state_bytes`). */
  readonly #states = new Map<string, { json: string }>();

  constructor(blocks: readonly string[] = []) {
    this.#blocks = [...blocks];
  }

  /** The blocks, oldest first. */
  get blocks(): readonly string[] {
    return this.#blocks;
  }

  /**
   * The token count of each of `blocks` (usually this discussion's blocks plus a turn's new ones). Counts of
   * blocks seen before are reused; a different counter (another model) starts afresh.
   */
  async countBlocks(blocks: readonly string[], counter: TokenCounter): Promise<number[]> {
    if (counter !== this.#counter) {
      this.#counter = counter;
      this.#counts = [];
      this.#last = undefined;
    }
    const counts: number[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      let known: number | undefined;
      if (block === this.#blocks[i]) known = this.#counts[i];
      if (known === undefined && this.#last && block === this.#last.blocks[i]) known = this.#last.counts[i];
      counts.push(known ?? (await counter.count(block)));
    }
    this.#last = { blocks, counts };
    return counts;
  }

  /**
   * Store the blocks after a turn, then drop the oldest blocks that the newer ones already outweigh by
   * `keepTokens` (the model's context size: no prompt can hold more, so no turn could use them).
   */
  async commit(blocks: readonly string[], counter: TokenCounter, keepTokens: number): Promise<void> {
    let counts: number[];
    try {
      counts = await this.countBlocks(blocks, counter);
    } catch {
      // The model went away mid-turn: keep the text, count it next time.
      this.#blocks = [...blocks];
      this.#counts = [];
      this.#counter = undefined;
      this.#last = undefined;
      return;
    }
    let drop = 0;
    let after = counts.reduce((sum, n) => sum + n, 0);
    while (drop < blocks.length - 1 && after - counts[drop]! >= keepTokens) after -= counts[drop++]!;
    this.#blocks = blocks.slice(drop);
    this.#counts = counts.slice(drop);
    this.#last = undefined;
  }

  /**
   * The `ctx.state` of personality `id` in this discussion (issue 14): a slot a hook call reads and replaces when
   * it returns. Each personality has its own, so one cannot read what another keeps.
   */
  stateSlot(id: string): { json: string } {
    let slot = this.#states.get(id);
    if (!slot) this.#states.set(id, (slot = { json: '{}' }));
    return slot;
  }

  /** Run one turn after the turns before it have ended (a cancelled turn still records its partial answer). */
  turn<T>(run: () => Promise<T>): Promise<T> {
    return this.#turns.run(run);
  }
}
