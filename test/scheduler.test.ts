import { expect } from 'chai';
import { GenerationScheduler, type Slot, type SlotRequest } from '../core/generation/scheduler.js';
import { LollmsHostError } from '../core/errors.js';

describe('GenerationScheduler', () => {
  const limits = { slots: 1, maxQueue: 0, maxWaiting: 3 };
  const scheduler = () => new GenerationScheduler(() => limits);
  const ask = (client: string, over: Partial<SlotRequest> = {}): SlotRequest => ({
    client: { id: client, transport: 'http' },
    policy: 'wait',
    signal: new AbortController().signal,
    ...over,
  });
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(error).to.be.instanceOf(LollmsHostError);
      return (error as LollmsHostError).code;
    }
    return expect.fail('expected a refusal');
  };

  it('decides synchronously: a slot, a wait, or a refusal that takes nothing', () => {
    const s = scheduler();
    const first = s.acquire(ask('a'));
    expect(first).not.to.be.instanceOf(Promise);
    expect(codeOf(() => s.acquire(ask('b', { policy: 'refuse-when-busy' })))).to.equal('LH_ERR_BUSY');
    expect(s.queued).to.equal(0);
    const waits = [s.acquire(ask('c')), s.acquire(ask('d')), s.acquire(ask('e'))];
    expect(waits.every((w) => w instanceof Promise)).to.equal(true);
    expect(codeOf(() => s.acquire(ask('f')))).to.equal('LH_ERR_QUEUE_FULL');
    expect(s.snapshot()).to.deep.equal({ slots: { total: 1, busy: 1 }, queue: { depth: 3 } });
  });

  it('tells each waiter its position, again whenever it changes, and serves them in order', async () => {
    const s = scheduler();
    const first = s.acquire(ask('a')) as Slot;
    const positions = { b: [] as number[], c: [] as number[], d: [] as number[] };
    const leave = new AbortController();
    const b = s.acquire(ask('b', { onPosition: (p) => positions.b.push(p) })) as Promise<Slot>;
    const c = s.acquire(ask('c', { onPosition: (p) => positions.c.push(p), signal: leave.signal })) as Promise<Slot>;
    const d = s.acquire(ask('d', { onPosition: (p) => positions.d.push(p) })) as Promise<Slot>;
    expect(positions).to.deep.equal({ b: [0], c: [1], d: [2] });
    // A cancel leaves the queue at once; those behind move up.
    leave.abort(new Error('gone'));
    await c.then(() => expect.fail('c was served'), (error: Error) => expect(error.message).to.equal('gone'));
    expect(positions.d).to.deep.equal([2, 1]);
    first.release();
    const servedB = await b;
    expect(positions.d).to.deep.equal([2, 1, 0]);
    expect(s.running).to.equal(1);
    servedB.release();
    servedB.release(); // twice is harmless
    (await d).release();
    expect(s.snapshot()).to.deep.equal({ slots: { total: 1, busy: 0 }, queue: { depth: 0 } });
  });

  it('caps what one client holds and waits for, and counts a served wait once', async () => {
    const s = scheduler();
    const held = s.acquire(ask('a', { maxPerClient: 1 })) as Slot;
    expect(codeOf(() => s.acquire(ask('a', { maxPerClient: 1 })))).to.equal('LH_ERR_BUSY');
    const waiting = s.acquire(ask('a', { maxPerClient: 2 })) as Promise<Slot>;
    expect(codeOf(() => s.acquire(ask('a', { maxPerClient: 2 })))).to.equal('LH_ERR_BUSY');
    held.release();
    const served = await waiting;
    // One slot held now, none waiting: the client may wait for one more under a cap of 2.
    const again = s.acquire(ask('a', { maxPerClient: 2 }));
    expect(again).to.be.instanceOf(Promise);
    served.release();
    (await again).release();
    expect(s.acquire(ask('a', { maxPerClient: 1 }))).not.to.be.instanceOf(Promise);
  });

  describe('fairness (issue 18)', () => {
    const fair = (over: Partial<typeof limits> & { maxQueuedPerClient?: number } = {}) =>
      new GenerationScheduler(() => ({ slots: 1, maxQueue: 100, maxWaiting: 100, ...over }));

    it('serves clients in turn, each client in order, and tells positions in that order', async () => {
      const s = fair();
      const running = s.acquire(ask('x')) as Slot;
      const served: string[] = [];
      const positions = new Map<string, number[]>();
      const wait = (client: string, name: string) => {
        positions.set(name, []);
        const slot = s.acquire(ask(client, { onPosition: (p) => positions.get(name)!.push(p) })) as Promise<Slot>;
        return slot.then((got) => {
          served.push(name);
          // Each generation ends at once: the next waiter is served.
          got.release();
        });
      };
      // One client queues four before two others arrive: they must not wait behind all four.
      const waits = [wait('a', 'a1'), wait('a', 'a2'), wait('a', 'a3'), wait('a', 'a4'), wait('b', 'b1'), wait('b', 'b2'), wait('c', 'c1')];
      const last = Object.fromEntries([...positions].map(([name, told]) => [name, told.at(-1)]));
      expect(last).to.deep.equal({ a1: 0, b1: 1, c1: 2, a2: 3, b2: 4, a3: 5, a4: 6 });
      // a2 was second until b1 and c1 were placed before it by the turn.
      expect(positions.get('a2')).to.deep.equal([1, 2, 3]);
      running.release();
      await Promise.all(waits);
      expect(served).to.deep.equal(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
      expect(s.snapshot()).to.deep.equal({ slots: { total: 1, busy: 0 }, queue: { depth: 0 } });
    });

    it('a client served while it still waits goes behind a client that joins with nothing running', async () => {
      const s = fair();
      const running = s.acquire(ask('x')) as Slot;
      const order: string[] = [];
      const wait = (client: string, name: string) => (s.acquire(ask(client)) as Promise<Slot>).then((slot) => (order.push(name), slot));
      const a1 = wait('a', 'a1');
      const a2 = wait('a', 'a2');
      running.release();
      const slotA1 = await a1;
      // b arrives while a1 runs and a2 waits: b is next, then a2.
      const b1 = wait('b', 'b1');
      slotA1.release();
      (await b1).release();
      (await a2).release();
      expect(order).to.deep.equal(['a1', 'b1', 'a2']);
    });

    it('caps the requests one client may have waiting, whatever the room left', async () => {
      const s = fair({ maxQueuedPerClient: 2 });
      const running = s.acquire(ask('x')) as Slot;
      const a = [s.acquire(ask('a')), s.acquire(ask('a'))];
      expect(codeOf(() => s.acquire(ask('a')))).to.equal('LH_ERR_QUEUE_FULL');
      expect(codeOf(() => s.acquire(ask('a', { policy: 'refuse-when-busy' })))).to.equal('LH_ERR_BUSY');
      // Another client still gets a place, and a served request frees one of a's.
      const b = s.acquire(ask('b'));
      expect(b).to.be.instanceOf(Promise);
      running.release();
      (await a[0]!).release();
      const a3 = s.acquire(ask('a'));
      expect(a3).to.be.instanceOf(Promise);
      (await b).release();
      (await a[1]!).release();
      (await a3).release();
      expect(s.snapshot().queue.depth).to.equal(0);
    });

    it('a cancel frees its place at once: the next request is queued synchronously', async () => {
      const s = fair({ maxQueue: 2, maxWaiting: 2 });
      const running = s.acquire(ask('x')) as Slot;
      const leave = new AbortController();
      const gone = s.acquire(ask('a', { signal: leave.signal })) as Promise<Slot>;
      const stays = s.acquire(ask('b')) as Promise<Slot>;
      expect(codeOf(() => s.acquire(ask('c')))).to.equal('LH_ERR_QUEUE_FULL');
      leave.abort(new Error('cancelled'));
      expect(s.queued).to.equal(1);
      const c = s.acquire(ask('c'));
      expect(c).to.be.instanceOf(Promise);
      await gone.then(() => expect.fail('served after its cancel'), (e: Error) => expect(e.message).to.equal('cancelled'));
      running.release();
      (await stays).release();
      (await c).release();
      expect(s.snapshot()).to.deep.equal({ slots: { total: 1, busy: 0 }, queue: { depth: 0 } });
    });

    it('reports admissions, refusals and abandoned waits to its observer', async () => {
      const seen: string[] = [];
      const s = new GenerationScheduler(() => ({ slots: 1, maxQueue: 1, maxWaiting: 1 }), {
        admitted: (client, ms) => seen.push(`admitted ${client.id} ${ms >= 0}`),
        refused: (reason) => seen.push(`refused ${reason}`),
        abandoned: (ms) => seen.push(`abandoned ${ms >= 0}`),
      });
      const running = s.acquire(ask('a')) as Slot;
      const leave = new AbortController();
      const gone = s.acquire(ask('b', { signal: leave.signal })) as Promise<Slot>;
      codeOf(() => s.acquire(ask('c')));
      leave.abort(new Error('x'));
      await gone.catch(() => {});
      const next = s.acquire(ask('d')) as Promise<Slot>;
      running.release();
      (await next).release();
      expect(seen).to.deep.equal(['admitted a true', 'refused queue_full', 'abandoned true', 'admitted d true']);
    });
  });
});
