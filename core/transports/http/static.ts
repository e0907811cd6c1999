/**
 * `static_dirs`: folders the operator serves read-only under a URL prefix, e.g. the original playground HTML
 * files that used to be opened from disk (`file://`, `Origin: null`). Served by the host, such a page has the
 * host's own origin, so it may use the socket without `null` in `allowed_origins`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { resolveInside } from '../../util/safe-path.js';

export { staticPrefixProblem } from '../../util/url-prefix.js';

/** Content types of the files a static page is made of; anything else is served as bytes to download. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
  '.webp': 'image/webp', '.ico': 'image/x-icon', '.woff': 'font/woff', '.woff2': 'font/woff2', '.wasm': 'application/wasm',
};

/**
 * Serve `GET`/`HEAD` requests under a `static_dirs` prefix. Returns false when no prefix matches (the caller
 * goes on with its routes). The path is resolved inside the folder (no `..`, no absolute parts, no symlink
 * leaving it); a folder serves its `index.html`; `/prefix` redirects to `/prefix/`. Every answer carries
 * `X-Content-Type-Options: nosniff`. Missing files are 404 without naming any server path.
 */
export async function serveStatic(dirs: Readonly<Record<string, string>>, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const match = Object.keys(dirs)
    .filter((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (match === undefined) return false;
  if (pathname === match) {
    res.writeHead(308, { location: `${match}/`, 'content-length': 0 });
    res.end();
    return true;
  }
  let relative: string;
  try {
    relative = decodeURIComponent(pathname.slice(match.length + 1));
  } catch {
    return notFound(res);
  }
  let file = await resolveInside(dirs[match]!, relative.replace(/\/$/, '')).catch(() => undefined);
  let info = file ? await stat(file).catch(() => undefined) : undefined;
  if (file && info?.isDirectory()) {
    file = await resolveInside(file, 'index.html').catch(() => undefined);
    info = file ? await stat(file).catch(() => undefined) : undefined;
  }
  if (!file || !info?.isFile()) return notFound(res);
  res.writeHead(200, {
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  // pipeline, not pipe: a read error ends this response, not the host.
  await pipeline(createReadStream(file), res);
  return true;
}

function notFound(res: ServerResponse): true {
  const body = JSON.stringify({ status: false, error: 'not found' });
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' });
  res.end(body);
  return true;
}
