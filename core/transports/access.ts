import { timingSafeEqual, createHash } from 'node:crypto';
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
 * (any port). A request without an Origin header is not from a browser page and is allowed.
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

/** The config keys the access rules read. */
export interface AccessSettings {
  /** The bind address. */
  host: string;
  api_key: string | null;
  allowed_origins: readonly string[];
}

/** What a request shows of itself, whatever its transport. */
export interface AccessRequest {
  /** The `Host` header. */
  hostHeader: string | undefined;
  /** The `Origin` header (browsers). */
  origin: string | undefined;
  /** The API key offered (`Authorization: Bearer`, or socket.io's `auth.token`). */
  token: string | undefined;
}

/** Why a request is refused; each transport words it on its own wire. */
export type AccessRefusal = { reason: 'host-name'; value: string | undefined } | { reason: 'origin'; value: string } | { reason: 'key' };

/**
 * The access rules of every transport, in order: the Host header on a loopback bind (DNS rebinding), the
 * browser origin (`allowed_origins`), then the API key on a non-loopback bind (unless `checkKey` is false, as
 * for a CORS preflight).
 */
export function checkAccess(request: AccessRequest, settings: AccessSettings, options: { checkKey?: boolean } = {}): AccessRefusal | undefined {
  if (!isHostHeaderAllowed(request.hostHeader, settings.host)) return { reason: 'host-name', value: request.hostHeader };
  if (request.origin !== undefined && !isOriginAllowed(request.origin, settings.allowed_origins)) return { reason: 'origin', value: request.origin };
  if (options.checkKey !== false && !isLoopbackHost(settings.host) && settings.api_key && !keyMatches(request.token, settings.api_key)) return { reason: 'key' };
  return undefined;
}
