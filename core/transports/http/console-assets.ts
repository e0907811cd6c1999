/**
 * The browser console (issue 16) over HTTP: the page at `/`, its built assets under `/console/`, and the user
 * docs under `/docs/`, all from the package itself (no CDN, no network at run time).
 *
 * - The page is `dist/console/index.html` (built by `npm run build`) with an overview of the host rendered into
 *   it on the server: version, binding, model, mounted personalities and links to the docs, so the page says what
 *   the host is doing before any script runs (and when the scripts are not built, a plain page says the same).
 * - Every response carries a Content-Security-Policy that forbids inline and foreign scripts, and the usual
 *   hardening headers. The page is never cached (it shows live state); assets are revalidated by ETag.
 * - Only plain file names inside the asset folders are served: no `..`, no encoded `/`, no dot files, no
 *   symlink out (`resolveInside`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../util/package-root.js';
import { redactPaths } from '../../util/redact-paths.js';
import { resolveInside } from '../../util/safe-path.js';
import { TEST_MODEL_NAME } from '../../bindings/test-model-name.js';

/** What the page shows before its scripts run. */
export interface ConsolePageState {
  version: string;
  binding: string | null;
  model: string | null;
  /** The model being loaded, if one is. */
  loading: string | null;
  /** The model is the random-weight test model. */
  testModel: boolean;
  personalities: Array<{ id: number; path: string; name: string; error?: string }>;
}

/** Where the console's files are. */
export interface ConsoleRoots {
  /** The built console (`dist/console`). */
  assets: string;
  /** The user docs (`docs`). */
  docs: string;
}

export const DEFAULT_CONSOLE_ROOTS: ConsoleRoots = {
  assets: join(PACKAGE_ROOT, 'dist', 'console'),
  docs: join(PACKAGE_ROOT, 'docs'),
};

/**
 * The page's policy. Scripts only from this host and never inline; no plugins, no <base>, no form posts, no
 * framing. `style-src 'unsafe-inline'` is there for `MSG_TYPE_UI` frames: a `srcdoc` frame inherits this policy,
 * and processors' HTML styles itself inline. The page itself never inserts untrusted HTML (text only), and
 * styles cannot run code.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), usb=(), payment=()',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  // Markdown is shown as text: browsers would download text/markdown instead of showing it.
  '.md': 'text/plain; charset=utf-8',
};

/** Docs are served only with these extensions (the pages and the screenshots they show). */
const DOC_EXTENSIONS = new Set(['.md', '.png']);

/** The user docs the overview links to, in reading order (only those present are linked). */
export const DOC_LINKS: ReadonlyArray<{ file: string; title: string }> = [
  { file: 'console.md', title: 'The console' },
  { file: 'protocol.md', title: 'Wire protocol' },
  { file: 'client.md', title: 'Typed client' },
  { file: 'configuration.md', title: 'Configuration' },
  { file: 'writing-a-personality.md', title: 'Writing a personality' },
  { file: 'writing-a-binding.md', title: 'Writing a binding' },
  { file: 'hot-reload.md', title: 'Hot reload' },
  { file: 'security.md', title: 'Security' },
];

/** Where the overview goes in the built `index.html`. */
export const OVERVIEW_MARKER = '<!--lollms:overview-->';

/**
 * What the page state is read from: the host's bindings and personalities (a narrow view of `Host`, so this module
 * does not depend on the composition root).
 */
export interface ConsoleStateSource {
  bindings: { readonly model?: { readonly name: string } | undefined; readonly activeBinding?: string | undefined; readonly loading?: string | undefined };
  personalities: { readonly mounted: ReadonlyArray<{ readonly path: string; readonly name: string; readonly error?: string | undefined }> };
}

/** The page state of a running host. */
export function consolePageState(host: ConsoleStateSource): ConsolePageState {
  const model = host.bindings.model?.name ?? null;
  return {
    version: PACKAGE_VERSION,
    binding: host.bindings.activeBinding ?? null,
    model,
    loading: host.bindings.loading ?? null,
    testModel: model === TEST_MODEL_NAME,
    // Every id, as GET /status and list_active_personalities list them (a removed one says so in its error). An
    // error may name server paths (a config file's): shown as `<path>`, as GET /status does.
    personalities: host.personalities.mounted.map((m, id) => ({ id, path: m.path, name: m.name, ...(m.error !== undefined ? { error: redactPaths(m.error) } : {}) })),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The overview as HTML (every value escaped). `state` is undefined when the request has no API key: the page
 * then asks for one instead of showing the host's state.
 */
export function renderOverview(state: ConsolePageState | undefined, docs: ReadonlyArray<{ file: string; title: string }>): string {
  const rows: string[] = [];
  if (!state) {
    rows.push('<p class="overview-locked">This host needs an API key: enter it in the console to see its state.</p>');
  } else {
    const model = state.loading
      ? `loading <code>${escapeHtml(state.loading)}</code>`
      : state.model
        ? `<code>${escapeHtml(state.model)}</code>`
        : 'none';
    rows.push('<dl class="overview-facts">');
    rows.push(`<dt>Version</dt><dd data-field="version">${escapeHtml(state.version)}</dd>`);
    rows.push(`<dt>Binding</dt><dd data-field="binding">${state.binding ? escapeHtml(state.binding) : 'none'}</dd>`);
    rows.push(`<dt>Model</dt><dd data-field="model">${model}</dd>`);
    rows.push('</dl>');
    if (state.testModel) {
      rows.push(
        `<p class="warning" data-field="test-model-warning" role="note"><code>${escapeHtml(TEST_MODEL_NAME)}</code> is a random-weight test model: its answers are gibberish. Install a real model in Models.</p>`,
      );
    }
    rows.push('<h3>Mounted personalities</h3>');
    if (state.personalities.length === 0) rows.push('<p data-field="personalities">none</p>');
    else {
      rows.push('<ul data-field="personalities">');
      for (const p of state.personalities) {
        const error = p.error ? ` <span class="error-text">(failed: ${escapeHtml(p.error)})</span>` : '';
        rows.push(`<li><span class="id">${p.id}</span> ${escapeHtml(p.name)} <code>${escapeHtml(p.path)}</code>${error}</li>`);
      }
      rows.push('</ul>');
    }
  }
  if (docs.length > 0) {
    rows.push('<h3>Docs</h3><ul class="doc-links">');
    for (const doc of docs) rows.push(`<li><a href="/docs/${encodeURIComponent(doc.file)}">${escapeHtml(doc.title)}</a></li>`);
    rows.push('</ul>');
  }
  return `<section id="overview" class="overview" aria-labelledby="overview-title"><h2 id="overview-title">Host</h2>${rows.join('')}</section>`;
}

/** The page when the console's scripts are not built: the overview alone, and how to build the rest. */
function fallbackPage(overview: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>lollms-host</title></head><body><h1>lollms-host</h1>${overview}<p>The console's scripts are not built: run <code>npm run build</code>, then reload this page.</p></body></html>`;
}

/** ETags of served files, by path, valid while size and mtime do not change. */
const etags = new Map<string, { key: string; etag: string }>();

async function etagOf(file: string, size: number, mtimeMs: number): Promise<string> {
  const key = `${size}:${mtimeMs}`;
  const known = etags.get(file);
  if (known?.key === key) return known.etag;
  const hash = createHash('sha256').update(await readFile(file)).digest('base64url').slice(0, 22);
  const etag = `"${hash}"`;
  if (etags.size > 1000) etags.clear();
  etags.set(file, { key, etag });
  return etag;
}

function notFound(res: ServerResponse): void {
  const body = JSON.stringify({ status: false, error: 'not found' });
  res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** The real path of a plain file name inside `root`, or undefined (never a path outside it). */
async function fileIn(root: string, encodedName: string, extensions?: ReadonlySet<string>): Promise<string | undefined> {
  let name: string;
  try {
    name = decodeURIComponent(encodedName);
  } catch {
    return undefined;
  }
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) return undefined; // one plain segment: no '/', no '..', no dot file
  const type = extname(name).toLowerCase();
  if (!CONTENT_TYPES[type] || (extensions && !extensions.has(type))) return undefined;
  const file = await resolveInside(root, name).catch(() => undefined);
  if (!file) return undefined;
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ? file : undefined;
}

async function sendFile(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
  const info = await stat(file);
  const etag = await etagOf(file, info.size, info.mtimeMs);
  const headers = {
    ...SECURITY_HEADERS,
    'content-type': CONTENT_TYPES[extname(file).toLowerCase()]!,
    'cache-control': 'no-cache',
    etag,
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': info.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // pipeline, not pipe: a read error must end this response, not the host.
  await pipeline(createReadStream(file), res);
}

async function existingDocs(root: string): Promise<Array<{ file: string; title: string }>> {
  const present = await Promise.all(DOC_LINKS.map(async (doc) => ((await fileIn(root, doc.file, DOC_EXTENSIONS)) ? doc : undefined)));
  return present.filter((doc) => doc !== undefined);
}

async function sendPage(req: IncomingMessage, res: ServerResponse, roots: ConsoleRoots, state: ConsolePageState | undefined): Promise<void> {
  const overview = renderOverview(state, await existingDocs(roots.docs));
  const template = await readFile(join(roots.assets, 'index.html'), 'utf8').catch(() => undefined);
  const html = template?.includes(OVERVIEW_MARKER) ? template.replace(OVERVIEW_MARKER, () => overview) : fallbackPage(overview);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : html);
}

/**
 * Serve the console's routes: `GET /` (and `/index.html`), `GET /console/<file>` and `GET /docs/<file>`, HEAD
 * too. Returns false for every other request, which the caller then routes. `state()` gives the page's overview;
 * undefined when the request may not see the host's state (no API key).
 */
export async function serveConsole(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  state: () => ConsolePageState | undefined,
  roots: ConsoleRoots = DEFAULT_CONSOLE_ROOTS,
): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = url.pathname;
  if (path === '/' || path === '/index.html') {
    await sendPage(req, res, roots, state());
    return true;
  }
  for (const [prefix, root, extensions] of [
    ['/console/', roots.assets, undefined],
    ['/docs/', roots.docs, DOC_EXTENSIONS],
  ] as const) {
    if (!path.startsWith(prefix)) continue;
    const name = path.slice(prefix.length);
    // index.html is only served as the page, with its overview filled in.
    const file = name === 'index.html' ? undefined : await fileIn(root, name, extensions);
    if (file) await sendFile(req, res, file);
    else notFound(res);
    return true;
  }
  return false;
}
