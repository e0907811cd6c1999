import { expect } from 'chai';
import { CPU_MARGIN_MS, SecurityBench, SECURITY_LIMITS } from '../helpers.js';

/**
 * Class 1: CPU. Every loop ends with the CPU time error at the limit, and the host serves on. "At the limit" is
 * measured as the CPU the sandbox process spent, which a busy machine does not change (the time on the clock it
 * does), so these cases hold under any load.
 */
describe('security 01: CPU', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  const cpu = SECURITY_LIMITS.sandbox_cpu_time_ms;
  const cases: Array<[string, string]> = [
    ['sync-loop', 'for(;;){} in sync code'],
    ['async-loop', 'for(;;){} in an async function after awaiting the host'],
    ['then-loop', 'for(;;){} inside .then'],
    ['getter-result', 'a looping getter on the returned value'],
    ['tojson-result', 'a looping toJSON on the returned value'],
    ['finally-loop', 'for(;;){} in a finally'],
    ['regex', 'catastrophic regex backtracking'],
    ['error-getter', 'looping getters on a thrown value'],
    ['bigint', 'a BigInt toString that ignores termination (its sandbox process ends itself)'],
    ['length-getter', 'a length getter that answers the guard and the builtin differently (lastIndexOf ignores termination)'],
    ['join-getter', 'the same through join'],
  ];
  for (const [name, what] of cases) {
    it(`${what} → CPU time limit error`, async () => {
      const result = await bench.attack(name);
      bench.expectStoppedByCpu(result, name);
      await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
    });
  }

  it('a loop in module code fails add_personality within the limit', async () => {
    const failed = await bench.addFails('load-loop');
    expect(failed.error).to.match(/CPU time limit \(300 ms\): (\d+) ms used/);
    expect(Number(/: (\d+) ms used/.exec(failed.error)?.[1])).to.be.below(cpu + CPU_MARGIN_MS);
    await bench.expectContained(failed);
  });

  it('after a stuck isolate, the personality serves the next call from a new sandbox process', async () => {
    const id = await bench.add('bigint');
    const sandbox = bench.sandbox(id);
    const before = sandbox.processesStarted;
    const result = await bench.attack('bigint');
    expect(result.error).to.match(/CPU time limit/);
    // The same personality, next request: the hook runs again (and fails the same way, on a new process).
    const again = await bench.attack('bigint');
    bench.expectStoppedByCpu(again, 'bigint');
    expect(sandbox.processesStarted).to.be.greaterThan(before);
    await bench.expectContained(again, SECURITY_LIMITS.sandbox_wall_time_ms);
  });
});
