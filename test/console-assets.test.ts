/**
 * The console's HTTP side (core/transports/http/console-assets.ts): the page at `/` with its server-rendered overview, the
 * security headers, the asset and docs routes, path containment, caching, and the API-key rule.
 */
import { expect } from 'chai';
import { createServer, get, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTestHost, type TestHost } from './helpers/host.js';
import { buildConsole } from './helpers/browser.js';
import { writePersonality } from './helpers/zoo.js';
import { CONSOLE_CSP, consolePageState, serveConsole, type ConsolePageState } from '../core/transports/http/console-assets.js';
import { PACKAGE_VERSION } from '../core/util/package-root.js';

/** The directives of a CSP header, by name. */
function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
}

describe('console assets over HTTP', function () {
  this.timeout(60_000);
  let host: TestHost;
  let zoo: string;

  before(async () => {
    await buildConsole();
    zoo = await mkdtemp(join(tmpdir(), 'lollms-console-zoo-'));
    await writePersonality(zoo, 'english/odd/markup', 'name: "<img src=x onerror=alert(1)>"\nversion: 1.0.0\n');
    host = await startTestHost({ config: { personalities_paths: [zoo], personalities: ['english/odd/markup'] } });
  });
  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  it('GET / is the console page, with the host overview rendered in it and security headers', async () => {
    const response = await fetch(`${host.url}/`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).to.equal('no-store');
    expect(response.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(response.headers.get('x-frame-options')).to.equal('DENY');
    expect(response.headers.get('referrer-policy')).to.equal('no-referrer');
    const csp = directives(response.headers.get('content-security-policy') ?? '');
    expect(csp.get('script-src')).to.deep.equal(["'self'"]);
    expect(csp.get('default-src')).to.deep.equal(["'none'"]);
    expect(csp.get('object-src')).to.deep.equal(["'none'"]);
    expect(csp.get('frame-ancestors')).to.deep.equal(["'none'"]);
    const html = await response.text();
    // No inline script: every <script> element loads a file of this host.
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts).to.have.length(1);
    expect(scripts[0]).to.match(/src="\/console\/console\.js"/);
    expect(html).to.contain(`<dd data-field="version">${PACKAGE_VERSION}</dd>`);
    expect(html).to.contain('<code>tiny-random-llama.gguf</code>');
    expect(html).to.contain('data-field="test-model-warning"');
    expect(html).to.contain('<a href="/docs/protocol.md">');
    expect(html).not.to.contain('<!--lollms:overview-->');
  });

  it('escapes what plugins name themselves', async () => {
    const html = await (await fetch(`${host.url}/`)).text();
    expect(html).to.contain('&#60;img src=x onerror=alert(1)&#62;');
    expect(html).not.to.contain('<img src=x');
  });

  it('serves the built assets with an ETag, and answers 304 when unchanged', async () => {
    const first = await fetch(`${host.url}/console/console.js`);
    expect(first.status).to.equal(200);
    expect(first.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
    expect(first.headers.get('cache-control')).to.equal('no-cache');
    expect(first.headers.get('content-security-policy')).to.equal(CONSOLE_CSP);
    const etag = first.headers.get('etag');
    expect(etag).to.match(/^"[\w-]+"$/);
    await first.arrayBuffer();
    const again = await fetch(`${host.url}/console/console.js`, { headers: { 'if-none-match': etag! } });
    expect(again.status).to.equal(304);
    expect((await fetch(`${host.url}/console/console.css`)).headers.get('content-type')).to.equal('text/css; charset=utf-8');
  });

  it('serves the docs as text, and nothing outside the asset and docs folders', async () => {
    const doc = await fetch(`${host.url}/docs/protocol.md`);
    expect(doc.status).to.equal(200);
    expect(doc.headers.get('content-type')).to.equal('text/plain; charset=utf-8');
    expect(await doc.text()).to.contain('# The LoLLMs wire protocol');
    for (const path of [
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/%2e%2e%2fpackage.json',
      '/console/..%2f..%2fpackage.json',
      '/console/.hidden',
      '/console/nope.js',
      '/console/index.html', // the page only exists with its overview, at /
      '/console/',
      '/docs/../package.json',
      '/docs/%2e%2e%2fREADME.md',
      '/docs/protocol.md%00.png',
      '/docs/configuration.ts',
    ]) {
      const response = await fetch(`${host.url}${path}`);
      const body = await response.text();
      expect(response.status, path).to.be.oneOf([404]);
      expect(body, path).not.to.contain('"name": "lollms-host"');
    }
  });

  it('serves its files whatever the Origin, but never with a CORS header; other routes still check the origin', async () => {
    const foreign = { origin: 'http://evil.example' };
    const script = await fetch(`${host.url}/console/console.js`, { headers: foreign });
    expect(script.status).to.equal(200);
    expect(script.headers.get('access-control-allow-origin')).to.equal(null);
    await script.arrayBuffer();
    const page = await fetch(`${host.url}/`, { headers: foreign });
    expect(page.headers.get('access-control-allow-origin')).to.equal(null);
    await page.arrayBuffer();
    expect((await fetch(`${host.url}/health`, { headers: foreign })).status).to.equal(403);
    // A rebinding host name is refused before anything else.
    const rebound = await new Promise<number>((resolve, reject) => {
      get(`${host.url}/`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(rebound).to.equal(403);
  });

  it('HEAD answers like GET without a body', async () => {
    const response = await fetch(`${host.url}/`, { method: 'HEAD' });
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-security-policy')).to.equal(CONSOLE_CSP);
    expect(await response.text()).to.equal('');
  });

  it('on a host that needs an API key, the page loads without it but shows the host state only with it', async () => {
    const guarded = await startTestHost({ host: '0.0.0.0', config: { api_key: 'console-key' } });
    try {
      const url = `http://127.0.0.1:${guarded.port}`;
      const anonymous = await fetch(`${url}/`);
      expect(anonymous.status).to.equal(200);
      const html = await anonymous.text();
      expect(html).to.contain('This host needs an API key');
      expect(html).not.to.contain('tiny-random-llama.gguf');
      expect((await fetch(`${url}/console/console.js`)).status).to.equal(200);
      expect((await fetch(`${url}/list_models`)).status).to.equal(401);
      const keyed = await (await fetch(`${url}/`, { headers: { authorization: 'Bearer console-key' } })).text();
      expect(keyed).to.contain('<code>tiny-random-llama.gguf</code>');
    } finally {
      await guarded.stop();
    }
  });

  it('without a built console, / still shows the overview and says how to build the rest', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'lollms-console-empty-'));
    await writeFile(join(empty, 'guide.md'), '# guide');
    const state: ConsolePageState = { version: '9.9.9', binding: 'llama_cpp', model: 'm.gguf', loading: null, testModel: false, personalities: [] };
    const server: Server = createServer((req, res) => {
      void serveConsole(req, res, new URL(req.url ?? '/', 'http://x'), () => state, { assets: empty, docs: empty }).then((handled) => {
        if (!handled) res.writeHead(418).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const response = await fetch(`${base}/`);
      expect(response.status).to.equal(200);
      const html = await response.text();
      expect(html).to.contain('9.9.9');
      expect(html).to.contain('<code>m.gguf</code>');
      expect(html).to.contain('npm run build');
      expect(html).not.to.match(/<script/);
      expect((await fetch(`${base}/console/console.js`)).status).to.equal(404);
      expect((await fetch(`${base}/health`)).status).to.equal(418); // not the console's: left to the caller
    } finally {
      server.close();
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("the overview names no server path: a personality's load error shows <path> in its place", () => {
    const state = consolePageState({
      bindings: { model: { name: 'm.gguf' }, activeBinding: 'llama_cpp' },
      personalities: {
        mounted: [
          { path: 'english/dev/broken', name: 'english/dev/broken', error: 'personality config /home/me/zoo/english/dev/broken/config.yaml: bad indentation' },
          { path: 'english/dev/fine', name: 'Fine' },
        ],
      },
    });
    expect(state.personalities).to.deep.equal([
      { id: 0, path: 'english/dev/broken', name: 'english/dev/broken', error: 'personality config <path>: bad indentation' },
      { id: 1, path: 'english/dev/fine', name: 'Fine' },
    ]);
  });
});
