import { expect } from 'chai';
import { CPU_MARGIN_MS, SecurityBench, SECURITY_LIMITS } from '../helpers.js';

/** Class 2: microtask and promise storms. The storm is killed, and the next request gets a fresh, working isolate. */
describe('security 02: microtask and promise storms', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  const cpu = SECURITY_LIMITS.sandbox_cpu_time_ms;
  const cases: Array<[string, string]> = [
    ['storm-pending', 'a then-chain storm while the hook awaits forever'],
    ['storm-after-return', 'a storm left running after the hook returned'],
    ['async-recursion', 'endless async recursion'],
    ['thenable-storm', 'a thenable that resolves to itself'],
    ['rejection-storm', 'a rejection/catch storm'],
    ['storm-on-settle', 'a storm started when the host settles a ctx call'],
  ];
  for (const [name, what] of cases) {
    it(`${what} → CPU time limit error, then a fresh isolate that works`, async () => {
      const result = await bench.attack(name);
      // A storm dies of whichever limit it reaches first: CPU time, or memory (each link holds a promise).
      expect(result.error, result.error).to.match(/processor exceeded its (CPU time|memory) limit/);
      expect(result.text).to.equal(undefined); // the early return is not accepted
      const sandbox = bench.sandbox(await bench.add(name));
      const isolates = sandbox.isolatesCreated;
      const next = await bench.attack(name, 'ok');
      expect(next.text).to.equal('fine');
      expect(sandbox.isolatesCreated).to.equal(isolates + 1);
      // Stopped within the CPU limit (measured on the sandbox process: a busy machine does not change it).
      if (/CPU time limit/.test(result.error ?? '')) bench.expectStoppedByCpu(result, name);
      else expect(result.cpuMs).to.be.below(cpu + CPU_MARGIN_MS);
      await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
    });
  }
});
