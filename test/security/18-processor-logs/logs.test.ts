/**
 * Class 18: processor log lines (issue 11 §4). A processor wrote 526 MB to the host log in 10 s. Now each
 * personality's lines pass through a rate limit (`sandbox_log_lines_per_second`, bursts of 10x) and are cut to
 * 4096 characters; when lines are dropped the log says so once, and gives the count when lines pass again.
 */
import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger } from '../../../core/logger.js';
import { LogLimiter } from '../../../core/sandbox/log-limiter.js';
import { SecurityBench, SECURITY_LIMITS } from '../helpers.js';
import { generate, request, startTestHost, type TestHost } from '../../helpers/host.js';

describe('security 18: processor logs are rate-limited and cut', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  let host: TestHost;
  let lines: Array<Record<string, unknown>> = [];

  before(async () => {
    await bench.start();
    await bench.writeCase('flood');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    host = await startTestHost({
      logger: createLogger({ level: 'info', pretty: false, destination: sink }),
      config: { ...SECURITY_LIMITS, personalities_paths: [bench.zoo], sandbox_max_host_calls: 100_000, sandbox_max_emit_bytes: 64 * 1024 * 1024, sandbox_cpu_time_ms: 5_000, sandbox_log_lines_per_second: 20, log_level: 'info' },
    });
  });
  after(async () => {
    await host?.stop();
    await bench.stop();
  });

  it('20,000 lines in one turn reach the log as at most a burst, each cut, with one notice that lines are dropped', async () => {
    const socket = await host.connect();
    const { id } = (await request(socket, 'add_personality', { path: 'sec/flood' }, 'personality_added', 30_000)) as { id: number };
    lines = [];
    const started = performance.now();
    const result = await generate(socket, { prompt: '20000', personality: id });
    const seconds = (performance.now() - started) / 1000;
    expect(result.error).to.equal(undefined);
    expect(result.text).to.equal('flooded');
    const fromFlood = lines.filter((l) => l['source'] === 'processor');
    // The burst (10 x 20) plus what the rate let through while the turn ran.
    expect(fromFlood.length).to.be.at.most(200 + Math.ceil(seconds * 20) + 1);
    expect(fromFlood.length).to.be.at.least(1);
    for (const line of fromFlood) expect(String(line['msg']).length).to.be.at.most(4096 + 64);
    expect(String(fromFlood[0]!['msg'])).to.contain('more characters cut');
    const notices = lines.filter((l) => /logs more than 20 lines per second/.test(String(l['msg'])));
    expect(notices.length).to.equal(1);
  });

  it('the limiter: a steady rate with bursts, one notice when dropping starts, the count when lines pass again', () => {
    let now = 0;
    const notices: string[] = [];
    const limiter = new LogLimiter({ name: 'p', linesPerSecond: 10, burst: 5, maxLineChars: 8, now: () => now, notice: (t) => notices.push(t) });
    const passed = Array.from({ length: 20 }, (_, i) => limiter.pass(`line ${i}`));
    expect(passed.filter((p) => p !== undefined)).to.deep.equal(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    expect(notices).to.have.length(1);
    expect(limiter.dropped).to.equal(15);
    now += 1000; // 10 more tokens, capped at the burst of 5
    expect(limiter.pass('0123456789abc')).to.equal('01234567… [5 more characters cut]');
    expect(notices[1]).to.equal('personality "p": 15 log lines were dropped');
    expect(limiter.dropped).to.equal(0);
  });
});

