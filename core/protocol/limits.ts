/**
 * Size ceilings of the socket protocol, and the engine.io buffer they add up to. A field over its ceiling is a
 * clear validation error (`invalid payload ...: Too big`); a whole message over the buffer is refused by
 * engine.io before it is parsed (and the connection closed), so the buffer is derived from the largest message
 * a legitimate client can send, not the other way round.
 */

/**
 * The longest text one event may carry (a prompt, a tokenize or embed text), in UTF-16 code units: the ceiling of
 * the config keys `max_prompt_chars` and `max_tokenize_chars`, and what the payload schemas refuse outright.
 */
export const MAX_TEXT_CHARS = 1024 * 1024;
/** The most token ids one `detokenize` may carry: the ceiling of the config key `max_detokenize_ids`. */
export const MAX_TOKEN_IDS = 256 * 1024;

/**
 * The caps on texts and token lists that reach the tokenizer, from any client or processor (issue 11 §3). They
 * are config keys; a transport refuses a larger request before it is validated field by field or tokenized.
 */
export interface TextLimits {
  /**
   * The longest prompt of a generation (`max_prompt_chars`), in UTF-16 code units. Only the end of a prompt that
   * the model's context can hold is ever tokenized, so this bounds memory and parsing, not tokenizer time.
   */
  maxPromptChars: number;
  /**
   * The longest text tokenized in full (`max_tokenize_chars`): the `tokenize` and `embed` events, a processor's
   * `ctx.tokenize`. llama.cpp's tokenizer is superlinear on some inputs (on the test vocabulary 64 Ki digits
   * take about 0.5 s, 256 Ki digits 10 s, of the binding's tokenizer thread), which is why this is far below
   * `maxPromptChars`.
   */
  maxTokenizeChars: number;
  /** The most token ids of one `detokenize` event or `ctx.detokenize` (`max_detokenize_ids`). */
  maxTokenIds: number;
}

/** The defaults of the `TextLimits` config keys. */
export const DEFAULT_TEXT_LIMITS: Readonly<TextLimits> = Object.freeze({
  maxPromptChars: MAX_TEXT_CHARS,
  maxTokenizeChars: 64 * 1024,
  maxTokenIds: 64 * 1024,
});
/** Names, paths, file names, URLs, checksums and other short string fields. */
export const MAX_NAME_CHARS = 4096;
/** Echoed client values in replies and error messages are cut to this many characters. */
export const MAX_ECHO_CHARS = 256;

/** Worst-case JSON size of one UTF-16 code unit: a control character becomes `\u00XX`. */
const JSON_BYTES_PER_CHAR = 6;
/** Token ids are below 2^31: at most 10 digits and a comma. */
const JSON_BYTES_PER_TOKEN_ID = 11;
/** Event name, the other (bounded) fields, socket.io and engine.io framing. */
const ENVELOPE_BYTES = 64 * 1024;

/**
 * engine.io's `maxHttpBufferSize` (and the websocket `maxPayload`) for these caps: the JSON of the largest
 * legitimate event (a `generate_text` prompt of `maxPromptChars` control characters, or a `detokenize` list of
 * `maxTokenIds` ids), plus the envelope. Anything larger is not a request this host would accept anyway.
 */
export function socketBufferBytes(limits: Readonly<TextLimits>): number {
  const chars = Math.max(limits.maxPromptChars, limits.maxTokenizeChars);
  return Math.max(chars * JSON_BYTES_PER_CHAR, limits.maxTokenIds * JSON_BYTES_PER_TOKEN_ID) + ENVELOPE_BYTES;
}

/**
 * The buffer with the default caps: about 6 MiB, against socket.io's 1 MB default and the 64 MiB this host used
 * to allow. An HTTP transport bounds its bodies by the same figure (`socketBufferBytes` of its caps).
 */
export const SOCKET_BUFFER_BYTES = socketBufferBytes(DEFAULT_TEXT_LIMITS);

/** Why `payload` of `event` is over a cap, or undefined: checked before the payload is validated field by field. */
export function overCap(event: string, payload: unknown, limits: Readonly<TextLimits>): string | undefined {
  const prompt = payload !== null && typeof payload === 'object' ? (payload as { prompt?: unknown }).prompt : undefined;
  if (event === 'generate_text' && typeof prompt === 'string' && prompt.length > limits.maxPromptChars) {
    return `field "prompt": longer than max_prompt_chars (${limits.maxPromptChars} characters)`;
  }
  if ((event === 'tokenize' || event === 'embed') && typeof prompt === 'string' && prompt.length > limits.maxTokenizeChars) {
    return `field "prompt": longer than max_tokenize_chars (${limits.maxTokenizeChars} characters)`;
  }
  if (event === 'detokenize' && Array.isArray(prompt) && prompt.length > limits.maxTokenIds) {
    return `field "prompt": more than max_detokenize_ids (${limits.maxTokenIds} token ids)`;
  }
  return undefined;
}
