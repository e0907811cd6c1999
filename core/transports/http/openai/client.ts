/**
 * Who an OpenAI API request comes from. The id is the generation service's client id, and with it the
 * binding's cache session (issue 11 §5): requests with the same id may reuse each other's cached prompt (a
 * conversation's next turn re-evaluates only its new messages), requests with different ids never do (one
 * user cannot time another's prompts through the cache).
 *
 * The id is `http:` and a hash of three things:
 * - the API key the request sent (one key today; separate keys would be separate tenants),
 * - the remote address of the connection (never `X-Forwarded-For`, which any client can write),
 * - the end user: the body's `user` field, or the `X-OpenWebUI-User-Id` header that Open WebUI sends with
 *   `ENABLE_FORWARD_USER_INFO_HEADERS=true`.
 *
 * So one user's requests share a session, and an application that serves many people from one address (Open
 * WebUI, LibreChat) keeps them apart as soon as it names its users. Without a user, everything from one
 * address is one client: the same machine, usually the same person. Nothing is stored per id.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ClientRef } from '../../../generation/types.js';
import { offeredKey } from '../../access.js';

/** The most characters of a user name that reach a log label. */
const LABEL_USER_CHARS = 64;

/** The end user a request names: `user`, else Open WebUI's forwarded user id. */
export function endUserOf(req: Pick<IncomingMessage, 'headers'>, user: string | undefined): string | undefined {
  if (user !== undefined && user !== '') return user;
  const header = req.headers['x-openwebui-user-id'];
  return typeof header === 'string' && header !== '' ? header.slice(0, 256) : undefined;
}

/** The client id of a key, an address and a user (exported for tests and tools that need to find a client's generations). */
export function httpClientId(key: string | undefined, address: string | undefined, user: string | undefined): string {
  const digest = createHash('sha256').update(`${key ?? ''}\0${address ?? ''}\0${user ?? ''}`).digest('base64url');
  return `http:${digest.slice(0, 22)}`;
}

/** The client of an API request (see the module comment). The label names the address and user, never the key. */
export function httpClient(req: IncomingMessage, user: string | undefined): ClientRef {
  const address = req.socket.remoteAddress;
  const endUser = endUserOf(req, user);
  const shown = endUser === undefined ? '' : ` user ${endUser.length > LABEL_USER_CHARS ? `${endUser.slice(0, LABEL_USER_CHARS)}…` : endUser}`;
  return { id: httpClientId(offeredKey(req), address, endUser), transport: 'http', label: `http ${address ?? '?'}${shown}` };
}
