/**
 * What session isolation (issue 11 §5) costs a client's next turn. On a model with one sequence, client A
 * sends a discussion, then its next turn (the discussion, the answer and a new message). Between the two,
 * either nobody else runs (A's cached prefix is reused), or client B runs (the sequence is cleared for B, so A's
 * next turn evaluates its whole prompt again). Prints the time to the first token of A's next turn in both
 * cases (medians over interleaved rounds) and their ratio; with as many sequences (`parallel`) as active
 * clients the second case does not happen.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/session.ts`
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage } from 'lollms-host/plugin-api';
import { loadBenchBinding, median } from './common.js';

/** Options of `runSessionBench`. */
export interface SessionBenchOptions {
  /** Rounds of each case. Default 5. */
  rounds?: number;
  /** Engine threads. Default: the host default. */
  threads?: number;
  /** Where the bench model is kept. Default `bench/.models/`. */
  modelsDir?: string;
  /** Receives each `name: value` line. Default: `console.log`. */
  print?: (line: string) => void;
}

/** A discussion of about `turns` exchanges. */
function discussion(who: string, turns: number): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: `You are ${who}'s helpful assistant. Answer in detail.` }];
  for (let i = 0; i < turns; i++) {
    messages.push({ role: 'user', content: `Question ${i + 1} from ${who}: tell me about the history of the world, part ${i + 1}, and why it matters today.` });
    messages.push({ role: 'assistant', content: `Part ${i + 1} of the history of the world is long; here is what matters most about it, in a few sentences.` });
  }
  return messages;
}

export async function runSessionBench(options: SessionBenchOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line));
  const rounds = options.rounds ?? 5;
  const bench = await loadBenchBinding(options);
  try {
    const model = bench.model;
    const chat = model.chat!.bind(model);
    const a = discussion('Alice', 12);
    const aNext: ChatMessage[] = [...a, { role: 'user', content: 'And what happened next?' }];
    const b = discussion('Bob', 12);
    const once = { seed: 1, maxTokens: 1 };
    const cached: number[] = [];
    const isolated: number[] = [];
    let promptTokens = 0;
    let cachedTokens = 0;
    for (let round = 0; round <= rounds; round++) {
      // Reused: A's turn, then A's next turn.
      await chat(a, { ...once, session: `alice-${round}` });
      const reused = await chat(aNext, { ...once, session: `alice-${round}` });
      // Isolated: A's turn, B's turn, then A's next turn.
      await chat(a, { ...once, session: `alice2-${round}` });
      await chat(b, { ...once, session: `bob-${round}` });
      const cleared = await chat(aNext, { ...once, session: `alice2-${round}` });
      if (round === 0) continue; // warm-up
      cached.push(reused.timings.prompt_eval_duration / 1e6);
      isolated.push(cleared.timings.prompt_eval_duration / 1e6);
      promptTokens = reused.timings.prompt_eval_count;
      cachedTokens = reused.timings.prompt_cached_count ?? 0;
      if ((cleared.timings.prompt_cached_count ?? 0) !== 0) throw new Error('isolation failed: the cleared turn reused a cache');
    }
    print(`next-turn prompt tokens: ${promptTokens} (${cachedTokens} reusable from the session's cache)`);
    print(`next turn, own cache kept (ms to first token): ${median(cached).toFixed(1)}`);
    print(`next turn, after another session (ms to first token): ${median(isolated).toFixed(1)}`);
    print(`session isolation next-turn cost ratio: ${(median(isolated) / median(cached)).toFixed(1)}`);
  } finally {
    await bench.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runSessionBench();
}
