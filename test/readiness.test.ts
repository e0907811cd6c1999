import { expect } from 'chai';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, type LlamaOptions } from 'node-llama-cpp';
import { Host } from '../core/host.js';
import { BindingManager } from '../core/bindings/manager.js';
import { createLlamaEngine } from '../core/bindings/engine.js';
import { BUILTIN_BINDINGS_PATH } from '../core/util/package-root.js';
import { connectTestClient, nextEvent, type TestSocket } from '../core/testing.js';
import { codedRejection } from './helpers/assert.js';
import { capturingLogger, logLineWhere } from './helpers/logger.js';
import { tinyModel } from './helpers/models.js';
import { barrier, generate, request } from './helpers/host.js';

/** A promise with its resolve, to hold a model load open until the test lets it go. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

type LoadGate = (model: string) => Promise<void>;
const gateHolder = globalThis as { __lollmsLoadGate?: LoadGate };

/**
 * The built-in llama_cpp binding copied as `llama_gated`, whose `loadModel` first awaits `globalThis.__lollmsLoadGate`:
 * the real engine, with a load that lasts exactly as long as the test wants.
 */
async function gatedBinding(root: string): Promise<string> {
  const folder = join(root, 'llama_gated');
  await cp(join(BUILTIN_BINDINGS_PATH, 'llama_cpp'), folder, { recursive: true });
  const entry = join(folder, 'index.ts');
  const source = await readFile(entry, 'utf8');
  const head = 'async function loadModel(ctx: BindingContext, request: LoadModelRequest): Promise<LlamaCppModel> {\n';
  expect(source).to.contain(head);
  await writeFile(entry, source.replace(head, `${head}  await (globalThis as { __lollmsLoadGate?: (m: string) => Promise<void> }).__lollmsLoadGate?.(request.model);\n`));
  return root;
}

async function health(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/health`);
  return { status: res.status, body: await res.json() };
}

describe('readiness: the start-up model loads before the host says ready (issues 13, 20)', function () {
  this.timeout(60_000);
  let dir: string;
  let host: Host | undefined;
  let sockets: TestSocket[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-ready-'));
    const bindings = await gatedBinding(join(dir, 'bindings'));
    await mkdir(join(dir, 'data', 'models', 'llama_gated'), { recursive: true });
    await copyFile(await tinyModel(), join(dir, 'data', 'models', 'llama_gated', 'tiny.gguf'));
    host = await Host.create({
      dataDir: join(dir, 'data'),
      env: {},
      port: 0,
      config: { n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent', parallel: 2, bindings_paths: [bindings], binding_name: 'llama_gated', model_name: 'tiny.gguf' },
    });
  });

  afterEach(async () => {
    delete gateHolder.__lollmsLoadGate;
    for (const socket of sockets) socket.close();
    sockets = [];
    await host?.close();
    host = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const connect = async () => {
    const socket = await connectTestClient(host!.url);
    sockets.push(socket);
    return socket;
  };

  it('/health says starting, then loading, then ok; requests sent meanwhile wait for the model and are served', async () => {
    const loadStarted = deferred<string>();
    const release = deferred();
    gateHolder.__lollmsLoadGate = async (model) => {
      loadStarted.resolve(model);
      await release.promise;
    };
    await host!.listen();
    // Listening, but the start-up model has not even begun: not ready.
    expect(await health(host!.url)).to.deep.equal({ status: 503, body: { status: 'starting', model: null, binding: null } });
    const initialised = host!.initialise();
    expect(await loadStarted.promise).to.equal('tiny.gguf');
    expect(await health(host!.url)).to.deep.equal({ status: 503, body: { status: 'loading', model: 'tiny.gguf', binding: 'llama_gated' } });

    const socket = await connect();
    const raw = generate(socket, { prompt: 'Hello', n_predicts: 4 });
    const turn = generate(await connect(), { prompt: 'Hi', personality: 0, n_predicts: 4 });
    const tokens = request(socket, 'tokenize', { prompt: 'Hello world' }, 'tokenized');
    // Both generations were taken in (their slots are decided on arrival) and wait for the model.
    await barrier(socket);
    await barrier(sockets[1]!);
    expect(host!.scheduler.snapshot().slots.busy).to.equal(2);

    release.resolve();
    await initialised;
    const [rawResult, turnResult, tokenized] = await Promise.all([raw, turn, tokens]);
    expect(rawResult.error, 'raw').to.equal(undefined);
    expect(rawResult.text).to.be.a('string');
    expect(turnResult.error, 'personality turn').to.equal(undefined);
    expect((tokenized as { tokens: number[] }).tokens.length).to.be.greaterThan(0);
    expect(await health(host!.url)).to.deep.equal({ status: 200, body: { status: 'ok', model: 'tiny.gguf', binding: 'llama_gated' } });
  });

  it('a request waits at most model_wait_ms, then fails with LH_ERR_MODEL_LOADING; the host still serves after the load', async () => {
    await host!.close();
    host = await Host.create({
      dataDir: join(dir, 'data'),
      env: {},
      port: 0,
      config: { n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent', bindings_paths: [join(dir, 'bindings')], binding_name: 'llama_gated', model_name: 'tiny.gguf', model_wait_ms: 50 },
    });
    const loadStarted = deferred<string>();
    const release = deferred();
    gateHolder.__lollmsLoadGate = async (model) => {
      loadStarted.resolve(model);
      await release.promise;
    };
    await host.listen();
    const initialised = host.initialise();
    await loadStarted.promise;
    const socket = await connect();
    const failed = nextEvent(socket, 'generation_error');
    socket.emit('generate_text', { prompt: 'too early', n_predicts: 2 });
    const error = await failed;
    expect(error.code).to.equal('LH_ERR_MODEL_LOADING');
    expect(error.error).to.equal('model "tiny.gguf" is not ready after 50 ms (model_wait_ms); retry later');
    release.resolve();
    await initialised;
    expect((await generate(socket, { prompt: 'now', n_predicts: 2 })).error).to.equal(undefined);
  });

  it('a start-up model that fails to load: /health is ready with no_model and why; requests fail at once with the reason', async () => {
    await writeFile(join(dir, 'data', 'models', 'llama_gated', 'broken.gguf'), Buffer.alloc(4096, 7));
    await host!.close();
    host = await Host.create({
      dataDir: join(dir, 'data'),
      env: {},
      port: 0,
      config: { n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent', bindings_paths: [join(dir, 'bindings')], binding_name: 'llama_gated', model_name: 'broken.gguf' },
    });
    await host.listen();
    await host.initialise();
    const ready = await health(host.url);
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.include({ status: 'no_model', model: null, binding: 'llama_gated' });
    expect((ready.body as { error: string }).error).to.contain('broken.gguf').and.not.contain(dir);
    const socket = await connect();
    const result = await generate(socket, { prompt: 'x', n_predicts: 2 });
    expect(result.error).to.match(/^No model loaded: select a binding and a model first \(select_binding, select_model\) \(the last load failed: .*broken\.gguf/);
  });
});

/**
 * node-llama-cpp's real `getLlama`, except that the first `failures` calls fail the way a binary test that never
 * came up does (issue 13).
 */
function failingFirst(failures: number): (options: LlamaOptions) => Promise<Llama> {
  let calls = 0;
  return async (options) => {
    if (++calls <= failures) throw Object.assign(new Error('NoBinaryFoundError'), { name: 'NoBinaryFoundError' });
    return getLlama(options);
  };
}

describe('a model whose load failed for want of the engine is loaded again (issue 13)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-engine-retry-'));
    await mkdir(join(dir, 'models', 'llama_cpp'), { recursive: true });
    await copyFile(await tinyModel(), join(dir, 'models', 'llama_cpp', 'tiny.gguf'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A manager on an engine whose first start fails after all its attempts. */
  function managerWithFailingEngine(options: { retryDelayMs: number; logger: ReturnType<typeof capturingLogger>['logger'] }) {
    const engine = createLlamaEngine({ gpu: false, threads: 1, startAttempts: 1, probeOnFailure: false, loadLlama: failingFirst(1) });
    const manager = new BindingManager({
      bindingsPaths: () => [BUILTIN_BINDINGS_PATH],
      modelsPath: join(dir, 'models'),
      dataDir: dir,
      cacheDir: join(dir, 'cache'),
      engine,
      gpu: false,
      loadDefaults: () => ({ contextSize: 512, sequences: 1, threads: 1 }),
      retryDelayMs: options.retryDelayMs,
      logger: options.logger,
    });
    return { manager, dispose: async () => (await manager.dispose(), await engine.dispose()) };
  }

  it('by the next request that needs a model', async () => {
    const { logger, lines } = capturingLogger();
    // A background retry far in the future: the request is what loads it.
    const { manager, dispose } = managerWithFailingEngine({ retryDelayMs: 300_000, logger });
    try {
      await manager.selectBinding('llama_cpp');
      expect((await codedRejection(manager.selectModel('tiny.gguf'))).code).to.equal('LH_ERR_ENGINE');
      expect(manager.readiness).to.deep.include({ state: 'no_model', model: null, loading: null });
      expect(manager.readiness.error).to.contain('cannot start the llama.cpp engine');
      expect(lines.map((l) => l.msg), JSON.stringify(lines)).to.include('model "tiny.gguf" is not loaded (the engine did not start); trying again in 300 s, or at the next request that needs a model');
      const lease = await manager.leaseModel();
      expect(lease.value.name).to.equal('tiny.gguf');
      lease.release();
      expect(manager.readiness).to.deep.equal({ state: 'ready', model: 'tiny.gguf', loading: null });
    } finally {
      await dispose();
    }
  });

  it('in the background, with backoff', async () => {
    // The binding logs "model loaded" once the background retry has loaded the model.
    const loaded = logLineWhere((l) => l.msg === 'model loaded');
    const { logger } = capturingLogger('info', loaded.onLine);
    const { manager, dispose } = managerWithFailingEngine({ retryDelayMs: 10, logger });
    try {
      await manager.selectBinding('llama_cpp');
      expect((await codedRejection(manager.selectModel('tiny.gguf'))).code).to.equal('LH_ERR_ENGINE');
      // No request asked for it: the background retry loaded it (a lease now waits for its swap, at most).
      await loaded.line;
      const lease = await manager.leaseModel();
      expect(lease.value.name).to.equal('tiny.gguf');
      lease.release();
    } finally {
      await dispose();
    }
  });
});

