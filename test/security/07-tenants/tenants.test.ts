import { expect } from 'chai';
import { SecurityBench, report } from '../helpers.js';
import { request } from '../../helpers/host.js';

/**
 * Class 7: isolation between tenants. Personality A (thief) cannot read B's (victim's) settings, state or
 * compiled code; two clients on one personality see only their own discussion; module-level state does not
 * leak between clients (or calls).
 */
describe('security 07: isolation between tenants', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  it("A cannot read B's settings, state or compiled code", async () => {
    const victim = await bench.add('victim');
    const reply = await request(bench.attacker, 'set_personality_settings', { id: victim, settings: { api_token: 'TENANT-B-TOKEN' } }, 'personality_settings');
    expect(reply).to.have.property('success', true);
    await bench.attack('victim', 'victim data'); // B has state and a compiled isolate
    const result = await bench.attack('thief');
    const r = report<{ found: string[]; calls: number }>(result);
    expect(r.found).to.deep.equal([]);
    expect(JSON.stringify(result.events)).not.to.contain('TENANT-B-TOKEN');
    // Different personalities never share a sandbox process.
    expect(bench.sandbox(victim).pid).not.to.equal(bench.sandbox(await bench.add('thief')).pid);
    await bench.expectContained(result);
  });

  it('two clients on one personality each see only their own discussion', async () => {
    const alice = await bench.host.connect();
    const bob = await bench.host.connect();
    await bench.attack('victim', 'ALICE-ONE', { socket: alice });
    await bench.attack('victim', 'BOB-ONE', { socket: bob });
    const a2 = report<{ previous: string }>(await bench.attack('victim', 'ALICE-TWO', { socket: alice }));
    const b2 = report<{ previous: string }>(await bench.attack('victim', 'BOB-TWO', { socket: bob }));
    expect(a2.previous).to.contain('ALICE-ONE');
    expect(a2.previous).not.to.contain('BOB');
    expect(b2.previous).to.contain('BOB-ONE');
    expect(b2.previous).not.to.contain('ALICE');
  });

  it('module-level state does not leak between clients or calls', async () => {
    const other = await bench.host.connect();
    const first = report<{ calls: number }>(await bench.attack('victim', 'one'));
    const second = report<{ calls: number }>(await bench.attack('victim', 'two', { socket: other }));
    const third = report<{ calls: number }>(await bench.attack('victim', 'three'));
    expect([first.calls, second.calls, third.calls]).to.deep.equal([1, 1, 1]);
  });

  it("one tenant's crash does not touch another's sandbox process", async () => {
    const victim = await bench.add('victim');
    const pid = bench.sandbox(victim).pid;
    await bench.writeCase('crasher');
    const result = await bench.attack('crasher');
    expect(result.error).to.match(/memory limit|sandbox process ended/);
    expect(bench.sandbox(victim).pid).to.equal(pid);
    expect(report<{ calls: number }>(await bench.attack('victim', 'after')).calls).to.equal(1);
    await bench.expectContained(result);
  });
});
