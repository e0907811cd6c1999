import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/** Whether `host` (a bind address or host name) only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::ffff:127.0.0.1';
}

/**
 * Whether a browser origin is allowed. Patterns are exact origins, `*` (any), or an origin ending in `:*`
 * (any port). A request without an Origin header is not from a browser page and is allowed. `null` (sandboxed
 * iframes, `file://` pages, some redirects) only matches an explicit `null` pattern or `*`: any web site can
 * make its requests carry `Origin: null`.
 */
export function isOriginAllowed(origin: string | undefined, patterns: readonly string[]): boolean {
  if (origin === undefined) return true;
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === origin) return true;
    if (pattern.endsWith(':*')) {
      const base = pattern.slice(0, -2);
      if (origin.startsWith(`${base}:`) && /^\d+$/.test(origin.slice(base.length + 1))) return true;
      if (origin === base) return true; // default port
    }
  }
  return false;
}

/** Compare an offered key with the configured one in constant time (hashing first equalises lengths). */
export function keyMatches(offered: string | undefined, expected: string): boolean {
  if (offered === undefined) return false;
  const a = createHash('sha256').update(offered).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return match?.[1]?.trim();
}

/**
 * Whether a request's `Host` header may reach a host bound to `bindHost`. On a loopback bind only loopback
 * names are accepted: a web page that rebinds its own domain's DNS to 127.0.0.1 (DNS rebinding) sends its
 * domain here and is refused. Non-loopback binds are guarded by the API key instead.
 */
export function isHostHeaderAllowed(hostHeader: string | undefined, bindHost: string): boolean {
  if (!isLoopbackHost(bindHost)) return true;
  if (hostHeader === undefined) return true; // HTTP/1.0 clients; browsers always send Host
  const name = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.replace(/:\d+$/, '');
  return isLoopbackHost(name) || name.toLowerCase() === bindHost.toLowerCase();
}

// ------------------------------------------------------------------------------------------ one request

/** What `checkAccess` needs of the config. */
export interface AccessPolicy {
  /** The bind address (`host`). */
  bindHost: string;
  /** `api_key`: when set, every request must present it, whatever the bind. */
  apiKey: string | null;
  /** `allowed_origins`. */
  allowedOrigins: readonly string[];
}

/** The parts of an HTTP request (or an engine.io handshake) that access depends on. */
export interface AccessRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

/** Why a request is refused: the HTTP status and a message that names what to change. */
export interface AccessRefusal {
  status: 401 | 403;
  message: string;
}

/** Options of `checkAccess`. */
export interface AccessCheck {
  /** Require the API key (when one is set). Off for the host's own static pages, which must load to ask for it. */
  key: boolean;
  /**
   * The request changes state or opens a session (POST, the socket.io handshake): a browser request that comes
   * from another site must carry an allowed Origin. Reads are left to CORS (the browser keeps the answer from the
   * foreign page).
   */
  acts: boolean;
}

/** Header values are strings, or arrays for repeated headers: a repeated security header is refused as a whole. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : '\0') : value;
}

/** The key a request offers: `Authorization: Bearer <key>`, or `?token=<key>` where a header cannot be set. */
export function offeredKey(req: AccessRequest): string | undefined {
  const header = bearerToken(single(req.headers.authorization));
  if (header !== undefined) return header;
  const query = (req.url ?? '').indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams((req.url ?? '').slice(query + 1)).get('token') ?? undefined;
}

/**
 * Whether `origin` is the host's own (a page the host served itself, e.g. from `static_dirs`): the same scheme,
 * name and port as the request's `Host`. Only meaningful once the Host header passed `isHostHeaderAllowed`.
 */
export function isSameOrigin(origin: string, hostHeader: string | undefined): boolean {
  return hostHeader !== undefined && origin.toLowerCase() === `http://${hostHeader.toLowerCase()}`;
}

/**
 * The access rules every request meets, HTTP routes and socket.io alike, in this order:
 * 1. DNS rebinding: on a loopback bind the Host header must be a loopback name;
 * 2. browser pages: an `Origin` must be the host's own or in `allowed_origins`; a request that acts (`acts`)
 *    and that the browser marks as coming from another site (`Sec-Fetch-Site`) without an Origin is refused
 *    too (an `<img>` or `<script>` pointed at the socket.io handshake);
 * 3. the API key, when one is set, on every bind (loopback is reachable by every local user and process).
 * Returns undefined when the request may go on.
 */
export function checkAccess(req: AccessRequest, policy: AccessPolicy, check: AccessCheck): AccessRefusal | undefined {
  const host = single(req.headers.host);
  if (!isHostHeaderAllowed(host, policy.bindHost)) {
    return { status: 403, message: `host name "${clip(host ?? '')}" is not allowed on a loopback bind (DNS rebinding protection)` };
  }
  const origin = single(req.headers.origin);
  if (origin !== undefined) {
    if (!isSameOrigin(origin, host) && !isOriginAllowed(origin, policy.allowedOrigins)) {
      return { status: 403, message: `origin "${clip(origin)}" is not allowed; add it to allowed_origins in the config` };
    }
  } else if (check.acts) {
    const site = single(req.headers['sec-fetch-site']);
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { status: 403, message: 'a request from another web site must carry an allowed Origin' };
    }
  }
  if (check.key && policy.apiKey && !keyMatches(offeredKey(req), policy.apiKey)) {
    return { status: 401, message: 'unauthorized: send the API key as "Authorization: Bearer <key>" (or ?token=<key> where no header can be set)' };
  }
  return undefined;
}

/** A client-supplied value shortened for a message. */
function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// ------------------------------------------------------------------------------------------ socket.io

/** engine.io's `allowRequest`: runs for every new session (handshake), before any request body is read. */
export function engineAllowRequest(policy: () => AccessPolicy): (req: AccessRequest, callback: (error: string | null | undefined, success: boolean) => void) => void {
  return (req, callback) => {
    const refusal = checkAccess(req, policy(), { key: true, acts: true });
    callback(refusal?.message ?? null, refusal === undefined);
  };
}

/** The response side engine.io hands its middlewares: a real response, or for a websocket upgrade a stand-in holding the socket. */
interface EngineResponse {
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(body?: string): unknown;
  socket?: { writable?: boolean; write(data: string): unknown; destroy(): unknown } | null;
}

/**
 * engine.io middleware, for every socket.io request before its body is read. A request of an existing session
 * (polling GETs and POSTs, the websocket upgrade) carries the session id, which proves the handshake passed the
 * key check; Host and Origin are checked again, so a page of another origin that learned an id still cannot
 * post into the session. A handshake gets the full check here too, so that a refused websocket handshake is
 * answered 401/403 with the reason (engine.io's own refusal of an upgrade is a bare 400), and `allowRequest`
 * checks it again.
 */
export function engineRequestGuard(policy: () => AccessPolicy) {
  return (req: AccessRequest, res: EngineResponse, next: (error?: Error) => void): void => {
    const handshake = !/[?&]sid=/.test(req.url ?? '');
    const refusal = checkAccess(req, policy(), { key: handshake, acts: true });
    if (!refusal) return next();
    const body = JSON.stringify({ code: 4, message: refusal.message });
    if (req.headers.upgrade !== undefined && res.socket) {
      if (res.socket.writable !== false) {
        const reason = refusal.status === 401 ? 'Unauthorized' : 'Forbidden';
        res.socket.write(`HTTP/1.1 ${refusal.status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
      res.socket.destroy();
    } else {
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(body);
    }
    next(new Error(refusal.message));
  };
}

/** The config keys the access rules read. */
export interface AccessSettings {
  /** The bind address. */
  host: string;
  api_key: string | null;
  allowed_origins: readonly string[];
}

/** The access policy of a config. */
export function accessPolicy(config: AccessSettings): AccessPolicy {
  return { bindHost: config.host, apiKey: config.api_key, allowedOrigins: config.allowed_origins };
}
