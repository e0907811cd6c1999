import { expect } from 'chai';
import { SecurityBench, SECURITY_LIMITS, report } from '../helpers.js';

/**
 * Class 8: host API abuse. Each abuse gets a coded error (or a bounded, clean result), the host's memory stays
 * bounded, and nothing queues without limit.
 */
describe('security 08: host API abuse', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  const grows = async (fn: () => Promise<void>) => {
    const before = process.memoryUsage().rss;
    await fn();
    return process.memoryUsage().rss - before;
  };

  const cases: Array<[string, string, RegExp]> = [
    ['million-steps', 'a million ctx.step', /exceeded its limit of 1000 host calls per turn/],
    ['json-100mb', 'a 100 MB ctx.json', /memory limit|bytes of messages|CPU time limit/],
    ['recursive-generate', 'recursive ctx.generate', /host calls per turn|wall time limit|memory limit|CPU time limit/],
    ['concurrent-generate', '100 concurrent ctx.generate with 500 KB prompts', /calls in flight at once/],
    ['tokenize-8mb', 'ctx.tokenize of 8 MB', /ctx.tokenize argument larger than its limit|memory limit/],
    ['detokenize-huge', 'ctx.detokenize of 120 000 token ids (2 MB, twice the payload limit)', /ctx.detokenize argument larger than its limit|memory limit|RangeError/],
    ['budget-per-turn', '400 steps in each of the three hooks (budgets are per turn)', /exceeded its limit of 1000 host calls per turn/],
  ];
  for (const [name, what, expected] of cases) {
    it(`${what} → ${expected.source}`, async () => {
      let result!: Awaited<ReturnType<typeof bench.attack>>;
      const growth = await grows(async () => {
        result = await bench.attack(name);
      });
      expect(result.error, result.error ?? result.text?.slice(0, 200)).to.match(expected);
      expect(growth, `host RSS grew by ${Math.round(growth / 1048576)} MB`).to.be.below(64 * 1024 * 1024);
      const messages = result.events.filter(([e]) => e === 'generation_message').length;
      expect(messages).to.be.at.most(SECURITY_LIMITS.sandbox_max_host_calls);
      await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
    });
  }

  it('maxTokens: 1e9 is clamped to the context; an unsafe integer is refused', async () => {
    const result = await bench.attack('max-tokens');
    const out = report<string[]>(result);
    expect(out[0]).to.equal('generated');
    expect(out[1]).to.equal('refused TypeError');
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('a prompt larger than the context → coded LH_ERR_CONTEXT_OVERFLOW inside the processor', async () => {
    const result = await bench.attack('prompt-over-context');
    const error = report<{ code: string; message: string }>(result);
    expect(error.code).to.equal('LH_ERR_CONTEXT_OVERFLOW');
    expect(error.message).to.match(/does not fit the model's context/);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('token ids outside the vocabulary are refused, never abort the host', async () => {
    const result = await bench.attack('detokenize-out-of-vocabulary');
    const seen = report<string[]>(result);
    expect(seen).to.have.length(3);
    for (const message of seen) expect(message).to.match(/not in the vocabulary/);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('host errors reach the processor without host paths', async () => {
    const result = await bench.attack('host-error-paths');
    const seen = report<string[]>(result);
    for (const message of seen) expect(message).not.to.match(/\/(tmp|home|root|work|usr)\//);
    expect(JSON.stringify(result.events)).not.to.contain(bench.host.dataDir);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });
});
