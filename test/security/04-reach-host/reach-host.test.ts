import { expect } from 'chai';
import { SecurityBench, SECURITY_LIMITS, report } from '../helpers.js';

interface Report {
  tried: number;
  leaks: string[];
  loot: string[];
  notes: Record<string, string>;
}

/**
 * Class 4: reaching the host. Each case tries every route it knows (constructor chains from every ctx function,
 * returned object and thrown error, Error.prepareStackTrace call sites, Symbol.species, Proxies handed to ctx,
 * promise-then hijacks, import(), globalThis walks), tries to read the planted secret file with anything it
 * got, and reports. Nothing may look like a host capability, and the secret must reach no event.
 */
describe('security 04: reaching the host', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_cpu_time_ms: 2_000 });
  before(() => bench.start());
  after(() => bench.stop());

  const cases: Array<[string, string, number]> = [
    ['ctor-chains', 'constructor chains from this, ctx and every ctx function, Function, eval', 150],
    ['ctx-returns', 'constructor chains from every value ctx returns', 60],
    ['thrown-errors', 'constructor chains from errors thrown by every ctx path, stack overflow at the bridge', 40],
    ['prepare-stack-trace', 'Error.prepareStackTrace call sites (getFunction, getThis) around ctx calls', 0],
    ['species-proxies', 'Symbol.species, Proxies handed to ctx, promise-then hijacks', 1],
    ['imports-and-walks', 'import(), require, process, and a globalThis walk', 100],
  ];
  for (const [name, what, minTried] of cases) {
    it(what, async () => {
      const result = await bench.attack(name, bench.secretFile);
      const r = report<Report>(result);
      expect(r.leaks, JSON.stringify(r.notes)).to.deep.equal([]);
      expect(r.loot).to.deep.equal([]);
      expect(r.tried).to.be.at.least(minTried);
      await bench.expectContained(result, 2_000 + SECURITY_LIMITS.sandbox_wall_time_ms);
    });
  }

  it('stack traces name no host file', async () => {
    const r = report<Report>(await bench.attack('prepare-stack-trace', bench.secretFile));
    expect(Number(r.notes['sites'])).to.be.greaterThan(0);
    expect(r.notes['files']).not.to.match(/\/work\/|node_modules|core\/sandbox/);
  });
});
