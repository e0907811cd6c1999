import { expect } from 'chai';
import { SecurityBench, SECURITY_LIMITS, rssOf, sampleRss } from '../helpers.js';

/**
 * Class 3: memory. Each attack ends with a coded error (memory, payload, CPU, or the sandbox process ending
 * itself), the isolate's process never grows past 3x the isolate's limit, and the host's own memory is back
 * to where it was after 200 runs.
 */
describe('security 03: memory', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  const limitBytes = SECURITY_LIMITS.sandbox_memory_limit_mb * 1024 * 1024;
  const cases: Array<[string, string, RegExp]> = [
    ['array-growth', 'array growth', /memory limit \(32 MB\)/],
    ['arraybuffer-chunks', 'ArrayBuffer chunks', /memory limit|Array buffer allocation failed/],
    ['arraybuffer-huge', 'one 2 GiB ArrayBuffer', /memory limit|Array buffer allocation failed|Invalid array buffer length/],
    ['string-doubling', 'string doubling, kept and flattened', /memory limit|CPU time limit/],
    ['rope-flatten', 'a 256 MiB rope flattened at once', /memory limit/],
    ['rope-flatten-twobyte', 'a 512 MiB two-byte rope flattened at once', /memory limit/],
    ['rope-split', "split('') of a 2^28 rope (a V8 fatal error in-process)", /memory limit|sandbox process ended/],
    ['rope-replaceall', 'replaceAll over a 2^28 rope (ignores termination, 1.2 GB)', /memory limit|CPU time limit/],
    ['json-parse-huge', 'JSON.parse of a 64 MiB string', /memory limit|CPU time limit/],
    ['array-ctor', '[].constructor(3e7): 240 MB in one allocation', /memory limit/],
    ['array-length', 'arr.length = 3e7: 240 MB in one allocation', /memory limit/],
    ['deep-recursion', 'deep recursion (stack overflow)', /RangeError: Maximum call stack size exceeded/],
    ['huge-ctx-argument', 'a 10 MiB ctx.generate prompt', /ctx.generate argument larger than its limit of 1048576 bytes|memory limit/],
    ['return-1gb', 'a workflow that returns a 1 GiB string', /memory limit|result larger than its limit/],
    ['return-over-payload', 'a 3 MiB answer', /result larger than its limit of 1048576 bytes/],
  ];
  for (const [name, what, expected] of cases) {
    it(`${what} → ${expected.source}; its process stays under 3x the limit; the next call works`, async () => {
      const id = await bench.add(name);
      const sandbox = bench.sandbox(id);
      const baseline = await rssOf(sandbox.pid);
      const sampler = sampleRss(sandbox.pid);
      const result = await bench.attack(name);
      const peak = await sampler.stop();
      expect(result.error, result.error).to.match(expected);
      expect(result.error).to.match(new RegExp(`^personality "${name}": `));
      // The isolate dies at no more than 3x its limit: its whole process never grew by more than that.
      expect(peak - baseline, `grew by ${Math.round((peak - baseline) / 1048576)} MB`).to.be.below(3 * limitBytes);
      const next = await bench.attack(name, 'ok');
      expect(next.text).to.equal('fine');
      await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
    });
  }

  it('host RSS is back within 10% after 200 memory-limit runs', async function () {
    this.timeout(240_000);
    const gc = (globalThis as { gc?: () => void }).gc;
    const settle = async () => {
      gc?.();
      await new Promise((r) => setTimeout(r, 200));
      gc?.();
      return process.memoryUsage().rss;
    };
    const run = async () => {
      const result = await bench.attack('array-growth');
      expect(result.error).to.match(/memory limit|CPU time limit/);
    };
    for (let i = 0; i < 10; i++) await run(); // warm up: code paths, socket buffers, caches
    const before = await settle();
    const sandbox = bench.sandbox(await bench.add('array-growth'));
    expect((await bench.attack('array-growth', 'ok')).text).to.equal('fine');
    const sandboxBefore = await rssOf(sandbox.pid);
    for (let i = 0; i < 200; i++) await run();
    const after = await settle();
    // A healthy call, so that a sandbox process is running now (a memory kill may have ended the last one).
    expect((await bench.attack('array-growth', 'ok')).text).to.equal('fine');
    const sandboxAfter = await rssOf(sandbox.pid);
    expect(after, `host RSS ${Math.round(before / 1048576)} MB → ${Math.round(after / 1048576)} MB`).to.be.below(before * 1.1);
    // The sandbox process stays bounded too: both readings are of a live process, then compared.
    expect(sandboxBefore, 'sandbox RSS before').to.be.greaterThan(0);
    expect(sandboxAfter, 'sandbox RSS after').to.be.greaterThan(0);
    expect(sandboxAfter).to.be.below(sandboxBefore + 2 * limitBytes);
    await bench.expectHealthy();
  });
});
