/** The wire in one place: event maps, payload types, validation. Shared by the server, the client and tests. */
export * from './events.js';
export type * from './payloads.js';
export { REQUEST_SCHEMAS, validateRequest, type RequestPayload, type Validated } from './validate.js';
