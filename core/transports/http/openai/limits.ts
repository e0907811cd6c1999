/**
 * Size bounds of the OpenAI-compatible API, derived from the socket protocol's (core/protocol/limits.ts): the
 * same texts travel here, so the same ceilings hold. Each request's fields are bounded further by its schema
 * (schemas.ts): texts by `MAX_TEXT_CHARS`, lists by a count.
 */
import { SOCKET_BUFFER_BYTES } from '../../../protocol/limits.js';

/**
 * The largest request body: the JSON of the largest text a socket message may carry (`MAX_TEXT_CHARS`
 * characters, each escaped) plus room for the other fields. About 6 MiB; larger is refused with 413
 * (`LH_ERR_BODY_TOO_LARGE`) before it is parsed.
 */
export const MAX_API_BODY_BYTES = SOCKET_BUFFER_BYTES;
