import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, LlamaCompletion, readGgufFileInfo, type Llama } from 'node-llama-cpp';
import { TEST_MODEL_PRESETS, writeTestModel } from '../core/bindings/test-model.js';
import { testEngine, tinyModel } from './helpers/models.js';

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('GGUF test-model writer', function () {
  this.timeout(60_000);
  let dir: string;
  const engine = testEngine();
  let llama: Llama;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-gguf-'));
    llama = await engine.getLlama();
  });
  after(async () => {
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the same bytes for the same seed and different weights for another seed', async () => {
    const a = join(dir, 'a.gguf');
    const b = join(dir, 'b.gguf');
    const c = join(dir, 'c.gguf');
    await writeTestModel(a, { seed: 7 });
    await writeTestModel(b, { seed: 7 });
    await writeTestModel(c, { seed: 8 });
    expect(await sha256(a)).to.equal(await sha256(b));
    expect(await sha256(c)).to.not.equal(await sha256(a));
    expect((await stat(c)).size).to.equal((await stat(a)).size);
    // Written through a temp file + rename: nothing else is left in the folder.
    expect((await readdir(dir)).sort()).to.deep.equal(['a.gguf', 'b.gguf', 'c.gguf']);
  });

  it('writes a GGUF v3 header with the documented metadata and tensors', async () => {
    const path = join(dir, 'header.gguf');
    await writeTestModel(path, { seed: 1 });
    const raw = await readFile(path);
    expect(raw.subarray(0, 4).toString('latin1')).to.equal('GGUF');
    expect(raw.readUInt32LE(4)).to.equal(3);

    const info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false });
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    const shape = TEST_MODEL_PRESETS.tiny;
    expect(info.version).to.equal(3);
    expect(md['general']).to.include({ architecture: 'llama', alignment: 32, file_type: 0 });
    expect(md['llama']).to.deep.include({
      context_length: 2048,
      embedding_length: shape.embd,
      block_count: shape.layers,
      feed_forward_length: shape.ff,
      vocab_size: 334,
      rope: { dimension_count: shape.embd / shape.heads, freq_base: 10000 },
    });
    expect((md['llama']!['attention'] as Record<string, unknown>)['head_count']).to.equal(4);
    const tok = (md['tokenizer'] as Record<string, Record<string, unknown>>)['ggml']!;
    expect(tok['model']).to.equal('llama');
    const tokens = tok['tokens'] as string[];
    expect(tokens).to.have.length(334);
    expect(tokens.slice(0, 4)).to.deep.equal(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(tokens).to.include.members(['<0xFF>', '\u2581', '\u2581hello', '\u2581world']);
    const types = tok['token_type'] as number[];
    expect([types[0], types[1], types[2], types[3], types[259]]).to.deep.equal([2, 3, 3, 6, 1]);
    expect(tok).to.include({ bos_token_id: 1, eos_token_id: 2, unknown_token_id: 0, add_bos_token: true, add_eos_token: false });

    const tensors = info.tensorInfo ?? [];
    expect(tensors).to.have.length(2 + 9 * shape.layers + 1);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')?.dimensions.map(Number)).to.deep.equal([shape.embd, 334]);
    expect(byName.get('blk.1.ffn_down.weight')?.dimensions.map(Number)).to.deep.equal([shape.ff, shape.embd]);
    expect(tensors.every((t) => t.ggmlType === GgmlType.F32)).to.equal(true);
    expect(tensors.every((t) => Number(t.offset) % 32 === 0)).to.equal(true);
    // The last tensor ends exactly at the end of the file.
    const last = byName.get('output.weight')!;
    expect(Number(last.fileOffset) + shape.embd * 334 * 4).to.equal(raw.length);
  });

  it('leaves out the metadata keys it is asked to omit', async () => {
    const path = join(dir, 'omit.gguf');
    await writeTestModel(path, { omitKeys: ['llama.attention.head_count'] });
    const info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false });
    const attention = (info.metadata as unknown as Record<string, Record<string, Record<string, unknown>>>)['llama']!['attention']!;
    expect(attention).to.not.have.property('head_count');
    expect(attention).to.have.property('head_count_kv', 4);
  });

  it('writes F16 matrices with F32 norms that the engine evaluates', async () => {
    const path = join(dir, 'f16.gguf');
    await writeTestModel(path, { seed: 3, overrides: { type: 'f16' } });
    const info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false });
    const types = new Map((info.tensorInfo ?? []).map((t) => [t.name, t.ggmlType]));
    expect(types.get('blk.0.attn_q.weight')).to.equal(GgmlType.F16);
    expect(types.get('blk.0.attn_norm.weight')).to.equal(GgmlType.F32);
    expect((info.metadata.general as unknown as Record<string, unknown>)['file_type']).to.equal(1);
    const model = await llama.loadModel({ modelPath: path });
    try {
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const result = await completion.generateCompletionWithMeta('hello world', { maxTokens: 8, temperature: 0 });
      expect(result.metadata.stopReason).to.be.oneOf(['maxTokens', 'eogToken']);
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });

  it('makes a model the real engine loads, with a working SentencePiece vocabulary', async () => {
    const model = await llama.loadModel({ modelPath: await tinyModel() });
    try {
      expect(model.trainContextSize).to.equal(2048);
      expect(model.tokens.bos).to.equal(1);
      expect(model.tokens.eos).to.equal(2);
      // Word pieces merge: "hello world" is two tokens, and a newline is a byte token that decodes as "\n".
      const words = model.tokenize('hello world');
      expect(words).to.have.length(2);
      expect(model.detokenize(words)).to.equal('hello world');
      expect(model.detokenize(model.tokenize('a\nb'))).to.equal('a\nb');
      const text = 'the cat, hello? Ünïcode €';
      expect(model.detokenize(model.tokenize(text))).to.equal(text);
    } finally {
      await model.dispose();
    }
  });
});
