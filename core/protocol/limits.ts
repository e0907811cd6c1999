/**
 * Size ceilings of the socket protocol, and the engine.io buffer they add up to. A field over its ceiling is a
 * clear validation error (`invalid payload ...: Too big`); a whole message over the buffer is refused by
 * engine.io before it is parsed (and the connection closed), so the buffer is derived from the largest message
 * a legitimate client can send, not the other way round.
 */

/** The longest text one event may carry (a prompt, a tokenize or embed text), in UTF-16 code units. */
export const MAX_TEXT_CHARS = 1024 * 1024;
/** The most token ids one `detokenize` may carry. */
export const MAX_TOKEN_IDS = 256 * 1024;
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
 * engine.io's `maxHttpBufferSize` (and the websocket `maxPayload`): the JSON of the largest legitimate event,
 * `generate_text` with a prompt of `MAX_TEXT_CHARS` control characters, plus the envelope. Anything larger is
 * not a request this host would accept anyway. About 6 MiB, against socket.io's 1 MB default and the 64 MiB
 * this host used to allow.
 */
export const SOCKET_BUFFER_BYTES = Math.max(MAX_TEXT_CHARS * JSON_BYTES_PER_CHAR, MAX_TOKEN_IDS * JSON_BYTES_PER_TOKEN_ID) + ENVELOPE_BYTES;
