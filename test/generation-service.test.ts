import { expect } from 'chai';
import type { LoadedModel } from '../plugin-api/index.js';
import { GenerationService } from '../core/generation/service.js';
import { GenerationScheduler } from '../core/generation/scheduler.js';
import { Discussion } from '../core/generation/discussion.js';
import { estimateTokens, tokenCounterFor } from '../core/generation/token-count.js';
import type { ClientRef, GenerationOutcome, GenerationRequest, GenerationSink, WorkflowMessage } from '../core/generation/types.js';
import type { PromptEvent } from '../core/generation/service.js';
import { tokenHandlers } from '../core/transports/socket/handlers/tokens.js';
import type { HandlerContext } from '../core/transports/socket/dispatch.js';
import { startTestHost, type TestHost } from './helpers/host.js';
import { codedRejection } from './helpers/assert.js';

/** A sink as an HTTP handler would hold one: it records what came out, and resolves `first` on the first text. */
function recorder() {
  const seen = { answer: [] as string[], draft: [] as string[], messages: [] as WorkflowMessage[], positions: [] as number[] };
  let firstText!: () => void;
  const first = new Promise<void>((resolve) => (firstText = resolve));
  const sink: GenerationSink = {
    queued: (position) => seen.positions.push(position),
    answer: (text) => {
      seen.answer.push(text);
      firstText();
    },
    draft: (text) => {
      seen.draft.push(text);
      firstText();
    },
    message: (message) => seen.messages.push(message),
  };
  return { seen, sink, first };
}

const http = (id: string): ClientRef => ({ id, transport: 'http', label: `test ${id}` });

describe('GenerationService, driven like an HTTP handler (no socket) on the real engine', function () {
  this.timeout(120_000);
  let host: TestHost;
  before(async () => {
    host = await startTestHost();
  });
  after(() => host?.stop());

  const request = (id: string, over: Partial<GenerationRequest> = {}): GenerationRequest => ({
    client: http(id),
    kind: 'raw',
    prompt: 'Once upon a time',
    sampling: { maxTokens: 24, seed: 1 },
    queue: 'wait',
    signal: new AbortController().signal,
    ...over,
  });

  it('raw mode: answer pieces join into the outcome, with usage and speed; /status-ready history', async () => {
    const { seen, sink } = recorder();
    const outcome = await host.host.generation.run(request('raw-1'), sink);
    expect(seen.answer.join('')).to.equal(outcome.text);
    expect(seen.draft).to.deep.equal([]);
    expect(['stop', 'length']).to.include(outcome.finishReason);
    expect(outcome.usage.promptTokens).to.be.greaterThan(0);
    expect(outcome.usage.completionTokens).to.be.within(1, 24);
    expect(outcome.timings.tokensPerSecond).to.be.greaterThan(0);
    const last = host.host.generation.status().recent.at(-1)!;
    expect(last).to.include({ mode: 'raw', transport: 'http', outcome: 'done', completionTokens: outcome.usage.completionTokens });
  });

  it('a personality by zoo path is mounted on first use; its workflow streams drafts and messages, its answer is the outcome', async () => {
    expect(host.host.personalities.mountedPaths()).not.to.include('english/thinking/chain_of_thoughts');
    const { seen, sink } = recorder();
    const outcome = await host.host.generation.run(
      request('cot', { kind: 'personality', personality: { path: 'english/thinking/chain_of_thoughts' }, prompt: 'Why is the sky blue?' }),
      sink,
    );
    expect(host.host.personalities.mountedPaths()).to.include('english/thinking/chain_of_thoughts');
    expect(seen.messages.map((m) => m.typeName)).to.include.members(['MSG_TYPE_STEP_START', 'MSG_TYPE_STEP', 'MSG_TYPE_STEP_END', 'MSG_TYPE_FULL']);
    // The essay streams as a draft (the workflow decides the answer), and is the answer.
    expect(seen.answer).to.deep.equal([]);
    expect(seen.draft.join('')).to.equal(outcome.text);
    expect(outcome.finishReason).to.equal('stop');
    // Usage counts every model call of the workflow: three ideas and the essay.
    expect(outcome.usage.completionTokens).to.be.greaterThan(seen.draft.length - 1);
    expect(host.host.generation.status().recent.at(-1)).to.include({ mode: 'personality', personality: 'english/thinking/chain_of_thoughts' });
  });

  it("'wait' queues behind a running generation and is told its position; 'refuse-when-busy' is refused at once", async () => {
    const first = recorder();
    const stopFirst = new AbortController();
    const running = host.host.generation.run(request('long', { sampling: { maxTokens: 1500 }, signal: stopFirst.signal }), first.sink);
    await first.first;

    const busy = await codedRejection(host.host.generation.run(request('refused', { queue: 'refuse-when-busy' }), recorder().sink));
    expect(busy.code).to.equal('LH_ERR_BUSY');
    expect(host.host.scheduler.queued).to.equal(0);

    const second = recorder();
    const waiting = host.host.generation.run(request('waiter'), second.sink);
    expect(second.seen.positions).to.deep.equal([0]);
    expect(second.seen.answer).to.deep.equal([]);
    // An HTTP client going away: its slot is free at once, and the waiter starts.
    stopFirst.abort();
    expect(host.host.scheduler.running).to.equal(1);
    expect(host.host.scheduler.queued).to.equal(0);
    const cancelled = await running;
    expect(cancelled.finishReason).to.equal('cancelled');
    const piecesAtCancel = first.seen.answer.length;
    const served = await waiting;
    expect(second.seen.answer.join('')).to.equal(served.text);
    expect(first.seen.answer).to.have.length(piecesAtCancel);
  });

  it('a full wait queue answers LH_ERR_QUEUE_FULL; cancel() frees every place of a client', async () => {
    const first = recorder();
    const stop = new AbortController();
    const running = host.host.generation.run(request('hog', { sampling: { maxTokens: 1500 }, signal: stop.signal }), first.sink);
    await first.first;
    const waiting: Array<Promise<GenerationOutcome>> = [];
    const sinks: Array<ReturnType<typeof recorder>> = [];
    // max(max_queue, http_max_queue = 64) may wait, at most max_queue_per_client (16) of one client.
    for (let i = 0; i < 64; i++) {
      const r = recorder();
      sinks.push(r);
      waiting.push(host.host.generation.run(request(`crowd-${i % 4}`), r.sink));
    }
    expect(host.host.scheduler.queued).to.equal(64);
    expect(sinks[63]!.seen.positions).to.deep.equal([63]);
    expect((await codedRejection(host.host.generation.run(request('late'), recorder().sink))).code).to.equal('LH_ERR_QUEUE_FULL');
    for (let i = 0; i < 4; i++) expect(host.host.generation.cancel(`crowd-${i}`)).to.equal(true);
    expect(host.host.scheduler.queued).to.equal(0);
    for (const outcome of await Promise.all(waiting)) expect(outcome.finishReason).to.equal('cancelled');
    expect(sinks.every((r) => r.seen.answer.length === 0)).to.equal(true);
    stop.abort();
    expect((await running).finishReason).to.equal('cancelled');
  });

  it('a sink that throws loses its piece only; the generation completes', async () => {
    let calls = 0;
    const outcome = await host.host.generation.run(request('throwing'), {
      answer: () => {
        calls++;
        throw new Error('the connection went away');
      },
      draft: () => {},
      message: () => {},
    });
    expect(calls).to.be.greaterThan(0);
    expect(outcome.text.length).to.be.greaterThan(0);
  });

  it('close(): running generations end cancelled, new ones fail with LH_ERR_CLOSED', async () => {
    const service = new GenerationService({
      scheduler: new GenerationScheduler(() => ({ slots: 1, maxQueue: 0, maxWaiting: 4 })),
      models: host.host.bindings,
      personalities: host.host.personalities,
      settings: () => host.host.config.values,
      logger: host.host.logger,
    });
    const { sink, first } = recorder();
    const running = service.run(request('closing', { sampling: { maxTokens: 1500 } }), sink);
    await first;
    await service.close();
    expect((await running).finishReason).to.equal('cancelled');
    expect((await codedRejection(service.run(request('after'), recorder().sink))).code).to.equal('LH_ERR_CLOSED');
  });

  describe('a binding that cannot tokenize (plugin API 1.1: tokenize/detokenize left out)', () => {
    /** The loaded model, real engine and all, with its tokenizer hidden as a remote binding would have none. */
    const withoutTokenizer = (model: LoadedModel): LoadedModel => ({
      name: model.name,
      contextSize: model.contextSize,
      generate: (prompt, options) => model.generate(prompt, options),
      dispose: async () => {},
    });
    /** A service whose model source hides the tokenizer; everything else is the host's. */
    const service = (onPrompt?: (e: PromptEvent) => void) =>
      new GenerationService({
        scheduler: new GenerationScheduler(() => ({ slots: 1, maxQueue: 0, maxWaiting: 4 })),
        models: {
          requireModel: () => {
            const lease = host.host.bindings.requireModel();
            return { value: { ...lease.value, model: withoutTokenizer(lease.value.model) }, release: () => lease.release() };
          },
          whenReady: () => Promise.resolve(),
          holdResident: () => host.host.bindings.holdResident(),
        },
        personalities: host.host.personalities,
        settings: () => host.host.config.values,
        logger: host.host.logger,
        ...(onPrompt ? { onPrompt } : {}),
      });

    it('estimates tokens (ceil(ASCII/3) + one per other character) and still generates in both modes, cropping to fit', async () => {
      expect(estimateTokens('abc')).to.equal(1);
      expect(estimateTokens('abcd')).to.equal(2);
      expect(estimateTokens('日本語')).to.equal(3);
      const counter = tokenCounterFor(withoutTokenizer(host.host.bindings.model!.model));
      expect(counter.exact).to.equal(false);
      const cut = await counter.tail('x'.repeat(100), 5);
      expect(cut).to.deep.equal({ text: 'x'.repeat(15), tokens: 5, cut: true });

      const prompts: PromptEvent[] = [];
      const generation = service((e) => prompts.push(e));
      const long = 'the end of the story is near. '.repeat(400);
      const raw = await generation.run(request('estimate-raw', { prompt: long }), recorder().sink);
      expect(raw.text.length).to.be.greaterThan(0);
      const turn = await generation.run(request('estimate-turn', { kind: 'personality', personality: { id: 0 }, prompt: long, discussion: new Discussion() }), recorder().sink);
      expect(turn.text.length).to.be.greaterThan(0);
      // The estimate kept the model input inside the context (checked with the real tokenizer).
      expect(prompts.map((p) => p.personality)).to.deep.equal([-1, 0]);
      // Cropped by the estimate: what the host counted fits the context with room for the answer.
      for (const { prompt } of prompts) expect(estimateTokens(prompt)).to.be.at.most(2048 - 24);
      expect(estimateTokens(prompts[0]!.prompt)).to.be.below(estimateTokens(long));
    });

    it('the socket tokenize and detokenize events answer LH_ERR_TOKENIZER_UNAVAILABLE', async () => {
      const ctx = {
        deps: {
          bindings: {
            whenReady: () => Promise.resolve(),
            holdResident: () => () => {},
            requireModel: () => {
              const lease = host.host.bindings.requireModel();
              return { value: { ...lease.value, model: withoutTokenizer(lease.value.model) }, release: () => lease.release() };
            },
          },
        },
        reply: () => expect.fail('no reply on failure'),
      } as unknown as HandlerContext;
      const tokenize = await codedRejection(Promise.resolve(tokenHandlers.tokenize!.run(ctx, { prompt: 'x' } as never)));
      expect(tokenize.code).to.equal('LH_ERR_TOKENIZER_UNAVAILABLE');
      expect(tokenize.message).to.equal('the binding "llama_cpp" cannot tokenize: its model has no tokenizer the host can reach');
      const detokenize = await codedRejection(Promise.resolve(tokenHandlers.detokenize!.run(ctx, { prompt: [1] } as never)));
      expect(detokenize.code).to.equal('LH_ERR_TOKENIZER_UNAVAILABLE');
      expect(tokenHandlers.tokenize!.failure(tokenize.message, {})).to.deep.equal(['tokenized', { success: false, error: tokenize.message }]);
    });
  });

  it('crops a long discussion on the real model: every input fits, the newest text is kept, old blocks are dropped', async () => {
    const prompts: PromptEvent[] = [];
    const onPrompt = (e: PromptEvent) => prompts.push(e);
    host.host.events.on('prompt', onPrompt);
    const discussion = new Discussion();
    const model = host.host.bindings.model!.model;
    const contextSize = model.contextSize;
    expect(contextSize).to.equal(2048);
    try {
      const turns = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth'].map((word) => `${word}: ${'hello world the end. '.repeat(100)}`);
      const answers: string[] = [];
      for (const prompt of turns) {
        const outcome = await host.host.generation.run(
          request('discussion', { kind: 'personality', personality: { id: 0 }, prompt, sampling: { maxTokens: 8 }, discussion }),
          recorder().sink,
        );
        answers.push(outcome.text);
      }
      expect(prompts).to.have.length(turns.length);
      const conditioning = host.host.personalities.get(0)!.current!.config.conditioning();
      for (const [i, event] of prompts.entries()) {
        const tokens = (await model.tokenize!(event.prompt)).length;
        expect(tokens, `turn ${i + 1} input`).to.be.at.most(contextSize - 1);
        expect(event.prompt.startsWith(conditioning), 'the conditioning is never cut').to.equal(true);
        expect(event.prompt.slice(-200), 'the newest user text is whole').to.equal(`!@> Human:\n${turns[i]}\n!@> Assistant:\n`.slice(-200));
      }
      // By the last turns the first ones are out of every window: cropped from the input and dropped from memory.
      expect(prompts.at(-1)!.prompt).not.to.contain('first:');
      expect(discussion.blocks.join('')).not.to.contain('first:');
      const kept = (await Promise.all(discussion.blocks.map((b) => model.tokenize!(b)))).reduce((sum, t) => sum + t.length, 0);
      const largest = Math.max(...(await Promise.all(discussion.blocks.map(async (b) => (await model.tokenize!(b)).length))));
      expect(kept, 'the discussion keeps about one context of tokens').to.be.at.most(contextSize + largest);
      // The newest exchange is all there, for the next turn.
      expect(discussion.blocks.join('')).to.contain(`${turns.at(-1)}\n!@> Assistant:\n${answers.at(-1)!.trim()}\n`);
    } finally {
      host.host.events.off('prompt', onPrompt);
    }
  });
});
