import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Token } from 'node-llama-cpp';
import type { BindingContext, GenerateOptions, LoadedModel, PluginLogger } from 'lollms-host/plugin-api';
import { writeTestModel } from '../core/bindings/test-model.js';
import binding from '../plugins/llama_cpp/index.js';
import { TokenTextStream } from '../plugins/llama_cpp/token-text.js';
import { testEngine, tinyModel } from './helpers/models.js';

const silent: PluginLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Generate and collect the streamed chunks. */
async function generate(model: LoadedModel, prompt: string, options: GenerateOptions = {}) {
  const chunks: string[] = [];
  const result = await model.generate(prompt, { ...options, onChunk: (c) => chunks.push(c) });
  return { ...result, chunks };
}

/** Expect a promise to reject with an error carrying `code`; returns the error. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.have.property('code', code);
    return error as Error & { code?: string };
  }
  expect.fail(`expected a rejection with ${code}`);
}

const SAMPLING = { temperature: 0.9, topK: 40, topP: 0.95, repeatPenalty: 1.1, repeatLastN: 64 } as const;

describe('llama_cpp binding (real engine, tiny model)', function () {
  this.timeout(60_000);
  const engine = testEngine();
  let dir: string;
  let modelsDir: string;
  let ctx: BindingContext;
  let model: LoadedModel;
  const loaded: LoadedModel[] = [];

  const load = async (name: string, extra: Partial<Parameters<typeof binding.loadModel>[1]> = {}) => {
    const m = await binding.loadModel(ctx, { model: name, contextSize: 2048, sequences: 1, threads: 1, ...extra });
    loaded.push(m);
    return m;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-llama-'));
    modelsDir = join(dir, 'models');
    await mkdir(modelsDir);
    const tiny = await tinyModel();
    await copyFile(tiny, join(modelsDir, 'tiny.gguf'));
    await writeFile(join(modelsDir, 'elsewhere.reference'), `${tiny}\n`);
    await writeFile(join(modelsDir, 'dangling.reference'), join(dir, 'missing.gguf'));
    await writeFile(join(modelsDir, 'notes.txt'), 'not a model');
    ctx = {
      name: 'llama_cpp',
      folder: resolve('plugins/llama_cpp'),
      modelsDir,
      settings: {},
      logger: silent,
      getLlama: () => engine.getLlama(),
      gpu: false,
    };
    model = await load('tiny.gguf');
  });

  after(async () => {
    for (const m of loaded) await m.dispose();
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists .gguf files and .reference files, and nothing else', async () => {
    const tiny = await tinyModel();
    const list = await binding.listModels(ctx);
    expect(list.map((m) => m.name)).to.deep.equal(['dangling.reference', 'elsewhere.reference', 'tiny.gguf']);
    const byName = new Map(list.map((m) => [m.name, m]));
    expect(byName.get('tiny.gguf')).to.deep.include({ kind: 'file', path: join(modelsDir, 'tiny.gguf') });
    expect(byName.get('tiny.gguf')!.size).to.be.greaterThan(100_000);
    expect(byName.get('elsewhere.reference')).to.deep.include({ kind: 'reference', path: tiny });
    expect(byName.get('elsewhere.reference')!.size).to.equal(byName.get('tiny.gguf')!.size);
    expect(byName.get('dangling.reference')).to.deep.include({ kind: 'reference', size: 0 });
  });

  it('loads with progress from 0 to 1 and round-trips tokenize/detokenize', async () => {
    const progress: number[] = [];
    const m = await load('tiny.gguf', { onProgress: (p) => progress.push(p) });
    expect(progress[0]).to.equal(0);
    expect(progress.at(-1)).to.equal(1);
    expect(progress.every((p, i) => i === 0 || p > progress[i - 1]!)).to.equal(true);
    expect(m.contextSize).to.equal(2048);
    expect(m.name).to.equal('tiny.gguf');
    const text = 'hello world, the end.\nÜber €5!';
    const tokens = await m.tokenize!(text);
    expect(tokens.length).to.be.greaterThan(5);
    expect(await m.detokenize!(tokens)).to.equal(text);
    expect(await m.tokenize!('hello world')).to.have.length(2);
  });

  it('streams chunks that join into exactly the returned text, and honours maxTokens', async () => {
    const r = await generate(model, 'hello world', { ...SAMPLING, seed: 11, maxTokens: 40 });
    expect(r.stopReason).to.equal('maxTokens');
    expect(r.timings.eval_count).to.equal(40);
    expect(r.chunks.length).to.be.greaterThan(1);
    expect(r.chunks.join('')).to.equal(r.text);
    expect(r.chunks.every((c) => c.length > 0)).to.equal(true);
    expect(r.timings.prompt_eval_count).to.equal(3); // BOS, "▁hello", "▁world"
    expect(r.timings.prompt_eval_duration).to.be.greaterThan(0);
    expect(r.timings.eval_duration).to.be.greaterThan(0);

    const short = await generate(model, 'hello world', { ...SAMPLING, seed: 11, maxTokens: 5 });
    expect(short.timings.eval_count).to.equal(5);
    expect(short.stopReason).to.equal('maxTokens');
  });

  it('gives the same text for the same seed and sampling, another text for another seed', async () => {
    const a = await generate(model, 'the world', { ...SAMPLING, seed: 42, maxTokens: 48 });
    const b = await generate(model, 'the world', { ...SAMPLING, seed: 42, maxTokens: 48 });
    const c = await generate(model, 'the world', { ...SAMPLING, seed: 43, maxTokens: 48 });
    expect(a.text.length).to.be.greaterThan(0);
    expect(b.text).to.equal(a.text);
    expect(c.text).to.not.equal(a.text);
  });

  it('cuts a stop string exactly, including one that spans two tokens, case-insensitively', async () => {
    const options = { ...SAMPLING, seed: 5, maxTokens: 120 };
    const full = await generate(model, 'hello', options);
    // One chunk per token here (no stop filter): pick a stop string made of the end of one token and the
    // start of the next, at a boundary where it occurs for the first time.
    const lower = full.text.toLowerCase();
    let stop: string | undefined;
    let cut = -1;
    let offset = 0;
    for (let i = 0; i + 1 < full.chunks.length && stop === undefined; i++) {
      offset += full.chunks[i]!.length;
      const left = full.chunks[i]!.slice(-2);
      const right = full.chunks[i + 1]!.slice(0, 2);
      const candidate = left + right;
      if (i >= 2 && /^[a-z]+$/.test(candidate) && lower.indexOf(candidate) === offset - left.length) {
        stop = candidate;
        cut = offset - left.length;
      }
    }
    expect(stop, `no usable token boundary in ${JSON.stringify(full.chunks)}`).to.be.a('string');

    const again = await generate(model, 'hello', { ...options, stop: ['NEVER-IN-TEXT', stop!.toUpperCase()] });
    expect(again.stopReason).to.equal('stop');
    expect(again.text).to.equal(full.text.slice(0, cut));
    expect(again.chunks.join('')).to.equal(again.text);
  });

  it('aborts mid-stream within one token', async () => {
    // Abort from inside the stream: nothing more is emitted, the result says abort.
    const controller = new AbortController();
    const chunks: string[] = [];
    let afterAbort = 0;
    const r = await model.generate('hello world', {
      ...SAMPLING,
      seed: 3,
      maxTokens: 1000,
      signal: controller.signal,
      onChunk: (c) => {
        if (controller.signal.aborted) afterAbort++;
        chunks.push(c);
        if (chunks.length === 3) controller.abort();
      },
    });
    expect(r.stopReason).to.equal('abort');
    expect(afterAbort).to.equal(0);
    expect(r.text).to.equal(chunks.join(''));
    expect(r.timings.eval_count).to.be.at.most(3 + 3); // 3 chunks, plus at most 3 tokens held as partial UTF-8

    // Abort from outside the stream while tokens are being produced: at most one more token arrives.
    const timed = new AbortController();
    let seen = 0;
    let markStarted!: () => void;
    const started = new Promise<void>((r) => { markStarted = r; });
    const timedRun = model.generate('hello world', {
      ...SAMPLING,
      seed: 4,
      maxTokens: 1000,
      signal: timed.signal,
      onChunk: () => {
        seen++;
        if (seen === 2) markStarted();
      },
    });
    await started;
    const seenAtAbort = seen;
    timed.abort();
    const timedResult = await timedRun;
    expect(timedResult.stopReason).to.equal('abort');
    expect(seen - seenAtAbort).to.be.at.most(1);
    expect(timedResult.timings.eval_count).to.be.lessThan(1000);
  });

  it('serves concurrent generations from separate sequences', async () => {
    const m = await load('tiny.gguf', { sequences: 2 });
    const runs = await Promise.all([1, 2, 3].map((seed) => generate(m, 'hello world', { ...SAMPLING, seed, maxTokens: 24 })));
    for (const r of runs) {
      expect(r.chunks.join('')).to.equal(r.text);
      expect(r.timings.eval_count).to.be.at.most(24);
      expect(r.stopReason).to.be.oneOf(['maxTokens', 'eos']);
    }
    // Run alone, a seed gives the same text as it did concurrently on its own sequence.
    const alone = await generate(m, 'hello world', { ...SAMPLING, seed: 3, maxTokens: 24 });
    expect(alone.text).to.equal(runs[2]!.text);
  });

  it('keeps multi-byte characters whole when they come as several byte tokens', async () => {
    const llama = await engine.getLlama();
    const raw = await llama.loadModel({ modelPath: await tinyModel() });
    try {
      const byte = (b: number) => (3 + b) as Token; // <0x00> is token 3 in the test vocabulary
      const stream = new TokenTextStream(raw, raw.tokenize('hello'));
      const euro = [0xe2, 0x82, 0xac].map((b) => stream.push(byte(b)));
      expect(euro).to.deep.equal(['', '', '€']);
      expect(stream.push(raw.tokenize('world')[0]!)).to.equal(' world'); // keeps its leading space
      // An invalid byte is given up as U+FFFD once it cannot start a character any more.
      const bad = [0x80, 0x80, 0x80, 0x80, 0x41].map((b) => stream.push(byte(b)));
      expect(bad.join('')).to.equal('\uFFFD\uFFFD\uFFFD\uFFFDA');
      expect(stream.push(byte(0xe2)) + stream.flush()).to.equal('\uFFFD');
    } finally {
      await raw.dispose();
    }
  });

  it('loads a model through a .reference file', async () => {
    const m = await load('elsewhere.reference');
    expect(m.name).to.equal('elsewhere.reference');
    const r = await generate(m, 'hello', { ...SAMPLING, seed: 1, maxTokens: 4 });
    expect(r.timings.eval_count).to.be.within(1, 4);
    await rejectsWithCode(binding.loadModel(ctx, { model: 'dangling.reference', contextSize: 256, sequences: 1, threads: 1 }), 'LH_ERR_MODEL_NOT_FOUND');
  });

  it('refuses a GGUF without llama.attention.head_count (or feed_forward_length), and the process lives on', async () => {
    await writeTestModel(join(modelsDir, 'no-heads.gguf'), { omitKeys: ['llama.attention.head_count'] });
    await writeTestModel(join(modelsDir, 'no-ff.gguf'), { omitKeys: ['llama.feed_forward_length'] });
    const e1 = await rejectsWithCode(load('no-heads.gguf'), 'LH_ERR_MODEL_CORRUPT');
    expect(e1.message).to.contain('llama.attention.head_count');
    const e2 = await rejectsWithCode(load('no-ff.gguf'), 'LH_ERR_MODEL_CORRUPT');
    expect(e2.message).to.contain('llama.feed_forward_length');
    // Still alive, and the engine still works.
    expect((await generate(model, 'hello', { seed: 1, maxTokens: 2 })).timings.eval_count).to.be.within(1, 2);
  });

  it('refuses random bytes named .gguf, a truncated GGUF, unknown names and paths outside the models dir', async () => {
    await writeFile(join(modelsDir, 'random.gguf'), randomBytes(64 * 1024));
    const e = await rejectsWithCode(load('random.gguf'), 'LH_ERR_MODEL_CORRUPT');
    expect(e.message).to.contain('random.gguf');
    const bytes = await readFile(await tinyModel());
    await writeFile(join(modelsDir, 'truncated.gguf'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect((await rejectsWithCode(load('truncated.gguf'), 'LH_ERR_MODEL_CORRUPT')).message).to.contain('truncated');
    await rejectsWithCode(load('nope.gguf'), 'LH_ERR_MODEL_NOT_FOUND');
    await rejectsWithCode(load('../models/tiny.gguf'), 'LH_ERR_MODEL_NOT_FOUND');
    await rejectsWithCode(load('notes.txt'), 'LH_ERR_MODEL_NOT_FOUND');
  });

  it('reports a file that llama.cpp itself refuses as a load error', async () => {
    // Passes the JS checks, but llama.cpp requires the RMS norm epsilon and throws (no abort).
    await writeTestModel(join(modelsDir, 'no-eps.gguf'), { omitKeys: ['llama.attention.layer_norm_rms_epsilon'] });
    const e = await rejectsWithCode(load('no-eps.gguf'), 'LH_ERR_MODEL_LOAD');
    expect(e.message).to.contain('no-eps.gguf');
  });

  it('cancels a load whose signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await rejectsWithCode(load('tiny.gguf', { signal: controller.signal }), 'LH_ERR_CANCELLED');
  });

  it('embeds text into a vector of the model width', async () => {
    const a = await model.embed!('hello world');
    const b = await model.embed!('hello world');
    const c = await model.embed!('the end');
    expect(a).to.have.length(64);
    expect(a.every((x) => Number.isFinite(x))).to.equal(true);
    expect(b).to.deep.equal(a);
    expect(c).to.not.deep.equal(a);
  });

  it('ends running generations with abort on dispose, then refuses new ones', async () => {
    const m = await load('tiny.gguf');
    let chunks = 0;
    const running = m.generate('hello', { ...SAMPLING, seed: 2, maxTokens: 100_000, onChunk: () => { chunks++; } });
    while (chunks < 2) await new Promise((r) => setImmediate(r));
    await m.dispose();
    const r = await running;
    expect(r.stopReason).to.equal('abort');
    await rejectsWithCode(m.generate('hello'), 'LH_ERR_MODEL_DISPOSED');
  });
});
