/**
 * The openai_remote binding and its endpoint pool, on real engines: three lollms-host processes serving the
 * OpenAI-compatible API on the tiny test model, on loopback ports (test/helpers/engines.ts). A front host
 * (in this process) serves them through the binding, over the socket and the API (official openai client).
 *
 * Engine b requires an API key (the front reads it from a secret file); engine c has no /tokenize route
 * (config tokenize_routes: false), like Ollama or LM Studio.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { main } from '../core/cli.js';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import YAML from 'yaml';
import { foldCase, type EndpointStatus, type LoadedModel } from '../plugin-api/index.js';
import { Endpoint, EndpointPool } from '../plugins/openai_remote/pool.js';
import type { EndpointSettings } from '../plugins/openai_remote/settings.js';
import { readRemoteSettings } from '../plugins/openai_remote/settings.js';
import { startEngine, type EngineProcess } from './helpers/engines.js';
import { generate, next, request, startTestHost, type TestHost } from './helpers/host.js';
import { capturingLogger } from './helpers/logger.js';

const FIXTURE_ZOO = fileURLToPath(new URL('./fixtures/personalities/', import.meta.url));
const ENGINE_MODEL = 'tiny-random-llama.gguf';
const MODEL = 'remote-tiny';
const ENGINE_B_KEY = 'sk-engine-b-7f3a9c1e5d';
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** A JSON schema whose grammar keeps the random model generating for hundreds of tokens (no early EOS). */
const LONG_ARRAY = { type: 'array', minItems: 300, maxItems: 300, items: { type: 'integer', minimum: 100000, maximum: 999999 } };

/** A loopback port with nothing listening. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A front host whose openai_remote binding has `settings`, loading `model`. */
async function startFront(settings: Record<string, unknown>, model = MODEL, logger?: ReturnType<typeof capturingLogger>['logger']): Promise<TestHost> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lollms-remote-front-'));
  await mkdir(join(dataDir, 'settings', 'bindings'), { recursive: true });
  await writeFile(join(dataDir, 'settings', 'bindings', 'openai_remote.yaml'), YAML.stringify({ probe_initial_ms: 100, probe_max_ms: 400, ...settings }));
  const host = await startTestHost({
    dataDir,
    ...(logger ? { logger } : {}),
    config: { binding_name: 'openai_remote', model_name: model, parallel: 12, seed: 1, personalities_paths: [FIXTURE_ZOO] },
  });
  const stop = host.stop.bind(host);
  return Object.assign(host, {
    async stop() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

function frontModel(front: TestHost): LoadedModel {
  return front.host.bindings.model!.model;
}

function endpoints(front: TestHost): EndpointStatus[] {
  return frontModel(front).status!().endpoints!;
}

function byName(front: TestHost, name: string): EndpointStatus {
  return endpoints(front).find((e) => e.name === name)!;
}

/** Requests each endpoint received, by name. */
function requestCounts(front: TestHost): Record<string, number> {
  return Object.fromEntries(endpoints(front).map((e) => [e.name, e.requests]));
}

/** Wait until `check` holds, looking again after each pause (the pool's probes run on timers). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `lollms_remote_endpoint_*` series of GET /metrics: metric name -> endpoint -> value. */
async function remoteMetrics(front: TestHost): Promise<Record<string, Record<string, number>>> {
  const text = await (await fetch(`${front.url}/metrics`)).text();
  const out: Record<string, Record<string, number>> = {};
  for (const m of text.matchAll(/^(lollms_remote_endpoint_\w+)\{endpoint="([^"]+)"\} (\S+)$/gm)) (out[m[1]!] ??= {})[m[2]!] = Number(m[3]);
  return out;
}

async function getJson(url: string, key?: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  return (await response.json()) as Record<string, unknown>;
}

async function postJson(url: string, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('openai_remote: a front host serving pools of OpenAI-compatible engines (real engine processes)', function () {
  this.timeout(120_000);
  let engines: Record<'a' | 'b' | 'c', EngineProcess>;
  let keyDir: string;
  let front: TestHost;
  let api: OpenAI;
  const captured = capturingLogger('debug');

  before(async () => {
    const [a, b, c] = await Promise.all([startEngine(), startEngine({ api_key: ENGINE_B_KEY }), startEngine({ tokenize_routes: false })]);
    engines = { a: a!, b: b!, c: c! };
    keyDir = await mkdtemp(join(tmpdir(), 'lollms-remote-key-'));
    await writeFile(join(keyDir, 'engine-b.key'), `${ENGINE_B_KEY}\n`, { mode: 0o600 });
    const map = { [MODEL]: ENGINE_MODEL };
    front = await startFront(
      {
        endpoints: [
          { name: 'a', url: engines.a.baseUrl, models: map, max_concurrent: 4 },
          { name: 'b', url: engines.b.baseUrl, models: map, max_concurrent: 4, api_key_file: join(keyDir, 'engine-b.key') },
          { name: 'c', url: engines.c.baseUrl, models: map, max_concurrent: 4 },
        ],
      },
      MODEL,
      captured.logger,
    );
    api = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  after(async () => {
    await front?.stop();
    await Promise.all(Object.values(engines ?? {}).map((e) => e.stop()));
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  describe('models, settings and secrets', () => {
    it('lists the engines\' models under the mapped name (not the engines\' personalities) and loads it on all three endpoints', async () => {
      const names = (await front.host.bindings.listModels()).map((m) => m.name);
      expect(names).to.deep.equal([MODEL]);
      expect(front.host.bindings.model?.name).to.equal(MODEL);
      expect(endpoints(front).map((e) => [e.name, e.healthy, e.limit])).to.deep.equal([['a', true, 4], ['b', true, 4], ['c', true, 4]]);
    });

    it('never shows the API key: not in GET /status, the binding card, the config nor any log line', async () => {
      const socket = await front.connect();
      const status = await (await fetch(`${front.url}/status`)).text();
      const bindings = await request(socket, 'list_available_bindings', undefined, 'bindings_list');
      const config = await (await fetch(`${front.url}/get_config`)).text();
      expect(JSON.parse(status).endpoints.map((e: { name: string }) => e.name)).to.deep.equal(['a', 'b', 'c']);
      for (const text of [status, JSON.stringify(bindings), config, JSON.stringify(captured.lines)]) expect(text).to.not.contain(ENGINE_B_KEY);
      expect(captured.lines.some((l) => l.msg === 'remote model loaded')).to.equal(true);
    });

    it('refuses a key written in the settings, credentials in a URL and a missing key variable, naming the setting (LH_ERR_REMOTE_CONFIG)', async () => {
      const refused = async (settings: Record<string, unknown>) => {
        try {
          await readRemoteSettings(settings, {});
        } catch (error) {
          expect((error as { code?: string }).code).to.equal('LH_ERR_REMOTE_CONFIG');
          return (error as Error).message;
        }
        expect.fail('settings accepted');
      };
      expect(await refused({ endpoints: [{ url: engines.a.baseUrl, api_key: 'sk-literal-123' }] })).to.contain('endpoints[0].api_key').and.not.contain('sk-literal-123');
      expect(await refused({ endpoints: [{ url: 'http://user:sk-secret-9@127.0.0.1:1/v1' }] })).to.contain('credentials').and.not.contain('sk-secret-9');
      expect(await refused({ endpoints: [{ url: engines.a.baseUrl, api_key_env: 'LH_TEST_NO_SUCH_KEY' }] })).to.contain('LH_TEST_NO_SUCH_KEY');
      expect(await refused({ endpoints: [{ url: 'ftp://127.0.0.1/v1' }] })).to.contain('http');
      expect(await refused({ endpoints: [{ url: engines.a.baseUrl, max_concurrent: 0 }] })).to.contain('max_concurrent');
    });
    it('a client can neither see nor set the operator-only settings (endpoint URLs, key files, timings): LH_ERR_SETTING_OPERATOR_ONLY, nothing saved', async () => {
      const socket = await front.connect();
      const shown = await request(socket, 'get_binding_settings', {}, 'binding_settings');
      expect(shown).to.deep.equal({ success: true, name: 'openai_remote', settings: {}, template: {} });
      const file = join(front.host.bindingSettings.folder, 'openai_remote.yaml');
      const before = await readFile(file, 'utf8');
      for (const settings of [
        { endpoints: [{ name: 'evil', url: 'http://169.254.169.254/v1', api_key_file: '/etc/shadow' }] },
        { endpoints: [{ url: engines.a.baseUrl, api_key_env: 'HOME' }] },
        { probe_initial_ms: 10 },
      ]) {
        const reply = (await request(socket, 'set_binding_settings', { settings }, 'binding_settings')) as { success: boolean; error: string; name: string };
        expect(reply).to.deep.include({ success: false });
        expect(reply.error).to.contain('operator');
        expect(reply.error).to.not.contain(front.host.bindingSettings.folder);
      }
      expect(before).to.contain(engines.a.baseUrl);
      expect(JSON.stringify(shown)).to.not.contain(engines.a.baseUrl).and.not.contain(keyDir);
      expect(await readFile(file, 'utf8')).to.equal(before);
      expect(endpoints(front).map((e) => e.name)).to.deep.equal(['a', 'b', 'c']);
    });
  });

  describe('generation through the front host', () => {
    it('socket: raw generation streams chunks that join into the answer', async () => {
      const socket = await front.connect();
      const result = await generate(socket, { prompt: 'Once upon a time', personality: -1, n_predicts: 12 });
      expect(result.error).to.equal(undefined);
      expect(result.chunks.length).to.be.greaterThan(0);
      expect(result.chunks.join('')).to.equal(result.text);
    });

    it('socket: personality mode (the mounted lollms personality) answers on the remote model', async () => {
      const socket = await front.connect();
      const result = await generate(socket, { prompt: 'Hello', personality: 0, n_predicts: 8 });
      expect(result.error).to.equal(undefined);
      expect(result.chunks.join('')).to.equal(result.text);
    });

    it('socket: tokenize and detokenize use an engine\'s /tokenize route and match the engine exactly', async () => {
      const socket = await front.connect();
      const direct = await postJson(`${engines.a.url}/tokenize`, { content: 'hello remote world' });
      expect(direct.status).to.equal(200);
      const tokenized = await request(socket, 'tokenize', { prompt: 'hello remote world' }, 'tokenized');
      expect(tokenized).to.deep.include({ tokens: direct.body['tokens'] });
      const detokenized = await request(socket, 'detokenize', { prompt: direct.body['tokens'] }, 'detokenized');
      expect(detokenized).to.deep.include({ text: 'hello remote world' });
    });

    it('the engines\' llama-server token routes: pieces, detokenize, refusals, and 404 where tokenize_routes is off', async () => {
      const tokens = (await postJson(`${engines.a.url}/tokenize`, { content: 'hello world' })).body['tokens'] as number[];
      const pieces = (await postJson(`${engines.a.url}/tokenize`, { content: 'hello world', with_pieces: true })).body['tokens'] as Array<{ id: number; piece: string }>;
      expect(pieces.map((p) => p.id)).to.deep.equal(tokens);
      expect(pieces.map((p) => p.piece).join('')).to.equal('hello world');
      expect((await postJson(`${engines.a.url}/detokenize`, { tokens })).body).to.deep.equal({ content: 'hello world' });
      const special = await postJson(`${engines.a.url}/tokenize`, { content: 'x', add_special: true });
      expect(special.status).to.equal(400);
      expect(special.body['error']).to.include({ code: 400, type: 'invalid_request_error' });
      expect((await postJson(`${engines.a.url}/detokenize`, { tokens: [-1] })).status).to.equal(400);
      expect((await postJson(`${engines.b.url}/tokenize`, { content: 'x' })).status).to.equal(401);
      expect((await postJson(`${engines.b.url}/tokenize`, { content: 'x' }, ENGINE_B_KEY)).status).to.equal(200);
      expect((await postJson(`${engines.c.url}/tokenize`, { content: 'x' })).status).to.equal(404);
    });

    it('socket and API: embeddings are the engine\'s own vectors', async () => {
      const direct = (await postJson(`${engines.a.baseUrl}/embeddings`, { model: ENGINE_MODEL, input: 'a vector please' })).body as { data: Array<{ embedding: number[] }> };
      const socket = await front.connect();
      const viaSocket = (await request(socket, 'embed', { prompt: 'a vector please' }, 'embeded')) as { text: number[] };
      const viaApi = await api.embeddings.create({ model: MODEL, input: 'a vector please' });
      expect(viaSocket.text).to.deep.equal(direct.data[0]!.embedding);
      expect(viaApi.data[0]!.embedding).to.deep.equal(direct.data[0]!.embedding);
    });

    it('API: a greedy completion through the front equals the same request sent to the engine directly (sampling passes through)', async () => {
      const body = { prompt: 'The quick brown fox', max_tokens: 16, temperature: 0, seed: 5 };
      const direct = await new OpenAI({ baseURL: engines.a.baseUrl, apiKey: 'unused', maxRetries: 0 }).completions.create({ model: ENGINE_MODEL, ...body });
      const viaFront = await api.completions.create({ model: MODEL, ...body });
      expect(viaFront.choices[0]!.text).to.equal(direct.choices[0]!.text);
      expect(viaFront.usage!.completion_tokens).to.equal(direct.usage!.completion_tokens);
    });

    it('API: streaming and non-streaming chat; the streamed deltas join into the answer', async () => {
      const answer = await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 12, temperature: 0 });
      const stream = await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 12, temperature: 0, stream: true });
      let content = '';
      let chunks = 0;
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content ?? '';
        if (piece !== '') chunks++;
        content += piece;
      }
      expect(chunks).to.be.greaterThan(1);
      expect(content).to.equal(answer.choices[0]!.message.content);
      expect(answer.usage!.completion_tokens).to.be.within(1, 12);
    });

    it('stop strings: matched case-insensitively, never emitted, the engine stopped at once', async () => {
      const model = frontModel(front);
      const plain = await model.generate('Stop strings test', { maxTokens: 24, temperature: 0 });
      expect(plain.text.length).to.be.greaterThan(8);
      const stop = plain.text.slice(4, 7).toUpperCase();
      const expected = plain.text.slice(0, foldCase(plain.text).indexOf(foldCase(stop)));
      const chunks: string[] = [];
      const stopped = await model.generate('Stop strings test', { maxTokens: 24, temperature: 0, stop: [stop], onChunk: (c) => chunks.push(c) });
      expect(stopped.text).to.equal(expected);
      expect(chunks.join('')).to.equal(expected);
    });

    it('a personality whose processor streams a workflow runs on the remote model (API)', async () => {
      const before = Object.values(requestCounts(front)).reduce((a, b) => a + b, 0);
      const answer = await api.chat.completions.create({ model: 'personality/english/openai/step_reporter', messages: [{ role: 'user', content: 'Hello there' }] });
      expect(answer.choices[0]!.message.content).to.match(/^Answer to "Hello there" after a discussion of \d+ characters\.$/);
      expect((answer.choices[0]!.message as { reasoning_content?: string }).reasoning_content).to.contain('Drafting');
      // Its ctx.generate went to an engine.
      expect(Object.values(requestCounts(front)).reduce((a, b) => a + b, 0)).to.be.greaterThan(before);
    });
  });

  describe('the pool', () => {
    it('spreads 12 concurrent requests over the three endpoints, never above an endpoint\'s limit', async () => {
      const before = requestCounts(front);
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, ...endpoints(front).map((e) => e.inFlight))), 1);
      try {
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, i) => api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `Request ${i}` }], max_tokens: 24, user: `spread-${i}` })),
        );
        expect(answers.every((a) => typeof a.choices[0]!.message.content === 'string')).to.equal(true);
      } finally {
        clearInterval(watch);
      }
      const after = requestCounts(front);
      const served = Object.keys(after).map((name) => after[name]! - before[name]!);
      expect(served.reduce((a, b) => a + b, 0)).to.equal(12);
      for (const count of served) expect(count).to.be.at.least(1);
      expect(peak).to.be.at.most(4);
      expect(endpoints(front).every((e) => e.inFlight === 0 && e.healthy)).to.equal(true);
    });

    it('GET /metrics: one series per endpoint from the pool\'s status (up, in flight during a stream, limit, latency, requests, failures)', async () => {
      const controller = new AbortController();
      let streaming!: () => void;
      const started = new Promise<void>((r) => (streaming = r));
      const running = frontModel(front).chat!([{ role: 'user', content: 'Count' }], {
        format: { type: 'json_schema', schema: LONG_ARRAY },
        maxTokens: 1800,
        session: 'metrics-stream',
        signal: controller.signal,
        onChunk: () => streaming(),
      });
      await started;
      const during = await remoteMetrics(front);
      controller.abort();
      expect((await running).stopReason).to.equal('abort');
      expect(Object.values(during['lollms_remote_endpoint_in_flight']!).reduce((a, b) => a + b, 0)).to.equal(1);
      await until('the aborted request has left its endpoint', () => endpoints(front).every((e) => e.inFlight === 0));

      const scraped = await remoteMetrics(front);
      const status = endpoints(front);
      const column = (read: (e: EndpointStatus) => number) => Object.fromEntries(status.map((e) => [e.name, read(e)]));
      expect(scraped['lollms_remote_endpoint_up']).to.deep.equal({ a: 1, b: 1, c: 1 });
      expect(scraped['lollms_remote_endpoint_limit']).to.deep.equal({ a: 4, b: 4, c: 4 });
      expect(scraped['lollms_remote_endpoint_in_flight']).to.deep.equal({ a: 0, b: 0, c: 0 });
      expect(scraped['lollms_remote_endpoint_requests_total']).to.deep.equal(column((e) => e.requests));
      expect(scraped['lollms_remote_endpoint_failures_total']).to.deep.equal(column((e) => e.failures));
      expect(scraped['lollms_remote_endpoint_latency_seconds']).to.deep.equal(column((e) => e.latencyMs! / 1000));
      expect(Object.values(scraped['lollms_remote_endpoint_requests_total']!).every((n) => n >= 1)).to.equal(true);
    });

    it('lollms-host ps shows each endpoint: name, healthy, in flight/limit, requests, failures, latency', async () => {
      let stdout = '';
      const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((stdout += chunk.toString()), done()) });
      expect(await main(['ps', '--url', front.url], { stdout: sink, stderr: sink })).to.equal(0);
      const lines = stdout.split('\n');
      expect(lines, stdout).to.include('endpoints       3 healthy of 3');
      for (const e of endpoints(front)) {
        const row = new RegExp(`^  ${e.name}\\s+${e.url.replace(/[.\/]/g, '\\$&')}\\s+yes\\s+0/4\\s+${e.requests}\\s+${e.failures}\\s+\\d+ ms\\s+-$`);
        expect(lines.some((l) => row.test(l)), stdout).to.equal(true);
      }
    });

    it('an abort reaches the engine: its generation ends cancelled and its slot is free', async () => {
      const since = new Date().toISOString();
      const controller = new AbortController();
      let endpoint: string | undefined;
      const result = await frontModel(front).chat!([{ role: 'user', content: 'Count' }], {
        format: { type: 'json_schema', schema: LONG_ARRAY },
        maxTokens: 1800,
        session: 'abort-me',
        signal: controller.signal,
        onChunk: () => {
          endpoint ??= endpoints(front).find((e) => e.inFlight === 1)?.name;
          controller.abort();
        },
      });
      expect(result.stopReason).to.equal('abort');
      expect(endpoint).to.be.a('string');
      const engine = engines[endpoint as 'a' | 'b' | 'c'];
      const key = endpoint === 'b' ? ENGINE_B_KEY : undefined;
      type EngineStatus = { slots: { busy: number }; recent_generations: Array<{ outcome: string; completion_tokens: number; ended_at: string }> };
      let ended: EngineStatus['recent_generations'] = [];
      await until('the engine ends the generation and frees its slot', async () => {
        const status = (await getJson(`${engine.url}/status`, key)) as EngineStatus;
        ended = status.recent_generations.filter((g) => g.ended_at >= since);
        return status.slots.busy === 0 && ended.length > 0;
      });
      expect(ended.map((g) => g.outcome), JSON.stringify(ended)).to.deep.equal(['cancelled']);
      expect(ended[0]!.completion_tokens).to.be.below(1800);
    });

    it('a request that fails before its first token is retried once on another endpoint; the failed endpoint is taken out', async () => {
      const first = requestCounts(front);
      await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stick' }], max_tokens: 4, user: 'sticky-user' });
      const second = requestCounts(front);
      const sticky = Object.keys(second).find((n) => second[n] !== first[n]) as 'a' | 'b' | 'c';
      // The session stays on its endpoint while that one is healthy.
      await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stick again' }], max_tokens: 4, user: 'sticky-user' });
      expect(requestCounts(front)[sticky]).to.equal(second[sticky]! + 1);
      await engines[sticky].kill();
      const failuresBefore = byName(front, sticky).failures;
      const answer = await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'and again' }], max_tokens: 4, user: 'sticky-user' });
      expect(answer.choices[0]!.message.content).to.be.a('string');
      const down = byName(front, sticky);
      expect(down.healthy).to.equal(false);
      expect(down.failures).to.equal(failuresBefore + 1);
      expect(down.lastError).to.match(/ECONNREFUSED|cannot be reached/);
      await engines[sticky].restart();
      await until('the restarted endpoint is back in the pool', () => byName(front, sticky).healthy);
    });

    it('an endpoint killed mid-stream: its request ends with LH_ERR_REMOTE_STREAM, new requests go to the others, and once it is back it is used again', async () => {
      let victim: 'a' | 'b' | 'c' | undefined;
      let killed: Promise<void> | undefined;
      const chunks: string[] = [];
      let failure: unknown;
      try {
        await frontModel(front).chat!([{ role: 'user', content: 'Count slowly' }], {
          format: { type: 'json_schema', schema: LONG_ARRAY },
          maxTokens: 1800,
          session: 'victim',
          onChunk: (c) => {
            chunks.push(c);
            if (victim) return;
            victim = endpoints(front).find((e) => e.inFlight === 1)!.name as 'a' | 'b' | 'c';
            killed = engines[victim].kill();
          },
        });
      } catch (error) {
        failure = error;
      }
      await killed;
      expect(victim).to.be.a('string');
      expect((failure as { code?: string }).code, String(failure)).to.equal('LH_ERR_REMOTE_STREAM');
      expect((failure as Error).message).to.contain(`endpoint ${victim}`);
      expect(chunks.length).to.be.greaterThan(0);
      expect(byName(front, victim!).healthy).to.equal(false);
      expect(await getJson(`${front.url}/health`)).to.deep.include({ status: 'ok', endpoints: { healthy: 2, total: 3 } });
      const metrics = await remoteMetrics(front);
      expect(metrics['lollms_remote_endpoint_up']![victim!]).to.equal(0);
      expect(metrics['lollms_remote_endpoint_failures_total']![victim!]).to.equal(byName(front, victim!).failures).and.at.least(1);

      // New requests (over the socket and the API) are served by the others.
      const before = requestCounts(front);
      const socket = await front.connect();
      for (let i = 0; i < 3; i++) {
        expect((await generate(socket, { prompt: `after ${i}`, personality: -1, n_predicts: 4 })).error).to.equal(undefined);
        await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `after ${i}` }], max_tokens: 4, user: `after-${i}` });
      }
      expect(requestCounts(front)[victim!]).to.equal(before[victim!]);

      // Its return: probed back in, then chosen again (it has served the fewest).
      await engines[victim!].restart();
      await until('the endpoint answers its probe again', () => byName(front, victim!).healthy);
      const back = requestCounts(front)[victim!]!;
      for (let i = 0; i < 6 && requestCounts(front)[victim!] === back; i++) {
        await api.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `back ${i}` }], max_tokens: 4, user: `back-${i}` });
      }
      expect(requestCounts(front)[victim!]).to.be.greaterThan(back);
      // GET /status shows the figures (snake_case).
      const status = (await getJson(`${front.url}/status`)) as { endpoints: Array<Record<string, unknown>> };
      expect(status.endpoints.find((e) => e['name'] === victim)).to.include({ healthy: true, in_flight: 0, limit: 4 });
      expect(status.endpoints.find((e) => e['name'] === victim)!['failures']).to.be.at.least(1);
    });
    it('API: an endpoint killed mid-stream reaches the OpenAI client as an error event in the stream (LH_ERR_REMOTE_STREAM), after the text already sent', async () => {
      let victim: 'a' | 'b' | 'c' | undefined;
      let killed: Promise<void> | undefined;
      const deltas: string[] = [];
      let failure: unknown;
      const stream = await api.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Count slowly' }],
        max_tokens: 1800,
        stream: true,
        user: 'api-victim',
        response_format: { type: 'json_schema', json_schema: { name: 'numbers', schema: LONG_ARRAY } },
      });
      try {
        for await (const chunk of stream) {
          const delta = chunk.choices[0]?.delta.content;
          if (delta) deltas.push(delta);
          if (victim || deltas.length === 0) continue;
          victim = endpoints(front).find((e) => e.inFlight === 1)!.name as 'a' | 'b' | 'c';
          killed = engines[victim].kill();
        }
      } catch (error) {
        failure = error;
      }
      await killed;
      expect(victim).to.be.a('string');
      expect(failure, 'the stream ended without an error').to.be.instanceOf(OpenAI.APIError);
      expect((failure as InstanceType<typeof OpenAI.APIError>).code).to.equal('LH_ERR_REMOTE_STREAM');
      expect((failure as Error).message).to.contain(`endpoint ${victim}`);
      expect(deltas.length).to.be.greaterThan(0);
      await engines[victim!].restart();
      await until('the endpoint answers its probe again', () => byName(front, victim!).healthy);
    });
  });

  describe('engines without a tokenizer route, and pools that are down', () => {
    it('an engine without /tokenize: the model has no tokenizer, tokenize answers a coded error, generation (personality mode too) still works', async () => {
      const dead = await deadPort();
      const noTokenizer = await startFront({ endpoints: [{ name: 'c', url: engines.c.baseUrl, models: { [MODEL]: ENGINE_MODEL } }, { name: 'gone', url: `http://127.0.0.1:${dead}/v1`, models: { [MODEL]: ENGINE_MODEL } }] });
      try {
        expect(frontModel(noTokenizer).tokenize).to.equal(undefined);
        const socket = await noTokenizer.connect();
        const tokenized = (await request(socket, 'tokenize', { prompt: 'hello' }, 'tokenized')) as { success?: boolean; error?: string };
        expect(tokenized.success).to.equal(false);
        expect(tokenized.error).to.contain('cannot tokenize');
        const personality = await generate(socket, { prompt: 'Hello', personality: 0, n_predicts: 8 });
        expect(personality.error).to.equal(undefined);
        expect(personality.text).to.be.a('string');
        // Our own /tokenize route answers llama-server's 501 for it.
        const route = await postJson(`${noTokenizer.url}/tokenize`, { content: 'x' });
        expect(route.status).to.equal(501);
        expect(route.body['error']).to.include({ code: 501, type: 'not_supported_error' });
      } finally {
        await noTokenizer.stop();
      }
    });

    it('every endpoint down: requests answer LH_ERR_REMOTE_UNAVAILABLE at once (socket and API), naming the failure; a wrong key says so and is never echoed', async () => {
      const dead = await deadPort();
      process.env['LH_TEST_WRONG_KEY'] = 'sk-wrong-key-4242';
      const down = await startFront({
        endpoints: [
          { name: 'gone', url: `http://127.0.0.1:${dead}/v1`, models: { [MODEL]: ENGINE_MODEL } },
          { name: 'b-wrong-key', url: engines.b.baseUrl, models: { [MODEL]: ENGINE_MODEL }, api_key_env: 'LH_TEST_WRONG_KEY' },
        ],
      });
      try {
        expect(endpoints(down).map((e) => e.healthy)).to.deep.equal([false, false]);
        const socket = await down.connect();
        const failed = next(socket, 'generation_error');
        socket.emit('generate_text', { prompt: 'Hello', personality: -1, n_predicts: 4 } as never);
        expect((await failed).code).to.equal('LH_ERR_REMOTE_UNAVAILABLE');
        const client = new OpenAI({ baseURL: `${down.url}/v1`, apiKey: 'unused', maxRetries: 0 });
        let status = 0;
        let body: { code?: string; message?: string } = {};
        try {
          await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
        } catch (error) {
          status = (error as InstanceType<typeof OpenAI.APIError>).status ?? 0;
          body = (error as InstanceType<typeof OpenAI.APIError>).error as typeof body;
        }
        expect(status).to.equal(503);
        expect(body.code).to.equal('LH_ERR_REMOTE_UNAVAILABLE');
        expect(body.message).to.contain('gone').and.contain('check its API key');
        expect(JSON.stringify(body) + JSON.stringify(await getJson(`${down.url}/status`))).to.not.contain('sk-wrong-key-4242');
      } finally {
        delete process.env['LH_TEST_WRONG_KEY'];
        await down.stop();
      }
    });
  });
});

describe('openai_remote: the pool\'s choice of endpoint', () => {
  const settings = (name: string, maxConcurrent: number): EndpointSettings => ({ name, url: `http://127.0.0.1:1/${name}/v1`, apiKey: undefined, maxConcurrent, models: {}, tokenize: 'off', contextSize: undefined });
  const pool = () => new EndpointPool({ model: 'm', endpoints: [new Endpoint(settings('a', 2), 'm'), new Endpoint(settings('b', 2), 'm')], probeInitialMs: 60_000, probeMaxMs: 60_000, probeTimeoutMs: 1000, logger: quiet });

  it('fewest in flight first, never above a limit; a request waits for a place and gets the one released', async () => {
    const p = pool();
    const leases = await Promise.all([p.acquire(undefined), p.acquire(undefined), p.acquire(undefined), p.acquire(undefined)]);
    expect(leases.map((l) => l.endpoint.name)).to.deep.equal(['a', 'b', 'a', 'b']);
    let fifth: string | undefined;
    const waiting = p.acquire(undefined).then((l) => (fifth = l.endpoint.name));
    await Promise.resolve();
    expect(fifth).to.equal(undefined);
    leases[1]!.release();
    await waiting;
    expect(fifth).to.equal('b');
    p.dispose();
  });

  it('a session stays on its endpoint; it moves when that endpoint is taken out; with none left it fails at once', async () => {
    const p = pool();
    const first = await p.acquire('s1');
    first.release();
    const other = await p.acquire('s2');
    expect(other.endpoint.name).to.not.equal(first.endpoint.name);
    other.release();
    for (let i = 0; i < 3; i++) {
      const again = await p.acquire('s1');
      expect(again.endpoint.name).to.equal(first.endpoint.name);
      again.release();
    }
    p.markFailed(first.endpoint, 'connection refused');
    const moved = await p.acquire('s1');
    expect(moved.endpoint.name).to.equal(other.endpoint.name);
    moved.release();
    p.markFailed(moved.endpoint, 'connection refused');
    try {
      await p.acquire('s1');
      expect.fail('acquired with every endpoint down');
    } catch (error) {
      expect((error as { code?: string }).code).to.equal('LH_ERR_REMOTE_UNAVAILABLE');
      expect((error as Error).message).to.contain('connection refused');
    }
    p.dispose();
  });

  it('a request waiting for a place fails at once when the last healthy endpoint is taken out, and an abort ends its wait', async () => {
    const p = new EndpointPool({ model: 'm', endpoints: [new Endpoint(settings('a', 1), 'm')], probeInitialMs: 60_000, probeMaxMs: 60_000, probeTimeoutMs: 1000, logger: quiet });
    const held = await p.acquire(undefined);
    const controller = new AbortController();
    const aborted = p.acquire(undefined, controller.signal).catch((e: { code?: string }) => e.code);
    const waiting = p.acquire(undefined).catch((e: { code?: string }) => e.code);
    controller.abort();
    expect(await aborted).to.equal('LH_ERR_CANCELLED');
    p.markFailed(held.endpoint, 'reset');
    expect(await waiting).to.equal('LH_ERR_REMOTE_UNAVAILABLE');
    held.release();
    p.dispose();
  });
});
