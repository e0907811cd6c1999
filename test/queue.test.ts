/**
 * The fair queue of issue 18 on the real engine: many clients against a few slots, through the generation
 * service (as the OpenAI API drives it) and through socket.io (`generation_queued`, cancel and disconnect).
 * The test itself holds the slots (taken from the host's scheduler) while the crowd arrives, so who waits or is
 * refused depends on nothing but the order of the requests.
 */
import { expect } from 'chai';
import { GenerationScheduler, type Slot } from '../core/generation/scheduler.js';
import { GenerationService } from '../core/generation/service.js';
import type { ClientRef, GenerationOutcome, GenerationRequest, GenerationSink } from '../core/generation/types.js';
import { LollmsClient } from '../client/index.js';
import { startTestHost, next, type TestHost, type TestSocket } from './helpers/host.js';

const SLOTS = 4;

describe('the fair generation queue (issue 18)', function () {
  this.timeout(180_000);
  let host: TestHost;

  before(async () => {
    host = await startTestHost({ config: { parallel: SLOTS, max_queue: 40, max_queue_per_client: 8 } });
  });
  after(() => host?.stop());

  const client = (id: string): ClientRef => ({ id, transport: 'http' });
  const quiet = (over: Partial<GenerationSink> = {}): GenerationSink => ({ answer() {}, draft() {}, message() {}, ...over });

  /** Take every slot of `scheduler` for the test itself; release them to let the queue move. */
  function holdSlots(scheduler: GenerationScheduler): Slot[] {
    const held = Array.from({ length: SLOTS }, (_, i) => scheduler.acquire({ client: client(`holder-${i}`), policy: 'wait', signal: new AbortController().signal }));
    expect(held.every((slot) => !(slot instanceof Promise))).to.equal(true);
    return held as Slot[];
  }

  it('through the service: 64 clients on 4 slots, served in turn (FIFO per client), each request answered once', async () => {
    const admitted: string[] = [];
    const scheduler = new GenerationScheduler(() => ({ slots: SLOTS, maxQueue: 0, maxWaiting: 200, maxQueuedPerClient: 8 }), {
      admitted: (c) => admitted.push(c.id),
    });
    const service = new GenerationService({
      scheduler,
      models: host.host.bindings,
      personalities: host.host.personalities,
      settings: () => host.host.config.values,
      logger: host.host.logger,
    });
    const holders = holdSlots(scheduler);
    admitted.length = 0;
    // 60 more clients: three greedy ones queue 8 requests each (their cap), then 57 queue one each.
    const requests: Array<{ name: string; outcome: Promise<GenerationOutcome | string>; positions: number[] }> = [];
    const ask = (id: string, name: string) => {
      const positions: number[] = [];
      const request: GenerationRequest = { client: client(id), kind: 'raw', prompt: 'the world is', sampling: { maxTokens: 4, seed: 1 }, queue: 'wait', signal: new AbortController().signal };
      const outcome = service.run(request, quiet({ queued: (p) => positions.push(p) })).catch((error: { code?: string }) => `refused ${error.code}`);
      requests.push({ name, outcome, positions });
    };
    for (const greedy of ['g1', 'g2', 'g3']) for (let i = 1; i <= 9; i++) ask(greedy, `${greedy}.${i}`);
    for (let i = 1; i <= 57; i++) ask(`c${i}`, `c${i}`);
    expect(new Set(requests.map((r) => r.name.split('.')[0])).size + SLOTS).to.equal(64);
    expect(scheduler.queued).to.equal(3 * 8 + 57);
    // The ninth request of each greedy client was over its cap.
    for (const greedy of ['g1', 'g2', 'g3']) expect(await requests.find((r) => r.name === `${greedy}.9`)!.outcome).to.equal('refused LH_ERR_QUEUE_FULL');
    // Round-robin: one from each client in turn, each client's own in order.
    const expected: string[] = [];
    const lines = [...['g1', 'g2', 'g3'].map((g) => Array.from({ length: 8 }, (_, i) => `${g}.${i + 1}`)), ...Array.from({ length: 57 }, (_, i) => [`c${i + 1}`])];
    for (let round = 0; round < 8; round++) for (const line of lines) if (line[round]) expected.push(line[round]!);
    const positionOf = (name: string) => requests.find((r) => r.name === name)!.positions.at(-1);
    expect(expected.map(positionOf)).to.deep.equal(expected.map((_, i) => i));
    for (const slot of holders) slot.release();
    const outcomes = await Promise.all(requests.map((r) => r.outcome));
    expect(outcomes.filter((o) => typeof o === 'string')).to.have.length(3);
    for (const outcome of outcomes) if (typeof outcome !== 'string') expect(['stop', 'length']).to.include(outcome.finishReason);
    const nameOfClient = new Map<string, number>();
    expect(admitted.map((id) => (id.startsWith('g') ? `${id}.${(nameOfClient.set(id, (nameOfClient.get(id) ?? 0) + 1), nameOfClient.get(id))}` : id))).to.deep.equal(expected);
    // Every served request saw its place fall to 0, never rise once the queue stopped growing.
    for (const r of requests) if (r.positions.length > 0) expect(r.positions.at(-1)).to.equal(0);
    expect(scheduler.snapshot()).to.deep.equal({ slots: { total: SLOTS, busy: 0 }, queue: { depth: 0 } });
  });

  it('the typed client reports the place of a queued generation through onQueued, then streams it', async () => {
    const held = holdSlots(host.host.scheduler);
    const client = new LollmsClient({ url: host.url, transports: ['websocket'], socketOptions: { reconnection: false } });
    try {
      await client.connect();
      const places: number[] = [];
      let release!: () => void;
      const toldOnce = new Promise<void>((resolve) => (release = resolve));
      const generation = client.generate('the world is', {
        nPredicts: 4,
        onQueued: (position) => {
          places.push(position);
          release();
        },
      });
      await toldOnce;
      expect(places).to.deep.equal([0]);
      for (const slot of held) slot.release();
      expect(await generation.text).to.be.a('string');
      expect(places).to.deep.equal([0]);
    } finally {
      for (const slot of held) slot.release();
      await client.close();
    }
  });

  describe('through socket.io', () => {
    type Ending = 'text_generated' | 'generation_canceled' | 'busy' | 'generation_error';
    /** A socket client that records its generation's events and how it ended. */
    async function connect(): Promise<{ socket: TestSocket; positions: number[]; endings: Ending[]; chunksBeforeQueue: number; ended: Promise<Ending> }> {
      const socket = await host.connect();
      const positions: number[] = [];
      const endings: Ending[] = [];
      let resolveEnd!: (e: Ending) => void;
      const ended = new Promise<Ending>((r) => (resolveEnd = r));
      const state = { socket, positions, endings, chunksBeforeQueue: 0, ended };
      let chunks = 0;
      socket.on('generation_queued', ({ position }) => {
        positions.push(position);
        state.chunksBeforeQueue += chunks;
      });
      socket.on('text_chunk', () => chunks++);
      for (const event of ['text_generated', 'generation_canceled', 'busy', 'generation_error'] as const) {
        socket.on(event, () => {
          endings.push(event);
          resolveEnd(event);
        });
      }
      return state;
    }

    it('64 clients on 4 slots with a cancel and disconnect storm: each answered exactly once, positions told, no slot leaked', async () => {
      const held = holdSlots(host.host.scheduler);
      const crowd = await Promise.all(Array.from({ length: 64 }, () => connect()));
      const told = crowd.map((c) => Promise.race([next(c.socket, 'generation_queued', 30_000), c.ended]));
      for (const c of crowd) c.socket.emit('generate_text', { prompt: 'the world is', n_predicts: 4 });
      await Promise.all(told);
      const queued = crowd.filter((c) => c.positions.length > 0);
      const refused = crowd.filter((c) => c.endings[0] === 'busy');
      // max_queue 40: forty wait, the rest are refused at once with buzzy + busy.
      expect(queued).to.have.length(40);
      expect(refused).to.have.length(24);
      expect(queued.map((c) => c.positions[0]).sort((a, b) => a! - b!)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i));
      expect(host.host.scheduler.queued).to.equal(40);

      // The storm: ten cancel, ten disconnect, from all over the queue; each frees its place at once.
      const byPlace = [...queued].sort((a, b) => a.positions[0]! - b.positions[0]!);
      const cancelling = byPlace.filter((_, i) => i % 4 === 0);
      const leaving = byPlace.filter((_, i) => i % 4 === 2);
      const staying = byPlace.filter((c) => !cancelling.includes(c) && !leaving.includes(c));
      for (const c of cancelling) c.socket.emit('cancel_generation', {});
      for (const c of leaving) c.socket.disconnect();
      await Promise.all(cancelling.map((c) => c.ended));
      await waitFor(() => host.host.scheduler.queued === 20);
      // Those that stay moved up, in their order: the last place each was told is its rank among them.
      await waitFor(() => staying.every((c, rank) => c.positions.at(-1) === rank));

      for (const slot of held) slot.release();
      const endings = await Promise.all(staying.map((c) => c.ended));
      expect(endings.every((e) => e === 'text_generated')).to.equal(true);

      // Exactly one ending each (a disconnected client gets nothing more), after a round trip on every live socket.
      const live = crowd.filter((c) => !leaving.includes(c));
      await Promise.all(live.map((c) => c.socket.timeout(10_000).emitWithAck('list_active_personalities', {})));
      for (const c of refused) expect(c.endings).to.deep.equal(['busy']);
      for (const c of cancelling) expect(c.endings).to.deep.equal(['generation_canceled']);
      for (const c of staying) expect(c.endings).to.deep.equal(['text_generated']);
      for (const c of leaving) expect(c.endings).to.deep.equal([]);
      // Positions only fell, and no text came before the last of them.
      for (const c of [...staying, ...cancelling]) {
        expect(c.positions).to.deep.equal([...c.positions].sort((a, b) => b - a));
        expect(c.chunksBeforeQueue).to.equal(0);
      }
      await waitFor(() => host.host.scheduler.running === 0);
      expect(host.host.scheduler.snapshot()).to.deep.equal({ slots: { total: SLOTS, busy: 0 }, queue: { depth: 0 } });
      for (const c of crowd) c.socket.close();
    });

    it('a storm of cancels and disconnects of running generations leaks no slot', async () => {
      for (let round = 0; round < 3; round++) {
        const runners = await Promise.all(Array.from({ length: SLOTS + 4 }, () => connect()));
        const firstChunks = runners.map((c) => next(c.socket, 'text_chunk', 30_000));
        for (const c of runners) c.socket.emit('generate_text', { prompt: 'the world is', n_predicts: 1500 });
        // Four run, four wait; each one that starts is stopped at its first chunk, half by cancel, half by leaving.
        await Promise.all(runners.map(async (c, i) => {
          await firstChunks[i];
          if (i % 2 === 0) c.socket.emit('cancel_generation', {});
          else c.socket.disconnect();
        }));
        await Promise.all(runners.filter((_, i) => i % 2 === 0).map((c) => c.ended));
        // Each ended once: cancelled, or done when the generation won the race against its cancel.
        for (const c of runners.filter((_, i) => i % 2 === 0)) expect(['generation_canceled', 'text_generated']).to.include(c.endings[0]);
        await waitFor(() => host.host.scheduler.running === 0 && host.host.scheduler.queued === 0);
        for (const c of runners) c.socket.close();
      }
      // Every slot is free: the test takes all four at once.
      for (const slot of holdSlots(host.host.scheduler)) slot.release();
    });
  });
});

/** Resolve once `condition` holds, checked after each turn of the event loop (no fixed sleep); fail after 30 s. */
async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
