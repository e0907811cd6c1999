import { expect } from 'chai';
import { SecurityBench, expectPrototypesClean, record, report } from '../helpers.js';
import { request } from '../../helpers/host.js';

/**
 * Class 6: prototype pollution, both ways. The guest pollutes its own prototypes and sends `__proto__` and
 * `constructor` payloads through every ctx call and return path, and as its settings template; a client sends
 * them as settings. The host's prototypes (checked here, in the host process) stay clean.
 */
describe('security 06: prototype pollution', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  it('guest → host: through every ctx call, the result and the settings template', async () => {
    const result = await bench.attack('pollute-everything');
    expect(result.error).to.equal(undefined);
    expect(result.text).to.contain('__proto__'); // returned as text, never parsed into a host object
    for (const [event, payload] of result.events) {
      if (event !== 'generation_message') continue;
      const metadata = (payload as { metadata: object }).metadata;
      expect(Object.getPrototypeOf(metadata)).to.equal(Object.prototype);
      expect(Object.keys(metadata).every((k) => ['progress', 'status', 'title', 'type'].includes(k)), JSON.stringify(metadata)).to.equal(true);
    }
    const template = bench.sandbox(await bench.add('pollute-everything')).settingsTemplate;
    expect(Object.getPrototypeOf(template)).to.equal(Object.prototype);
    expect(Object.hasOwn(template, '__proto__')).to.equal(false);
    await bench.expectContained(result);
  });

  it('client → host: __proto__ and constructor settings are refused and pollute nothing', async () => {
    const id = await bench.add('pollute-everything');
    const events = record(bench.attacker);
    for (const settings of [
      JSON.parse('{"__proto__": {"polluted": "client"}}'),
      JSON.parse('{"constructor": {"prototype": {"polluted": "client"}}}'),
      JSON.parse('{"ok": 2, "__proto__": {"isAdmin": true}}'),
    ]) {
      // Refused, or accepted with the dangerous keys dropped by validation: either way nothing is polluted.
      const reply = await request(bench.attacker, 'set_personality_settings', { id, settings }, 'personality_settings');
      expect(reply).to.be.an('object');
      expectPrototypesClean();
    }
    const current = (await request(bench.attacker, 'get_personality_settings', { id }, 'personality_settings')) as { settings?: Record<string, unknown> };
    expect(JSON.stringify(current)).not.to.contain('client');
    expectPrototypesClean();
    bench.expectNoSecret(events.stop());
    await bench.expectHealthy();
  });

  it('the guest sees its own pollution only for its own call', async () => {
    const result = await bench.attack('pollute-everything');
    expect(result.error).to.equal(undefined);
    // A fresh context per call: the next call starts from clean prototypes again (it would fail otherwise).
    const again = await bench.attack('pollute-everything');
    expect(again.text).to.equal(result.text);
    expectPrototypesClean();
    void report;
  });
});
