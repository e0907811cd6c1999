/**
 * `GET /metrics` (issue 18): Prometheus text from prom-client, fed by the real host on the real engine.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { HostMetrics } from '../core/metrics/host-metrics.js';
import { startTestHost, generate, next, type TestHost } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample `name` whose labels include `labels` (0 when there is none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hit = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit?.value ?? 0;
}

const COUNTING = `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({
  async runWorkflow(input, ctx) {
    if (input.prompt === 'many calls') for (let i = 0; i < 5; i++) await ctx.tokenize('x');
    return 'counted';
  },
});
`;

describe('GET /metrics (issue 18)', function () {
  this.timeout(120_000);
  let host: TestHost;
  let zoo: string;
  const KEY = 'metrics-test-key';

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-metrics-zoo-'));
    await writePersonality(zoo, 'english/test/counting', 'name: Counting\nprocessor_cfg: {custom_workflow: true}\n', { 'scripts/processor.ts': COUNTING });
    host = await startTestHost({
      config: { api_key: KEY, personalities_paths: [zoo], personalities: ['english/test/counting'], parallel: 2, sandbox_max_host_calls: 3 },
    });
  });
  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  const scrape = async () => {
    const response = await fetch(`${host.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    return parse(await response.text());
  };

  it('follows the API-key rule', async () => {
    expect((await fetch(`${host.url}/metrics`)).status).to.equal(401);
    expect((await fetch(`${host.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).to.equal(401);
  });

  it('counts generations by mode, outcome and personality, tokens, first-token time and speed', async () => {
    const socket = await host.connect({ query: { token: KEY } });
    const before = await scrape();
    const raw = await generate(socket, { prompt: 'the world is', n_predicts: 8 });
    expect(raw.error).to.equal(undefined);
    const turn = await generate(socket, { prompt: 'hi', personality: 0 });
    expect(turn.text).to.equal('counted');
    const failed = await generate(socket, { prompt: 'hi', personality: 7 });
    expect(failed.error).to.be.a('string');
    const limited = await generate(socket, { prompt: 'many calls', personality: 0 });
    expect(limited.error).to.contain('host calls');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(delta('lollms_generations_total', { mode: 'raw', outcome: 'done', personality: '' })).to.equal(1);
    expect(delta('lollms_generations_total', { mode: 'personality', outcome: 'done', personality: 'english/test/counting' })).to.equal(1);
    expect(delta('lollms_generations_total', { mode: 'personality', outcome: 'error', personality: 'english/test/counting' })).to.equal(1);
    // A personality that is not mounted never becomes a label value.
    expect(after.some((s) => s.labels['personality'] !== undefined && !['', 'english/test/counting'].includes(s.labels['personality']!))).to.equal(false);
    expect(delta('lollms_generation_errors_total', { mode: 'personality', code: 'LH_ERR_PERSONALITY_ID' })).to.equal(1);
    expect(delta('lollms_generation_errors_total', { mode: 'personality', code: 'LH_ERR_SANDBOX_HOST_CALLS' })).to.equal(1);
    expect(delta('lollms_sandbox_limit_violations_total', { kind: 'host_calls' })).to.equal(1);
    const recent = host.host.generation.status().recent;
    const generated = recent.slice(-4).reduce((sum, g) => sum + g.completionTokens, 0);
    expect(delta('lollms_completion_tokens_total', { mode: 'raw' }) + delta('lollms_completion_tokens_total', { mode: 'personality' })).to.equal(generated);
    expect(delta('lollms_prompt_tokens_total', { mode: 'raw' })).to.be.greaterThan(0);
    expect(delta('lollms_time_to_first_token_seconds_count', { mode: 'raw' })).to.equal(1);
    expect(delta('lollms_generation_tokens_per_second_count', { mode: 'raw' })).to.equal(1);
    expect(delta('lollms_generation_queue_wait_seconds_count')).to.equal(4);
  });

  it('reads slots, queue, sandbox processes and the model at scrape time; counts refusals, reloads and model loads', async () => {
    const held = [0, 1].map((i) => host.host.scheduler.acquire({ client: { id: `hold-${i}`, transport: 'http' }, policy: 'wait', signal: new AbortController().signal }));
    const socket = await host.connect({ query: { token: KEY } });
    const busy = next(socket, 'busy');
    socket.emit('generate_text', { prompt: 'x', n_predicts: 2 });
    expect(await busy).to.deep.equal({ message: 'I am busy. Come back later.' });
    const during = await scrape();
    expect(value(during, 'lollms_generation_slots')).to.equal(2);
    expect(value(during, 'lollms_generation_slots_in_use')).to.equal(2);
    expect(value(during, 'lollms_generation_queue_depth')).to.equal(0);
    expect(value(during, 'lollms_generation_refused_total', { reason: 'busy' })).to.be.at.least(1);
    for (const slot of held) if (!(slot instanceof Promise)) slot.release();
    expect(value(during, 'lollms_sandbox_processes')).to.equal(host.host.sandboxPool.processes);
    expect(value(during, 'lollms_sandbox_process_starts_total', { reason: 'load' })).to.be.at.least(1);
    expect(value(during, 'lollms_model_loaded')).to.equal(1);
    expect(value(during, 'lollms_model_load_seconds_count', { reason: 'select' })).to.equal(1);
    // Standard process metrics come along.
    expect(value(during, 'process_resident_memory_bytes')).to.be.greaterThan(0);

    const folder = join(zoo, 'english', 'test', 'counting');
    await host.host.reloader.reloadPersonality(folder);
    await writeFile(join(folder, 'scripts', 'processor.ts'), 'export default {');
    await host.host.reloader.reloadPersonality(folder);
    await writeFile(join(folder, 'scripts', 'processor.ts'), COUNTING);
    const reloaded = await scrape();
    expect(value(reloaded, 'lollms_plugin_reloads_total', { kind: 'personality', outcome: 'ok' })).to.equal(1);
    expect(value(reloaded, 'lollms_plugin_reloads_total', { kind: 'personality', outcome: 'failed' })).to.equal(1);
  });

  it('docs/metrics.md lists exactly the lollms_ metrics the host exposes, with their types', async () => {
    const metrics = new HostMetrics({
      slots: () => ({ total: 1, busy: 0 }),
      queueDepth: () => 0,
      sandboxProcesses: () => 0,
      sandboxPids: () => [],
      modelLoaded: () => true,
      isMounted: () => true,
      remoteEndpoints: () => [],
    });
    const exposed = [...(await metrics.registry.metrics()).matchAll(/^# TYPE (lollms_\w+) (\w+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const doc = await readFile(join(PACKAGE_ROOT, 'docs', 'metrics.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `(lollms_\w+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(exposed.length).to.be.greaterThan(10);
    expect([...documented].sort()).to.deep.equal([...exposed].sort());
  });

  it('keeps label values bounded: a personality no longer mounted is counted as other', () => {
    const metrics = new HostMetrics({
      slots: () => ({ total: 1, busy: 0 }),
      queueDepth: () => 0,
      sandboxProcesses: () => 0,
      sandboxPids: () => [],
      modelLoaded: () => true,
      isMounted: (path) => path === 'english/a/kept',
      remoteEndpoints: () => [],
    });
    const ended = (personality: string) =>
      metrics.generation.ended!({ mode: 'personality', personality, transport: 'http', outcome: 'done', usage: { promptTokens: 1, completionTokens: 1 }, timings: { queuedMs: 0, totalMs: 1 } });
    ended('english/a/kept');
    ended('english/a/gone');
    ended('english/b/gone');
    return metrics.registry.metrics().then((text) => {
      const personalities = parse(text).filter((s) => s.name === 'lollms_generations_total').map((s) => `${s.labels['personality']}=${s.value}`);
      expect(personalities.sort()).to.deep.equal(['english/a/kept=1', 'other=2']);
    });
  });
});
