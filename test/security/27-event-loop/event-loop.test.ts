/**
 * Class 27: the host's event loop (issue 11 §3). Tokenizing ran on the host's main thread: 1 MB of digits froze
 * it for 93 s, 32 MiB of text for 22 s, a processor looping `ctx.generate` with 1 MB prompts kept it 90% busy,
 * and a discussion of 8 MiB prompts was re-tokenized whole every turn.
 *
 * Now every text that reaches the tokenizer is capped (`max_prompt_chars`, `max_tokenize_chars`,
 * `max_detokenize_ids`, `sandbox_max_payload_bytes`), long texts are tokenized on the binding's tokenizer thread,
 * only the end of a prompt that a context can hold is tokenized, and token requests take turns (one per turn of
 * the event loop, 16 per client at most). The goal: while one client or processor does its worst within the caps
 * (defaults), `GET /health` and another client's tokenize answer within 200 ms.
 *
 * The host runs in this process, so `LoopWatch` measures the longest stretch of CPU the event loop was held
 * between two turns: that is the bound asserted (below 200 ms), and it does not depend on how busy the machine
 * is. The probes' latencies on the clock are in the assertion messages for the record, and every probe must be
 * answered while the attack runs.
 */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_TEXT_LIMITS } from '../../../core/protocol/limits.js';
import { DEFAULT_SANDBOX_LIMITS } from '../../../core/sandbox/limits.js';
import { TurnGate } from '../../../core/util/turn-gate.js';
import { tokenCounterFor } from '../../../core/generation/token-count.js';
import { Discussion } from '../../../core/generation/discussion.js';
import { LoopWatch, probeWhile } from '../../helpers/event-loop.js';
import { generate, request, type TestSocket } from '../../helpers/host.js';
import { SecurityBench } from '../helpers.js';

/** The goal of issue 11 §3. */
const BOUND_MS = 200;

const digits = (n: number) => '1234567890'.repeat(Math.ceil(n / 10)).slice(0, n);

/** A tokenized or detokenized reply: the result, or `{ success: false, error }`. */
type Reply = { success?: false; error?: string; tokens?: number[]; text?: string };

describe('security 27: no client or processor holds the host\'s event loop', function () {
  this.timeout(300_000);
  // The caps at their defaults; the sandbox's CPU limit high enough that the loop, not the limit, ends the attack.
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_cpu_time_ms: 60_000, sandbox_max_host_calls: 2_000 });

  before(async () => {
    await bench.start();
  });
  after(async () => {
    await bench.stop();
  });

  /**
   * Run `attack` while probing `/health` and the bystander's tokenize; the event loop must never be held for
   * `BOUND_MS` of CPU, and every probe must be answered.
   */
  async function measure<T>(what: string, attack: () => Promise<T>): Promise<T> {
    // A first round trip of each probe outside the measurement: no first-use costs (a fetch agent, a parser).
    await health();
    await bystanderTokenize(bench.bystander);
    const watch = new LoopWatch().start();
    const { result, latencies } = await probeWhile(attack(), { health, tokenize: () => bystanderTokenize(bench.bystander) });
    const loop = watch.stop();
    const worst = Object.fromEntries(Object.entries(latencies).map(([name, ms]) => [name, Math.round(Math.max(...ms))]));
    const figures = `${what}: loop held at most ${loop.maxHeldCpuMs} ms of CPU (${loop.maxDelayMs} ms on the clock, ${loop.ticks} ticks); slowest probes on the clock ${JSON.stringify(worst)} over ${latencies['health']!.length} rounds`;
    expect(loop.maxHeldCpuMs, figures).to.be.below(BOUND_MS);
    expect(loop.ticks, figures).to.be.above(1);
    for (const [name, ms] of Object.entries(latencies)) expect(ms.length, `${name} probes answered (${figures})`).to.be.at.least(1);
    return result;
  }

  async function health(): Promise<void> {
    const response = await fetch(`${bench.host.url}/health`);
    expect(response.status).to.equal(200);
    await response.body?.cancel();
  }

  async function bystanderTokenize(socket: TestSocket): Promise<void> {
    const reply = (await request(socket, 'tokenize', { prompt: 'hello world' }, 'tokenized', 60_000)) as Reply;
    expect(reply.error).to.equal(undefined);
    expect(reply.tokens).to.be.an('array').that.is.not.empty;
  }

  /** Send `count` requests at once and collect every reply (one request of a client runs at a time). */
  async function burst(socket: TestSocket, event: string, payload: unknown, replyEvent: string, count: number): Promise<Reply[]> {
    const replies: Reply[] = [];
    const all = new Promise<Reply[]>((resolve) => {
      const on = (reply: Reply) => {
        replies.push(reply);
        if (replies.length === count) {
          socket.off(replyEvent as never, on as never);
          resolve(replies);
        }
      };
      socket.on(replyEvent as never, on as never);
    });
    // The attacker runs in this process too: its own encoding of each message gets a turn of its own, so that the
    // figure is the host's. The messages still reach the host back to back.
    for (let i = 0; i < count; i++) {
      (socket.emit as (e: string, p: unknown) => void)(event, payload);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return all;
  }

  it('the caps default to what the goal was measured with', () => {
    expect(DEFAULT_TEXT_LIMITS).to.deep.equal({ maxPromptChars: 1024 * 1024, maxTokenizeChars: 64 * 1024, maxTokenIds: 64 * 1024 });
    expect(DEFAULT_SANDBOX_LIMITS.maxPayloadBytes).to.equal(1024 * 1024);
  });

  it('16 tokenize requests of max_tokenize_chars digits at once (the tokenizer\'s worst case)', async () => {
    const replies = await measure('tokenize burst', () => burst(bench.attacker, 'tokenize', { prompt: digits(DEFAULT_TEXT_LIMITS.maxTokenizeChars) }, 'tokenized', 16));
    for (const reply of replies) {
      expect(reply.error).to.equal(undefined);
      expect(reply.tokens!.length).to.be.greaterThan(DEFAULT_TEXT_LIMITS.maxTokenizeChars / 10);
    }
  });

  it('one character more than max_tokenize_chars is refused before it is tokenized', async () => {
    const reply = (await request(bench.attacker, 'tokenize', { prompt: digits(DEFAULT_TEXT_LIMITS.maxTokenizeChars + 1) }, 'tokenized')) as Reply;
    expect(reply.success).to.equal(false);
    expect(reply.error).to.match(/longer than max_tokenize_chars \(65536 characters\)/);
  });

  it('16 detokenize requests of max_detokenize_ids ids at once', async () => {
    const ids = Array.from({ length: DEFAULT_TEXT_LIMITS.maxTokenIds }, (_, i) => 3 + (i % 200));
    const replies = await measure('detokenize burst', () => burst(bench.attacker, 'detokenize', { prompt: ids }, 'detokenized', 16));
    for (const reply of replies) {
      expect(reply.error).to.equal(undefined);
      expect(reply.text!.length).to.be.greaterThan(0);
    }
  });

  it('a raw generate_text with a max_prompt_chars prompt of digits is cropped from its end, not tokenized whole', async () => {
    const result = await measure('raw prompt', () => generate(bench.attacker, { prompt: digits(DEFAULT_TEXT_LIMITS.maxPromptChars), personality: -1, n_predicts: 2 }));
    expect(result.error).to.equal(undefined);
    expect(result.text).to.be.a('string');
  });

  it('one character more than max_prompt_chars is refused', async () => {
    const result = await generate(bench.attacker, { prompt: digits(DEFAULT_TEXT_LIMITS.maxPromptChars + 1), personality: -1, n_predicts: 2 });
    expect(result.error).to.match(/longer than max_prompt_chars \(1048576 characters\)/);
  });

  it('a discussion of max_prompt_chars prompts: every turn tokenizes what the context can hold, not the discussion', async () => {
    // A personality without a processor: the discussion is assembled by the host, turn after turn.
    const dir = join(bench.zoo, 'sec', 'plain');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.yaml'), 'name: plain\nauthor: security-suite\nversion: 1.0.0\npersonality_conditioning: "test"\nanti_prompts: []\nmodel_n_predicts: 2\n');
    const { id } = (await request(bench.attacker, 'add_personality', { path: 'sec/plain' }, 'personality_added', 30_000)) as { id: number };
    const turns = await measure('discussion', async () => {
      const results = [];
      for (let turn = 0; turn < 4; turn++) results.push(await generate(bench.attacker, { prompt: digits(DEFAULT_TEXT_LIMITS.maxPromptChars - turn), personality: id, n_predicts: 2 }));
      return results;
    });
    for (const result of turns) expect(result.error).to.equal(undefined);
  });

  it('a processor looping ctx.generate with prompts of the payload limit and ctx.tokenize of max_tokenize_chars', async () => {
    const result = await measure('processor', () => bench.attack('host-work', '6'));
    expect(result.error).to.equal(undefined);
    const seen = JSON.parse(result.text ?? 'null') as { generate: string[]; tokenize: Array<number | string> };
    // The prompt is far over the context: its end is counted, and the processor is told it does not fit.
    expect(seen.generate).to.deep.equal(Array(6).fill('LH_ERR_CONTEXT_OVERFLOW'));
    for (const tokens of seen.tokenize) expect(tokens).to.be.a('number').greaterThan(DEFAULT_TEXT_LIMITS.maxTokenizeChars / 10);
    await bench.expectContained(result);
  });

  it('a processor\'s ctx.tokenize over max_tokenize_chars is LH_ERR_TEXT_TOO_LONG', async () => {
    const result = await bench.attack('tokenize-over-cap');
    expect(result.error).to.equal(undefined);
    expect(JSON.parse(result.text ?? 'null')).to.deep.equal({ code: 'LH_ERR_TEXT_TOO_LONG', message: 'ctx.tokenize: the text (65537 characters) is longer than max_tokenize_chars (65536)' });
  });

  it('cropping and counting from a window at the end give what tokenizing the whole text gives', async () => {
    const lease = bench.host.host.bindings.requireModel();
    try {
      const model = lease.value.model;
      const counter = tokenCounterFor(model);
      const texts = {
        digits: digits(200_000),
        prose: 'The cat sat on the mat, and then it slept. '.repeat(4_000),
        emoji: '😀 ok '.repeat(30_000),
      };
      for (const [name, text] of Object.entries(texts)) {
        const all = await model.tokenize!(text);
        for (const keep of [1, 100, 1_000]) {
          const cut = await counter.tail(text, keep);
          expect(cut, `${name}, last ${keep} tokens`).to.deep.equal({ text: await model.detokenize!(all.slice(-keep)), tokens: keep, cut: true });
        }
        // Over the context: a lower bound at least the context; under it: the exact count.
        expect(await counter.count(text, { atMost: 2048 }), name).to.be.at.least(2048).and.at.most(all.length);
        const short = text.slice(0, 3_000);
        expect(await counter.count(short, { atMost: 2048 }), `${name}, short`).to.equal((await model.tokenize!(short)).length);
      }
    } finally {
      lease.release();
    }
  });

  it('a discussion keeps what a context can hold: a prompt longer than any context is kept by its end only', async () => {
    const lease = bench.host.host.bindings.requireModel();
    try {
      const model = lease.value.model;
      const counter = tokenCounterFor(model);
      const discussion = new Discussion();
      let blocks: string[] = [];
      for (let turn = 0; turn < 3; turn++) {
        blocks = [...discussion.blocks, '!@user: ', digits(DEFAULT_TEXT_LIMITS.maxPromptChars - turn), '\n', '!@assistant: ', `answer ${turn}`];
        await discussion.commit(blocks, counter, model.contextSize);
        const kept = discussion.blocks;
        // The newest blocks are kept as they were; the oldest kept is the end of the long prompt.
        expect(kept.slice(-3)).to.deep.equal(blocks.slice(-3));
        expect(kept.at(-4)!.length).to.be.within(1, blocks.at(-4)!.length - 1);
        expect(blocks.at(-4)!.endsWith(kept.at(-4)!)).to.equal(true);
        const tokens = (await model.tokenize!(kept.join(''))).length;
        expect(tokens, `tokens kept after turn ${turn}`).to.be.at.most(model.contextSize + 8);
        expect(kept.join('').length).to.be.below(8 * model.contextSize);
      }
    } finally {
      lease.release();
    }
  });

  describe('the turn gate', () => {
    it('runs one task of a client at a time, clients in turn, and refuses a 17th unanswered task', async () => {
      const gate = new TurnGate();
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const first = gate.run('a', async () => {
        order.push('a0');
        await held;
      });
      const rest = Array.from({ length: 15 }, (_, i) => gate.run('a', () => void order.push(`a${i + 1}`)));
      const other = gate.run('b', () => void order.push('b0'));
      const refused = await gate.run('a', () => order.push('never')).then(() => undefined, (error: { code?: string }) => error.code);
      expect(refused).to.equal('LH_ERR_TOO_MANY_REQUESTS');
      await other;
      // b ran while a's first task was still running; none of a's others did.
      expect(order).to.deep.equal(['a0', 'b0']);
      release();
      await Promise.all([first, ...rest]);
      expect(order).to.deep.equal(['a0', 'b0', ...Array.from({ length: 15 }, (_, i) => `a${i + 1}`)]);
    });

    it('a task whose signal aborts before it starts is dropped', async () => {
      const gate = new TurnGate();
      const controller = new AbortController();
      const ran: number[] = [];
      const running = gate.run('a', () => void ran.push(0));
      const dropped = gate.run('a', () => void ran.push(1), controller.signal).catch((error: unknown) => error);
      controller.abort(new Error('gone'));
      expect(((await dropped) as Error).message).to.equal('gone');
      await running;
      expect(ran).to.deep.equal([0]);
    });
  });
});
