/** First path segments the host answers itself (routes, socket.io, assets); a `static_dirs` prefix may not take them. */
const RESERVED = new Set(['socket.io', 'personalities', 'health', 'update_setting', 'status', 'v1', 'api', 'assets']);

/** Why `prefix` cannot be a `static_dirs` URL prefix, or undefined when it can (`/playground`, `/ui/chat`). */
export function staticPrefixProblem(prefix: string): string | undefined {
  if (!/^\/[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/.test(prefix)) return 'must look like /name or /name/sub (letters, digits, . _ ~ -)';
  const segments = prefix.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) return 'must not have . or .. segments';
  const first = segments[0]!;
  if (RESERVED.has(first) || first.startsWith('get_') || first.startsWith('list_')) return `"/${first}" is a route of the host`;
  return undefined;
}
