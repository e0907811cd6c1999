/**
 * Keeps grammar-constrained output valid UTF-8. llama.cpp's grammar engine decodes a token's bytes into code
 * points without checking their values, so byte tokens (SentencePiece `<0xNN>` byte fallback, GPT-2 style
 * byte-level pieces) can form overlong encodings, surrogates or code points past U+10FFFF that the grammar
 * counts as one character while the text decodes them as several U+FFFD; after a lead byte it even takes
 * any next byte as the continuation (`<0xD6><0x1B>` passes a JSON string rule as one character, and decodes
 * as U+FFFD and a raw control character, which breaks JSON). On the random test models 31 of 40
 * schema-constrained answers broke that way. The guard bans, at each step, the tokens that would continue
 * the output into an ill-formed sequence (Unicode Table 3-7): outside a character, the bytes that cannot start
 * one; inside a character, everything but its valid continuation bytes. The text then has exactly the
 * characters the grammar counted.
 */
import { TokenBias, type LlamaModel, type Token } from 'node-llama-cpp';

/** A UTF-8 decoder state: continuation bytes still expected, and the range the next one must be in. */
interface State {
  need: number;
  lo: number;
  hi: number;
}

const ACCEPT: State = Object.freeze({ need: 0, lo: 0, hi: 0 });
const CONT = (need: number): State => ({ need, lo: 0x80, hi: 0xbf });

/** The state after `byte`, or undefined when the byte makes the sequence ill-formed. */
function step(state: State, byte: number): State | undefined {
  if (state.need > 0) {
    if (byte < state.lo || byte > state.hi) return undefined;
    return state.need === 1 ? ACCEPT : CONT(state.need - 1);
  }
  if (byte <= 0x7f) return ACCEPT;
  if (byte >= 0xc2 && byte <= 0xdf) return CONT(1);
  if (byte === 0xe0) return { need: 2, lo: 0xa0, hi: 0xbf };
  if (byte === 0xed) return { need: 2, lo: 0x80, hi: 0x9f };
  if (byte >= 0xe1 && byte <= 0xef) return CONT(2);
  if (byte === 0xf0) return { need: 3, lo: 0x90, hi: 0xbf };
  if (byte >= 0xf1 && byte <= 0xf3) return CONT(3);
  if (byte === 0xf4) return { need: 3, lo: 0x80, hi: 0x8f };
  return undefined; // 0x80-0xC1, 0xF5-0xFF never start a character
}

/** The state after `bytes` from `state`, or undefined when they are ill-formed there. */
function run(state: State, bytes: Uint8Array): State | undefined {
  let current: State | undefined = state;
  for (const byte of bytes) {
    current = step(current, byte);
    if (!current) return undefined;
  }
  return current;
}

/** GPT-2's byte-level alphabet: the character each byte is written as in a byte-level BPE vocabulary. */
function gpt2ByteDecoder(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const decoder = new Map<string, number>();
  for (const b of printable) decoder.set(String.fromCharCode(b), b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) decoder.set(String.fromCharCode(256 + extra++), b);
  return decoder;
}

const SPM_BYTE = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * The tokens whose bytes are not whole characters on their own, with their bytes; empty for a vocabulary
 * whose layout is not known (the guard then does nothing).
 */
function fragmentsOf(model: LlamaModel): { fragments: Map<Token, Uint8Array>; vocabulary: number } {
  const tokenizer = (model.fileInfo.metadata as { tokenizer?: { ggml?: { model?: unknown; tokens?: readonly unknown[] } } }).tokenizer?.ggml;
  const tokens = tokenizer?.tokens;
  const fragments = new Map<Token, Uint8Array>();
  if (!Array.isArray(tokens)) return { fragments, vocabulary: 0 };
  if (tokenizer?.model === 'llama') {
    // SentencePiece: pieces are whole characters; only the byte-fallback tokens can be parts of one.
    tokens.forEach((piece, id) => {
      const byte = typeof piece === 'string' ? SPM_BYTE.exec(piece) : null;
      if (byte && Number.parseInt(byte[1]!, 16) >= 0x80) fragments.set(id as Token, Uint8Array.of(Number.parseInt(byte[1]!, 16)));
    });
  } else if (tokenizer?.model === 'gpt2') {
    const decoder = gpt2ByteDecoder();
    tokens.forEach((piece, id) => {
      if (typeof piece !== 'string') return;
      const bytes = new Uint8Array(piece.length);
      let n = 0;
      for (const ch of piece) {
        const b = decoder.get(ch);
        if (b === undefined) return; // not byte-level text (a special token)
        bytes[n++] = b;
      }
      const own = bytes.subarray(0, n);
      if (run(ACCEPT, own) !== ACCEPT) fragments.set(id as Token, own);
    });
  }
  return { fragments, vocabulary: tokens.length };
}

/** Inside a character the ban covers nearly the whole vocabulary: keep only the last few such biases. */
const MAX_INSIDE_BIASES = 2;

/** Per model: the token bias that keeps the next token from breaking UTF-8, given the tokens before it. */
export class Utf8Guard {
  /** Outside a character: one bias. Inside: a few, most recently used last. */
  private outside: TokenBias | undefined;
  private readonly inside = new Map<string, TokenBias>();

  private constructor(
    private readonly model: LlamaModel,
    private readonly fragments: Map<Token, Uint8Array>,
    private readonly vocabulary: number,
  ) {}

  /** The guard of `model`, or undefined when its vocabulary has no partial-character tokens to watch. */
  static for(model: LlamaModel): Utf8Guard | undefined {
    const { fragments, vocabulary } = fragmentsOf(model);
    return fragments.size === 0 ? undefined : new Utf8Guard(model, fragments, vocabulary);
  }

  /** The bias for the token after `previous` (the last few tokens of the context; 4 are enough). */
  biasAfter(previous: readonly Token[]): TokenBias {
    let state: State = ACCEPT;
    for (let i = Math.max(0, previous.length - 4); i < previous.length; i++) {
      const bytes = this.fragments.get(previous[i]!);
      // A whole-character token ends any sequence; a fragment that does not fit restarts decoding.
      state = bytes === undefined ? ACCEPT : (run(state, bytes) ?? run(ACCEPT, bytes) ?? ACCEPT);
    }
    if (state.need === 0) {
      if (!this.outside) {
        this.outside = new TokenBias(this.model.tokenizer);
        for (const [token, bytes] of this.fragments) if (run(ACCEPT, bytes) === undefined) this.outside.set(token, 'never');
      }
      return this.outside;
    }
    const key = `${state.need}:${state.lo}:${state.hi}`;
    let bias = this.inside.get(key);
    if (bias) {
      this.inside.delete(key);
    } else {
      bias = new TokenBias(this.model.tokenizer);
      for (let token = 0; token < this.vocabulary; token++) {
        const bytes = this.fragments.get(token as Token);
        if (bytes === undefined || run(state, bytes) === undefined) bias.set(token as Token, 'never');
      }
      if (this.inside.size >= MAX_INSIDE_BIASES) this.inside.delete(this.inside.keys().next().value!);
    }
    this.inside.set(key, bias);
    return bias;
  }
}
