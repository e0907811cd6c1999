import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestHost, generate, next, request, type TestHost } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';
import type { StatusReport } from '../core/transports/http/status.js';

describe('GET /status', function () {
  this.timeout(60_000);
  let host: TestHost;
  let zoo: string;
  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-status-zoo-'));
    await writePersonality(zoo, 'english/dev/watched', 'name: Watched\n');
    host = await startTestHost({ config: { personalities_paths: [zoo], parallel: 2 } });
  });
  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  const status = async () => {
    const res = await fetch(`${host.url}/status`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.contain('application/json');
    return (await res.json()) as StatusReport;
  };

  it('shows the model, slots, queue and mounted personalities of an idle host', async () => {
    const report = await status();
    expect(report).to.include({ binding: 'llama_cpp', model: 'tiny-random-llama.gguf', loading: null, test_model: true });
    expect(report.version).to.match(/^\d+\.\d+\.\d+/);
    expect(report.slots).to.deep.equal({ total: 2, busy: 0 });
    expect(report.queue).to.deep.equal({ depth: 0 });
    expect(report.personalities).to.deep.equal([{ id: 0, path: 'english/generic/lollms', name: 'lollms' }]);
    expect(report.recent_generations).to.deep.equal([]);
    expect(report.reloads).to.deep.equal([]);
  });

  it('shows a running generation in the slots, then the finished ones with their tokens and speed', async () => {
    const socket = await host.connect();
    socket.emit('generate_text', { prompt: 'running', n_predicts: 1500 });
    await next(socket, 'text_chunk');
    expect((await status()).slots).to.deep.equal({ total: 2, busy: 1 });
    await request(socket, 'cancel_generation', {}, 'generation_canceled');
    await host.host.generation.whenIdle(socket.id!);
    const done = await generate(socket, { prompt: 'Hello', personality: 0, n_predicts: 6 });
    expect(done.error).to.equal(undefined);
    const report = await status();
    expect(report.slots.busy).to.equal(0);
    const [cancelled, finished] = report.recent_generations.slice(-2);
    expect(cancelled).to.include({ mode: 'raw', transport: 'socket', outcome: 'cancelled' });
    expect(finished).to.include({ mode: 'personality', personality: 'english/generic/lollms', transport: 'socket', outcome: 'done' });
    expect(finished!.prompt_tokens).to.be.greaterThan(0);
    expect(finished!.completion_tokens).to.be.within(1, 6);
    expect(finished!.tokens_per_s).to.be.a('number').greaterThan(0);
    expect(Date.parse(finished!.ended_at)).to.be.at.least(Date.parse(cancelled!.ended_at));
  });

  it('shows the last reloads, failed ones with their error, server paths hidden', async () => {
    const folder = join(zoo, 'english', 'dev', 'watched');
    await host.host.reloader.reloadPersonality(folder);
    await writeFile(join(folder, 'config.yaml'), 'name: [broken\n');
    await host.host.reloader.reloadPersonality(folder);
    const reloads = (await status()).reloads;
    expect(reloads.slice(-2).map(({ kind, name, ok }) => ({ kind, name, ok }))).to.deep.equal([
      { kind: 'personality', name: 'Watched', ok: true },
      { kind: 'personality', name: 'watched', ok: false },
    ]);
    expect(reloads.at(-1)!.error).to.be.a('string').and.not.contain(zoo);
  });

  it('follows the API-key rule of every route', async () => {
    const guarded = await startTestHost({ host: '0.0.0.0', config: { api_key: 'sesame', binding_name: null } });
    try {
      const url = `http://127.0.0.1:${guarded.port}/status`;
      expect((await fetch(url)).status).to.equal(401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer sesame' } });
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.include({ binding: null, model: null, test_model: false });
    } finally {
      await guarded.stop();
    }
  });
});
