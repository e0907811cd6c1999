/**
 * Vet a GGUF file in JavaScript before llama.cpp sees it. Some malformed files make llama.cpp abort the
 * whole process (SIGABRT) instead of throwing, e.g. a llama model without `llama.feed_forward_length` or
 * `llama.attention.head_count`: those must become a clear error here.
 */
import { stat } from 'node:fs/promises';
import { readGgufFileInfo, type GgufFileInfo } from 'node-llama-cpp';
import { BindingError } from './errors.js';

/** Architectures without attention heads or a feed-forward width (state-space / RWKV models). */
const NO_ATTENTION = new Set(['mamba', 'mamba2', 'rwkv6', 'rwkv6qwen2', 'rwkv7', 'arwkv7']);
const NO_FEED_FORWARD = new Set(['mamba', 'mamba2']);
/** llama.cpp's LLAMA_MAX_LAYERS; more blocks trip an assertion. */
const MAX_LAYERS = 512;

/** What `checkGguf` learned about the file. */
export interface GgufSummary {
  /** `general.architecture`, e.g. `llama`, `qwen2`. */
  architecture: string;
  /** Trained context length. */
  contextLength: number;
  /** The parsed header, as node-llama-cpp reads it. */
  info: GgufFileInfo;
}

type Dict = Record<string, unknown>;

/** ggml [bytes per block, elements per block] of the common tensor types; others are not size-checked. */
const GGML_BLOCKS: ReadonlyMap<number, readonly [number, number]> = new Map([
  [0, [4, 1]], // F32
  [1, [2, 1]], // F16
  [2, [18, 32]], // Q4_0
  [3, [20, 32]], // Q4_1
  [6, [22, 32]], // Q5_0
  [7, [24, 32]], // Q5_1
  [8, [34, 32]], // Q8_0
  [10, [84, 256]], // Q2_K
  [11, [110, 256]], // Q3_K
  [12, [144, 256]], // Q4_K
  [13, [176, 256]], // Q5_K
  [14, [210, 256]], // Q6_K
  [30, [2, 1]], // BF16
]);

/** Bytes of a tensor's data, or undefined for a type not in the table. */
function tensorBytes(type: number, dims: readonly (number | bigint)[]): number | undefined {
  const block = GGML_BLOCKS.get(type);
  if (!block) return undefined;
  const [bytes, per] = block;
  const [first = 1, ...rest] = dims.map(Number);
  return Math.ceil(first / per) * bytes * rest.reduce((a, b) => a * b, 1);
}

function lookup(root: unknown, path: string): unknown {
  let node = root;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Dict)[part];
  }
  return node;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** A per-layer value may be one number or an array of them (some architectures vary it per layer). */
function positiveCountOrArray(v: unknown): boolean {
  if (isCount(v)) return true;
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && x >= 0) && v.some((x) => (x as number) > 0);
}

/**
 * Parse the header of `path` and check the metadata llama.cpp needs. Throws `LH_ERR_MODEL_NOT_FOUND` for a
 * missing file and `LH_ERR_MODEL_CORRUPT` for anything that is not a loadable GGUF.
 */
export async function checkGguf(path: string, name: string, signal?: AbortSignal): Promise<GgufSummary> {
  const st = await stat(path).catch(() => undefined);
  // Messages name the model, never the file's path (a client reads them) nor its bytes.
  if (!st?.isFile()) throw new BindingError('LH_ERR_MODEL_NOT_FOUND', `model ${name}: its file was not found`);
  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false, ...(signal ? { signal } : {}) });
  } catch (error) {
    if (signal?.aborted) throw new BindingError('LH_ERR_CANCELLED', `loading model ${name} was cancelled`, { cause: error });
    // The parser's words may quote the file's first bytes: they stay in `cause` (the host log), not the message.
    throw new BindingError('LH_ERR_MODEL_CORRUPT', `model ${name} is not a valid GGUF file (its header cannot be read)`, { cause: error });
  }
  const corrupt = (what: string) => new BindingError('LH_ERR_MODEL_CORRUPT', `model ${name} cannot be loaded: ${what}`);
  const md = info.metadata as unknown as Dict;
  const arch = lookup(md, 'general.architecture');
  if (typeof arch !== 'string' || arch === '') throw corrupt('metadata general.architecture is missing');
  const key = (k: string) => `${arch}.${k}`;
  const get = (k: string) => lookup(md, key(k));

  for (const k of ['context_length', 'embedding_length', 'block_count']) {
    if (!isCount(get(k))) throw corrupt(`metadata ${key(k)} is missing or not a positive integer`);
  }
  const layers = get('block_count') as number;
  if (layers > MAX_LAYERS) throw corrupt(`${key('block_count')} is ${layers}, above llama.cpp's limit of ${MAX_LAYERS}`);
  if (!NO_FEED_FORWARD.has(arch) && !positiveCountOrArray(get('feed_forward_length'))) {
    throw corrupt(`metadata ${key('feed_forward_length')} is missing or invalid`);
  }
  if (!NO_ATTENTION.has(arch)) {
    const heads = get('attention.head_count');
    if (!positiveCountOrArray(heads)) throw corrupt(`metadata ${key('attention.head_count')} is missing or invalid`);
    const kv = get('attention.head_count_kv');
    if (kv !== undefined && !(isCount(kv) || positiveCountOrArray(kv))) throw corrupt(`metadata ${key('attention.head_count_kv')} is invalid`);
    if (isCount(heads) && isCount(kv) && heads % kv !== 0) {
      throw corrupt(`${key('attention.head_count')} (${heads}) is not a multiple of ${key('attention.head_count_kv')} (${kv})`);
    }
  }
  const experts = get('expert_count');
  const used = get('expert_used_count');
  if (typeof experts === 'number' && typeof used === 'number' && used > experts) {
    throw corrupt(`${key('expert_used_count')} (${used}) exceeds ${key('expert_count')} (${experts})`);
  }
  const tokenizer = lookup(md, 'tokenizer.ggml.model');
  if (typeof tokenizer !== 'string') throw corrupt('metadata tokenizer.ggml.model is missing');
  if (tokenizer !== 'none') {
    const tokens = lookup(md, 'tokenizer.ggml.tokens');
    if (!Array.isArray(tokens) || tokens.length === 0) throw corrupt('metadata tokenizer.ggml.tokens is missing or empty');
  }
  const tensors = info.tensorInfo ?? [];
  if (tensors.length === 0) throw corrupt('the file has no tensors');
  // llama.cpp refuses a truncated file (an interrupted download) itself, but a failed load in node-llama-cpp
  // 3.21.1 leaks a handle that later makes `Llama.dispose()` hang: catch the common case here.
  for (const tensor of tensors) {
    if (tensor.filePart !== 1) continue; // other parts of a split model are other files
    const end = Number(tensor.fileOffset) + (tensorBytes(tensor.ggmlType, tensor.dimensions) ?? 0);
    if (end > st.size) {
      throw corrupt(`the file is truncated (${st.size} bytes, tensor ${tensor.name} ends at byte ${end}): an incomplete download?`);
    }
  }
  return { architecture: arch, contextLength: get('context_length') as number, info };
}
