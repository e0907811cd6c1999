/**
 * Model residency (issue 18): `keep_alive` with Ollama's semantics, on the real engine. The unload clock is
 * observed through the manager's state (`unloadedModel`, `unloadAt`), never through elapsed time.
 */
import { expect } from 'chai';
import { ModelResidency, type ResidencyTimers } from '../core/bindings/residency.js';
import { keepAliveMs } from '../core/util/duration.js';
import { validateValue } from '../core/config.js';
import { startTestHost, generate, next, type TestHost } from './helpers/host.js';

/** Timers the test fires by hand. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let id = 0;
  const timers: ResidencyTimers = {
    setTimeout: (callback, ms) => {
      pending.set(++id, { callback, ms });
      return Object.assign(Object(id) as object, { unref() {} });
    },
    clearTimeout: (handle) => pending.delete(Number(handle)),
  };
  const fire = () => {
    const [key, timer] = [...pending][0]!;
    pending.delete(key);
    timer.callback();
  };
  return { timers, pending, fire };
}

/** Resolve once `condition` holds, checked after each turn of the event loop; fail after 30 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 30 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('keep_alive (issue 18)', function () {
  this.timeout(120_000);

  it('parses durations as Ollama does: seconds, "300ms", "10s", "5m", "1h30m", negative for ever', () => {
    expect(keepAliveMs(10)).to.equal(10_000);
    expect(keepAliveMs(0.5)).to.equal(500);
    expect(keepAliveMs(0)).to.equal(0);
    expect(keepAliveMs('0')).to.equal(0);
    expect(keepAliveMs(-1)).to.equal(-1);
    expect(keepAliveMs('-1')).to.equal(-1);
    expect(keepAliveMs('-5m')).to.equal(-1);
    expect(keepAliveMs('300ms')).to.equal(300);
    expect(keepAliveMs('10s')).to.equal(10_000);
    expect(keepAliveMs('5m')).to.equal(300_000);
    expect(keepAliveMs('1h30m')).to.equal(5_400_000);
    for (const bad of ['', 'soon', '5x', 'm5', '1.h', Number.NaN]) expect(keepAliveMs(bad), String(bad)).to.equal(undefined);
    expect(validateValue('keep_alive', '5m', 'test')).to.equal('5m');
    expect(() => validateValue('keep_alive', 'forever', 'test')).to.throw(/keep_alive.*expected a duration/);
  });

  describe('ModelResidency', () => {
    it('unloads after the keep-alive time without a lease, never while one is held', () => {
      const { timers, pending, fire } = manualTimers();
      let unloads = 0;
      let keep = 1000;
      const residency = new ModelResidency({ keepAliveMs: () => keep, unload: () => unloads++, timers });
      residency.refresh();
      expect([...pending.values()].map((t) => t.ms)).to.deep.equal([1000]);
      const leave = residency.hold();
      expect(pending.size).to.equal(0);
      const leaveToo = residency.hold();
      leave();
      leave();
      expect(pending.size, 'one lease is still held').to.equal(0);
      leaveToo();
      expect(pending.size).to.equal(1);
      fire();
      expect(unloads).to.equal(1);
      // Negative keeps the model: nothing is armed.
      keep = -1;
      residency.hold()();
      expect(pending.size).to.equal(0);
      // 0 unloads as soon as it is idle.
      keep = 0;
      residency.hold()();
      expect([...pending.values()].map((t) => t.ms)).to.deep.equal([0]);
      fire();
      expect(unloads).to.equal(2);
    });

    it('waits longer than one timer can (24.8 days) in steps', () => {
      const { timers, pending, fire } = manualTimers();
      let unloads = 0;
      const residency = new ModelResidency({ keepAliveMs: () => 30 * 24 * 3600 * 1000, unload: () => unloads++, timers });
      residency.refresh();
      expect([...pending.values()][0]!.ms).to.equal(2 ** 31 - 1);
      fire();
      expect(unloads).to.equal(0);
      expect([...pending.values()][0]!.ms).to.equal(30 * 24 * 3600 * 1000 - (2 ** 31 - 1));
      fire();
      expect(unloads).to.equal(1);
    });
  });

  describe('on a host', () => {
    let host: TestHost;
    afterEach(() => host?.stop());

    it('0: the model is unloaded when idle, and the next request loads it again and is served', async () => {
      host = await startTestHost({ config: { keep_alive: 0 } });
      const bindings = host.host.bindings;
      const name = bindings.model!.name;
      await until(() => bindings.unloadedModel === name);
      expect(bindings.model).to.equal(undefined);
      const socket = await host.connect();
      const served = await generate(socket, { prompt: 'the world is', n_predicts: 4 });
      expect(served.error).to.equal(undefined);
      expect(served.text).to.be.a('string');
      await until(() => bindings.unloadedModel === name);
      // tokenize wakes it too.
      const tokenized = next(socket, 'tokenized');
      socket.emit('tokenize', { prompt: 'hello' });
      const reply = await tokenized;
      expect('tokens' in reply && reply.tokens.length > 0, JSON.stringify(reply)).to.equal(true);
    });

    it('unloading never interrupts a running generation, nor a workflow between its model calls', async () => {
      host = await startTestHost({ config: { keep_alive: 0, parallel: 2 } });
      const bindings = host.host.bindings;
      const [long, short] = await Promise.all([host.connect(), host.connect()]);
      const longChunks: string[] = [];
      long.on('text_chunk', (c) => longChunks.push(c.chunk));
      const longDone = generate(long, { prompt: 'once upon a time', n_predicts: 600 });
      await next(long, 'text_chunk');
      // A short generation ends while the long one runs: the model stays (it is still in use).
      const shortReply = await generate(short, { prompt: 'hi', n_predicts: 2 });
      expect(shortReply.error).to.equal(undefined);
      expect(bindings.model, 'loaded while a generation runs').not.to.equal(undefined);
      const longReply = await longDone;
      expect(longReply.error).to.equal(undefined);
      expect(longReply.text).to.equal(longReply.chunks.join(''));
      await until(() => bindings.unloadedModel !== undefined);
      // A workflow's several ctx.generate calls: the turn holds the model between them.
      const { id } = await host.host.personalities.add('english/thinking/chain_of_thoughts');
      const turn = await generate(long, { prompt: 'why?', personality: id });
      expect(turn.error).to.equal(undefined);
      expect(turn.text).to.be.a('string');
    });

    it('negative keeps the model; update_setting keep_alive 0 unloads an idle model at once', async () => {
      host = await startTestHost();
      const bindings = host.host.bindings;
      const socket = await host.connect();
      await generate(socket, { prompt: 'x', n_predicts: 2 });
      expect(bindings.unloadAt, 'no unload is armed under keep_alive -1').to.equal(undefined);
      expect(bindings.model).not.to.equal(undefined);
      const response = await fetch(`${host.url}/update_setting`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ setting_name: 'keep_alive', setting_value: 0 }),
      });
      expect(await response.json()).to.deep.equal({ setting_name: 'keep_alive', status: true });
      await until(() => bindings.unloadedModel !== undefined);
      const reply = await generate(socket, { prompt: 'x', n_predicts: 2 });
      expect(reply.error).to.equal(undefined);
    });

    it('a request cancelled while the model loads again ends cancelled; the load serves the next one', async () => {
      host = await startTestHost({ config: { keep_alive: 0 } });
      const bindings = host.host.bindings;
      await until(() => bindings.unloadedModel !== undefined);
      const stop = new AbortController();
      const waiting = host.host.generation.run(
        { client: { id: 'impatient', transport: 'http' }, kind: 'raw', prompt: 'x', sampling: { maxTokens: 2 }, queue: 'wait', signal: stop.signal },
        { answer() {}, draft() {}, message() {} },
      );
      stop.abort();
      expect((await waiting).finishReason).to.equal('cancelled');
      const socket = await host.connect();
      expect((await generate(socket, { prompt: 'x', n_predicts: 2 })).error).to.equal(undefined);
    });
  });
});
