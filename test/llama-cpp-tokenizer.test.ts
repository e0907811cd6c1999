import { expect } from 'chai';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LlamaModel } from 'node-llama-cpp';
import type { BindingContext, PluginLogger } from 'lollms-host/plugin-api';
import binding from '../plugins/llama_cpp/index.js';
import type { LlamaCppModel } from '../plugins/llama_cpp/model.js';
import { MAIN_THREAD_TOKENIZE_LIMIT } from '../plugins/llama_cpp/tokenizer.js';
import { testEngine, tinyModel } from './helpers/models.js';

const silent: PluginLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

describe('llama_cpp tokenization off the main thread (issue 11 §3)', function () {
  this.timeout(120_000);
  const engine = testEngine();
  let dir: string;
  let model: LlamaCppModel;
  /** A plain node-llama-cpp load of the same file, tokenizing synchronously: the reference. */
  let reference: LlamaModel;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-tok-'));
    await copyFile(await tinyModel(), join(dir, 'tiny.gguf'));
    const ctx: BindingContext = { name: 'llama_cpp', folder: resolve('plugins/llama_cpp'), modelsDir: dir, settings: {}, logger: silent, getLlama: () => engine.getLlama(), gpu: false };
    model = (await binding.loadModel(ctx, { model: 'tiny.gguf', contextSize: 2048, sequences: 1, threads: 1 })) as LlamaCppModel;
    reference = await (await engine.getLlama()).loadModel({ modelPath: await tinyModel() });
  });

  after(async () => {
    await model?.dispose();
    await reference?.dispose();
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the very tokens the main thread gives, for long texts of every kind', async () => {
    const texts = [
      '1234567890'.repeat(2000), // byte-fallback digits: llama.cpp's quadratic case
      'hello world, the end. Über €5! 日本語 🙂\n\t'.repeat(300),
      ` leading spaces and </s> <s> special-looking text ${'<s>the end</s>'.repeat(500)}`,
    ];
    for (const text of texts) {
      expect(text.length).to.be.greaterThan(MAIN_THREAD_TOKENIZE_LIMIT);
      const before = model.tokenizerStats.offThread;
      expect(await model.tokenize(text)).to.deep.equal(reference.tokenize(text, false));
      expect(model.tokenizerStats.offThread).to.equal(before + 1);
    }
    // The prompt path parses special tokens; LlamaChat also asks for leading-space trimming.
    const tokenizer = (model as unknown as { tokenizer: { tokenize(t: string, s: boolean, trim?: boolean): Promise<number[]> } }).tokenizer;
    const special = texts[2]!;
    expect(await tokenizer.tokenize(special, true)).to.deep.equal(reference.tokenize(special, true));
    expect(await tokenizer.tokenize(special, true, true)).to.deep.equal(reference.tokenize(special, true, 'trimLeadingSpace'));
    expect(await tokenizer.tokenize(special, false, true)).to.deep.equal(reference.tokenize(special, false, 'trimLeadingSpace'));
    expect(model.tokenizerStats.longOnMainThread).to.equal(0);
  });

  it('keeps the event loop turning while a long text is tokenized', async () => {
    const order: string[] = [];
    const digits = '9'.repeat(60_000);
    const tokens = model.tokenize(digits).then((t) => { order.push('tokens'); return t; });
    setImmediate(() => order.push('immediate'));
    expect(await tokens).to.deep.equal(reference.tokenize(digits, false));
    // On the main thread the tokens would be ready before the loop turned once.
    expect(order).to.deep.equal(['immediate', 'tokens']);
  });

  it('tokenizes the prompts of generate and chat off the main thread too', async () => {
    const { offThread } = model.tokenizerStats;
    const prompt = 'hello world the end. '.repeat(200); // over the main-thread limit, within the context
    const generated = await model.generate(prompt, { seed: 1, maxTokens: 2 });
    expect(generated.timings.prompt_eval_count).to.equal(reference.tokenize(prompt, true).length + 1); // + BOS
    const chatted = await model.chat([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }], { seed: 1, maxTokens: 2 });
    expect(chatted.timings.prompt_eval_count).to.be.greaterThan(generated.timings.prompt_eval_count);
    expect(model.tokenizerStats.offThread).to.be.at.least(offThread + 2);
    // LlamaChat tokenized the rendered chat again itself: every long piece came from what was prepared.
    expect(model.tokenizerStats.longOnMainThread).to.equal(0);
  });
});
