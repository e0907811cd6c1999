/**
 * Writes random-weight llama GGUF v3 models that the real llama.cpp engine loads (layout and metadata as in
 * the project's test-models notes). No model can be downloaded on the project's machines, so tests, the
 * default start and the benchmarks all run on these. The text they produce is gibberish by design.
 */
import { writeFileAtomic } from '../util/atomic-write.js';

/** Shape of a generated model. */
export interface TestModelShape {
  /** Embedding width (`llama.embedding_length`). */
  embd: number;
  /** Transformer blocks (`llama.block_count`). */
  layers: number;
  /** Attention heads; `embd` must be a multiple of it. */
  heads: number;
  /** Key/value heads (grouped-query attention); must divide `heads`. */
  kvHeads: number;
  /** Feed-forward width (`llama.feed_forward_length`). */
  ff: number;
  /** Trained context length written to the file (`llama.context_length`). */
  contextLength: number;
  /** Vocabulary size: at least the 334 base tokens; more are padded with generated pieces. */
  vocab: number;
  /** Storage of the weight matrices; norm vectors are always F32. */
  type: 'f32' | 'f16';
}

export type TestModelPreset = 'tiny' | 'bench';

/** Bumped whenever the bytes written for a given preset and seed change (caches key on it). */
export const TEST_MODEL_FORMAT = 1;

/**
 * The presets. `tiny` is the 64/2/4/128 model, with a 2048 context so that the host's default
 * `ctx_size` fits (a 256-token context cannot hold a chat session's default system prompt). `bench` decodes
 * in milliseconds per token on one core, like a small real model, so that host overhead is measured against
 * a realistic decode time.
 */
export const TEST_MODEL_PRESETS: Readonly<Record<TestModelPreset, Readonly<TestModelShape>>> = Object.freeze({
  tiny: Object.freeze({ embd: 64, layers: 2, heads: 4, kvHeads: 4, ff: 128, contextLength: 2048, vocab: 334, type: 'f32' as const }),
  bench: Object.freeze({ embd: 512, layers: 8, heads: 8, kvHeads: 8, ff: 1536, contextLength: 2048, vocab: 32000, type: 'f16' as const }),
});

/** Options of `writeTestModel`. */
export interface WriteTestModelOptions {
  /** Which shape to write. Default `tiny`. */
  preset?: TestModelPreset;
  /** Seed of the weights; the same seed always gives the same bytes. Default 1. */
  seed?: number;
  /**
   * Metadata keys to leave out, to make deliberately malformed files for tests (e.g.
   * `llama.attention.head_count`, whose absence aborts llama.cpp instead of throwing).
   */
  omitKeys?: readonly string[];
  /** `general.name`. Default `lollms-host random <preset>`. */
  name?: string;
  /** Changes to the preset's shape (e.g. `{ type: 'f16' }` for a tiny F16 model). */
  overrides?: Partial<TestModelShape>;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const GGUF_VERSION = 3;
const ALIGNMENT = 32;
const BASE_VOCAB = 334;

const enum ValueType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}

const enum TensorType {
  F32 = 0,
  F16 = 1,
}

const enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  BYTE = 6,
}

type MetaValue =
  | { type: ValueType.UINT32 | ValueType.INT32 | ValueType.FLOAT32; value: number }
  | { type: ValueType.BOOL; value: boolean }
  | { type: ValueType.STRING; value: string }
  | { type: ValueType.ARRAY; of: ValueType.STRING; value: readonly string[] }
  | { type: ValueType.ARRAY; of: ValueType.FLOAT32 | ValueType.INT32; value: ArrayLike<number> };

interface TensorSpec {
  name: string;
  /** ggml order: ne[0] is the contiguous row length. */
  ne: readonly number[];
  type: TensorType;
  /** `ones` for norm vectors, otherwise Gaussian with std 0.5 / sqrt(ne[0]). */
  init: 'ones' | 'gaussian';
}

const SPACE = '\u2581';

/** Word pieces of the base vocabulary; each is reachable by SentencePiece merges of pieces listed before it. */
const WORD_PIECES: readonly string[] = [
  'he', 'll', 'llo', `${SPACE}h`, `${SPACE}he`, `${SPACE}hello`,
  'or', 'ld', `${SPACE}w`, `${SPACE}wor`, `${SPACE}world`,
  'th', `${SPACE}t`, `${SPACE}th`, `${SPACE}the`, `${SPACE}to`,
  'in', `${SPACE}i`, `${SPACE}in`, `${SPACE}is`, `${SPACE}it`,
  'an', `${SPACE}a`, `${SPACE}an`, `${SPACE}and`, `${SPACE}at`,
  'er', 'on', `${SPACE}o`, `${SPACE}on`, `${SPACE}of`,
  'en', 'es', 're', 'ou', `${SPACE}y`, `${SPACE}you`,
  'ng', 'ing', `${SPACE}s`, `${SPACE}b`, `${SPACE}c`, `${SPACE}m`,
];

interface Vocabulary {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
}

/** The 334-token base vocabulary, padded with generated pieces up to `size`. */
function buildVocabulary(size: number): Vocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const add = (piece: string, score: number, type: TokenType) => {
    tokens.push(piece);
    scores.push(score);
    types.push(type);
  };
  add('<unk>', 0, TokenType.UNKNOWN);
  add('<s>', 0, TokenType.CONTROL);
  add('</s>', 0, TokenType.CONTROL);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, TokenType.BYTE);
  // Single characters score low so that word pieces (higher scores merge first) win.
  const singles = [SPACE, ...'abcdefghijklmnopqrstuvwxyz', ...".,!?'"];
  singles.forEach((piece, i) => add(piece, -1000 - i, TokenType.NORMAL));
  WORD_PIECES.forEach((piece, i) => add(piece, -1 - i * 0.01, TokenType.NORMAL));
  if (tokens.length !== BASE_VOCAB) throw new Error(`internal: base vocabulary has ${tokens.length} tokens, expected ${BASE_VOCAB}`);
  if (size < BASE_VOCAB) throw new RangeError(`vocabulary size ${size} is below the ${BASE_VOCAB} base tokens`);
  // Padding: "▁xy", "xyz", "▁xyz", ... all distinct and disjoint from the base pieces by construction order.
  const seen = new Set(tokens);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const padding = function* (): Generator<string> {
    for (let len = 2; ; len++) {
      const total = letters.length ** len;
      for (let n = 0; n < total; n++) {
        let piece = '';
        for (let k = 0, v = n; k < len; k++, v = Math.floor(v / letters.length)) piece = letters[v % letters.length]! + piece;
        yield `${SPACE}${piece}`;
        yield piece;
      }
    }
  };
  const pieces = padding();
  while (tokens.length < size) {
    const piece = pieces.next().value as string;
    if (seen.has(piece)) continue;
    seen.add(piece);
    add(piece, -2000 - tokens.length * 0.001, TokenType.NORMAL);
  }
  return { tokens, scores: Float32Array.from(scores), types: Int32Array.from(types) };
}

function tensorSpecs(shape: TestModelShape): TensorSpec[] {
  const matrix = shape.type === 'f16' ? TensorType.F16 : TensorType.F32;
  const headDim = shape.embd / shape.heads;
  const kvDim = headDim * shape.kvHeads;
  const specs: TensorSpec[] = [{ name: 'token_embd.weight', ne: [shape.embd, shape.vocab], type: matrix, init: 'gaussian' }];
  for (let i = 0; i < shape.layers; i++) {
    const p = `blk.${i}.`;
    specs.push(
      { name: `${p}attn_norm.weight`, ne: [shape.embd], type: TensorType.F32, init: 'ones' },
      { name: `${p}attn_q.weight`, ne: [shape.embd, shape.embd], type: matrix, init: 'gaussian' },
      { name: `${p}attn_k.weight`, ne: [shape.embd, kvDim], type: matrix, init: 'gaussian' },
      { name: `${p}attn_v.weight`, ne: [shape.embd, kvDim], type: matrix, init: 'gaussian' },
      { name: `${p}attn_output.weight`, ne: [shape.embd, shape.embd], type: matrix, init: 'gaussian' },
      { name: `${p}ffn_norm.weight`, ne: [shape.embd], type: TensorType.F32, init: 'ones' },
      { name: `${p}ffn_gate.weight`, ne: [shape.embd, shape.ff], type: matrix, init: 'gaussian' },
      { name: `${p}ffn_up.weight`, ne: [shape.embd, shape.ff], type: matrix, init: 'gaussian' },
      { name: `${p}ffn_down.weight`, ne: [shape.ff, shape.embd], type: matrix, init: 'gaussian' },
    );
  }
  specs.push(
    { name: 'output_norm.weight', ne: [shape.embd], type: TensorType.F32, init: 'ones' },
    { name: 'output.weight', ne: [shape.embd, shape.vocab], type: matrix, init: 'gaussian' },
  );
  return specs;
}

function metadata(shape: TestModelShape, vocab: Vocabulary, name: string): Array<[string, MetaValue]> {
  const u32 = (value: number): MetaValue => ({ type: ValueType.UINT32, value });
  const f32 = (value: number): MetaValue => ({ type: ValueType.FLOAT32, value });
  return [
    ['general.architecture', { type: ValueType.STRING, value: 'llama' }],
    ['general.name', { type: ValueType.STRING, value: name }],
    ['general.alignment', u32(ALIGNMENT)],
    ['general.file_type', u32(shape.type === 'f16' ? 1 : 0)],
    ['llama.context_length', u32(shape.contextLength)],
    ['llama.embedding_length', u32(shape.embd)],
    ['llama.block_count', u32(shape.layers)],
    ['llama.feed_forward_length', u32(shape.ff)],
    ['llama.attention.head_count', u32(shape.heads)],
    ['llama.attention.head_count_kv', u32(shape.kvHeads)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
    ['llama.rope.dimension_count', u32(shape.embd / shape.heads)],
    ['llama.rope.freq_base', f32(10000)],
    ['llama.vocab_size', u32(shape.vocab)],
    ['tokenizer.ggml.model', { type: ValueType.STRING, value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: ValueType.ARRAY, of: ValueType.STRING, value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: ValueType.ARRAY, of: ValueType.FLOAT32, value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: ValueType.ARRAY, of: ValueType.INT32, value: vocab.types }],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.add_bos_token', { type: ValueType.BOOL, value: true }],
    ['tokenizer.ggml.add_eos_token', { type: ValueType.BOOL, value: false }],
  ];
}

/** A growable little-endian byte writer for the header. */
class ByteWriter {
  private buffer = Buffer.alloc(1 << 16);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const next = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }
  u32(value: number): void {
    this.ensure(4);
    this.buffer.writeUInt32LE(value >>> 0, this.length);
    this.length += 4;
  }
  i32(value: number): void {
    this.ensure(4);
    this.buffer.writeInt32LE(value, this.length);
    this.length += 4;
  }
  f32(value: number): void {
    this.ensure(4);
    this.buffer.writeFloatLE(value, this.length);
    this.length += 4;
  }
  u64(value: number): void {
    this.ensure(8);
    this.buffer.writeBigUInt64LE(BigInt(value), this.length);
    this.length += 8;
  }
  u8(value: number): void {
    this.ensure(1);
    this.buffer[this.length++] = value;
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buffer, this.length);
    this.length += bytes.length;
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.ensure(pad);
    this.buffer.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

function writeValue(w: ByteWriter, v: MetaValue): void {
  w.u32(v.type);
  switch (v.type) {
    case ValueType.UINT32: w.u32(v.value); break;
    case ValueType.INT32: w.i32(v.value); break;
    case ValueType.FLOAT32: w.f32(v.value); break;
    case ValueType.BOOL: w.u8(v.value ? 1 : 0); break;
    case ValueType.STRING: w.string(v.value); break;
    case ValueType.ARRAY: {
      w.u32(v.of);
      w.u64(v.value.length);
      if (v.of === ValueType.STRING) for (const s of v.value as readonly string[]) w.string(s);
      else if (v.of === ValueType.FLOAT32) for (let i = 0; i < v.value.length; i++) w.f32((v.value as ArrayLike<number>)[i]!);
      else for (let i = 0; i < v.value.length; i++) w.i32((v.value as ArrayLike<number>)[i]!);
      break;
    }
  }
}

const elementCount = (ne: readonly number[]) => ne.reduce((a, b) => a * b, 1);
const bytesPerElement = (type: TensorType) => (type === TensorType.F16 ? 2 : 4);
const alignUp = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

/** mulberry32: a tiny seeded PRNG, so the same seed gives the same weights on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box-Muller, using both outputs of each pair. */
function gaussian(seed: number): (out: Float32Array, std: number) => void {
  const uniform = mulberry32(seed);
  let spare = 0;
  let hasSpare = false;
  return (out, std) => {
    for (let i = 0; i < out.length; i++) {
      if (hasSpare) {
        out[i] = spare * std;
        hasSpare = false;
        continue;
      }
      const u1 = 1 - uniform(); // (0, 1]: log stays finite
      const u2 = uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2) * std;
      spare = r * Math.sin(2 * Math.PI * u2);
      hasSpare = true;
    }
  };
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 → binary16 bits, round to nearest even (Node 24 has no Float16Array yet). */
function toHalfBits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry into the exponent is still correct
  return sign | h;
}

const CHUNK_ELEMENTS = 1 << 18;

/** The tensor data, chunk by chunk, so a 100 MB model never sits in memory whole. */
function* tensorData(specs: readonly TensorSpec[], seed: number): Generator<Uint8Array> {
  const sample = gaussian(seed);
  const scratch = new Float32Array(CHUNK_ELEMENTS);
  for (const spec of specs) {
    const total = elementCount(spec.ne);
    const std = 0.5 / Math.sqrt(spec.ne[0]!);
    for (let done = 0; done < total; done += CHUNK_ELEMENTS) {
      const n = Math.min(CHUNK_ELEMENTS, total - done);
      const values = scratch.subarray(0, n);
      if (spec.init === 'ones') values.fill(1);
      else sample(values, std);
      if (spec.type === TensorType.F32) {
        yield new Uint8Array(values.slice().buffer);
      } else {
        const half = new Uint16Array(n);
        for (let i = 0; i < n; i++) half[i] = toHalfBits(values[i]!);
        yield new Uint8Array(half.buffer);
      }
    }
    const size = total * bytesPerElement(spec.type);
    const pad = alignUp(size) - size;
    if (pad > 0) yield new Uint8Array(pad);
  }
}

/** The header (magic, counts, metadata, tensor infos), zero-padded to the alignment. */
function header(kv: ReadonlyArray<[string, MetaValue]>, specs: readonly TensorSpec[]): Uint8Array {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(specs.length);
  w.u64(kv.length);
  for (const [key, value] of kv) {
    w.string(key);
    writeValue(w, value);
  }
  let offset = 0;
  for (const spec of specs) {
    w.string(spec.name);
    w.u32(spec.ne.length);
    for (const n of spec.ne) w.u64(n);
    w.u32(spec.type);
    w.u64(offset);
    offset += alignUp(elementCount(spec.ne) * bytesPerElement(spec.type));
  }
  w.padTo(ALIGNMENT);
  return w.bytes();
}

function validateShape(shape: TestModelShape): void {
  for (const key of ['embd', 'layers', 'heads', 'kvHeads', 'ff', 'contextLength', 'vocab'] as const) {
    if (!Number.isInteger(shape[key]) || shape[key] <= 0) throw new RangeError(`${key} must be a positive integer (got ${shape[key]})`);
  }
  if (shape.embd % shape.heads !== 0) throw new RangeError(`embd ${shape.embd} is not a multiple of heads ${shape.heads}`);
  if (shape.heads % shape.kvHeads !== 0) throw new RangeError(`heads ${shape.heads} is not a multiple of kvHeads ${shape.kvHeads}`);
}

/**
 * Write a random-weight llama GGUF v3 model to `outPath`, atomically (temp file + rename). Deterministic:
 * the same preset, seed and options always give the same bytes.
 */
export async function writeTestModel(outPath: string, options: WriteTestModelOptions = {}): Promise<void> {
  const preset = options.preset ?? 'tiny';
  const base = TEST_MODEL_PRESETS[preset];
  if (!base) throw new RangeError(`unknown test model preset "${preset}" (expected tiny or bench)`);
  const shape: TestModelShape = { ...base, ...options.overrides };
  validateShape(shape);
  const seed = options.seed ?? 1;
  const omit = new Set(options.omitKeys ?? []);
  const vocab = buildVocabulary(shape.vocab);
  const specs = tensorSpecs(shape);
  const kv = metadata(shape, vocab, options.name ?? `lollms-host random ${preset}`).filter(([key]) => !omit.has(key));
  const head = header(kv, specs);
  await writeFileAtomic(outPath, (function* () {
    yield head;
    yield* tensorData(specs, seed);
  })());
}
