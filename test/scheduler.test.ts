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
});
