import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestHost, TEST_MODEL_NAME, type TestHost } from '../core/testing.js';
import { locateRunningHost } from '../core/transports/running-host.js';
import { startHost, type HostHandle } from '../core/host.js';
import { pino } from 'pino';
import { cli, closedPort } from './helpers/cli.js';
import { formatStatus } from '../core/transports/http/ps-command.js';

const silentLogger = () => pino({ level: 'silent' });

describe('lollms-host ps (issue 13: a CLI operators recognise)', function () {
  this.timeout(60_000);

  describe('against a running host', () => {
    let host: TestHost;
    before(async () => {
      host = await startTestHost({ config: { personalities: ['english/generic/lollms'] } });
      const answer = await host.generate('Hello', { nPredicts: 4 });
      expect(answer.error).to.equal(undefined);
    });
    after(() => host?.close());

    it('shows the loaded model, slots, queue, mounted personalities and the last generation', async () => {
      const out = await cli(['ps', '--url', host.url]);
      expect(out.stderr).to.equal('');
      expect(out.code).to.equal(0);
      const lines = out.stdout.split('\n');
      expect(lines[0]).to.match(/^lollms-host \S+ at http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines).to.include('binding         llama_cpp');
      expect(lines).to.include(`model           ${TEST_MODEL_NAME}  (random-weight TEST model: gibberish)`);
      expect(lines).to.include('slots           0 busy of 1');
      expect(lines).to.include('queue           0 waiting');
      expect(lines.some((l) => /^ {2}0\s+lollms\s+english\/generic\/lollms\s+ok$/.test(l)), out.stdout).to.equal(true);
      // The one generation: raw mode over the socket, 4 answer tokens, done.
      const row = lines.find((l) => l.includes('raw (socket)'));
      expect(row, out.stdout).to.match(/raw \(socket\)\s+-\s+\d+\s+4\s+[\d.]+\s+done$/);
    });

    it('--json prints the GET /status body', async () => {
      const out = await cli(['ps', '--url', host.url, '--json']);
      expect(out.code).to.equal(0);
      const status = await (await fetch(`${host.url}/status`)).json();
      const printed = JSON.parse(out.stdout) as typeof status;
      expect(printed.model).to.equal(TEST_MODEL_NAME);
      expect(printed.personalities).to.deep.equal(status.personalities);
      expect(printed.recent_generations).to.deep.equal(status.recent_generations);
    });

  });

  describe('against a host with an API key', () => {
    let dir: string;
    let handle: HostHandle;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lollms-ps-key-'));
      // In the config file, where `ps --data-dir` finds it too.
      await writeFile(join(dir, 'config.yaml'), 'api_key: secret-key\n');
      handle = await startHost({ dataDir: dir, port: 0, env: {}, logger: silentLogger(), config: { watch: false, n_threads: 1, enable_gpu: false } });
    });
    after(async () => {
      await handle?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('without the key it says the host wants one, and how to give it (exit 1)', async () => {
      const out = await cli(['ps', '--url', handle.url, '--data-dir', join(dir, 'elsewhere')]);
      expect(out.code).to.equal(1);
      expect(out.stderr).to.contain('wants an API key').and.contain('--api-key');
      const keyed = await cli(['ps', '--url', handle.url, '--api-key', 'secret-key', '--data-dir', join(dir, 'elsewhere')]);
      expect(keyed.code, keyed.stderr).to.equal(0);
      expect(keyed.stdout).to.contain(`model           ${TEST_MODEL_NAME}`);
    });

    it('finds the host and its key from the data dir, as serve would', async () => {
      const out = await cli(['ps', '--data-dir', dir, '--port', String(handle.port)]);
      expect(out.stderr).to.equal('');
      expect(out.stdout).to.contain(`model           ${TEST_MODEL_NAME}`);
    });
  });

  it('shows the remote endpoints of a model served by them (name, healthy, in flight/limit, failures, latency), and no section without', () => {
    const base = { version: '1.0.0', binding: 'openai_remote', model: 'm', loading: null, test_model: false, slots: { total: 2, busy: 1 }, queue: { depth: 0 }, personalities: [], recent_generations: [], reloads: [] };
    const text = formatStatus('http://127.0.0.1:9600', {
      ...base,
      endpoints: [
        { name: 'gpu-a', url: 'http://10.0.0.5:8000/v1', healthy: true, in_flight: 3, limit: 8, requests: 120, failures: 0, latency_ms: 41.6 },
        { name: 'gpu-b', url: 'http://10.0.0.6:8000/v1', healthy: false, in_flight: 0, limit: 8, requests: 7, failures: 2, latency_ms: null, next_probe_at: '2026-01-01T00:00:04.000Z', last_error: 'cannot be reached (ECONNREFUSED)' },
      ],
    });
    const lines = text.split('\n');
    expect(lines).to.include('endpoints       1 healthy of 2');
    expect(lines.some((l) => /^ {2}NAME\s+URL\s+HEALTHY\s+IN FLIGHT\s+REQUESTS\s+FAILURES\s+LATENCY\s+LAST ERROR$/.test(l)), text).to.equal(true);
    expect(lines.some((l) => /^ {2}gpu-a\s+http:\/\/10\.0\.0\.5:8000\/v1\s+yes\s+3\/8\s+120\s+0\s+42 ms\s+-$/.test(l)), text).to.equal(true);
    expect(lines.some((l) => /^ {2}gpu-b\s+http:\/\/10\.0\.0\.6:8000\/v1\s+no \(probe 2026-01-01T00:00:04\.000Z\)\s+0\/8\s+7\s+2\s+-\s+cannot be reached \(ECONNREFUSED\)$/.test(l)), text).to.equal(true);
    expect(formatStatus('http://127.0.0.1:9600', base)).to.not.contain('endpoints');
  });

  it('with no host running it says none answers and how to start one (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lollms-ps-'));
    try {
      const port = await closedPort();
      const out = await cli(['ps', '--port', String(port), '--data-dir', dir]);
      expect(out.code).to.equal(1);
      expect(out.stderr).to.contain(`no lollms-host answers at http://127.0.0.1:${port}`).and.contain('lollms-host serve');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the address and key from the config: a wildcard bind is reached on loopback', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lollms-ps-'));
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'config.yaml'), 'host: 0.0.0.0\nport: 9712\napi_key: from-config\n');
      expect(await locateRunningHost({ dataDir: dir }, {})).to.deep.equal({ url: 'http://127.0.0.1:9712', apiKey: 'from-config' });
      expect(await locateRunningHost({ dataDir: dir, host: '::', port: '9713', apiKey: 'flag' }, {})).to.deep.equal({ url: 'http://[::1]:9713', apiKey: 'flag' });
      expect(await locateRunningHost({ dataDir: dir }, { LOLLMS_HOST_PORT: '9714' })).to.deep.include({ url: 'http://127.0.0.1:9714' });
      expect(await locateRunningHost({ dataDir: dir, url: 'http://box:9600/' }, {})).to.deep.equal({ url: 'http://box:9600', apiKey: 'from-config' });
      const bad = await cli(['ps', '--data-dir', dir, '--port', 'x']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.contain('--port: "x" is not a port number');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
