/**
 * Class 12: foreign web pages (issue 11 §1). Everything a browser can send from a page of another origin, sent
 * at the HTTP level as the browser would send it: `Origin` headers (`null` from a sandboxed iframe, a foreign
 * site), CORS preflights, "simple" requests that need no preflight (form posts, text/plain fetches), no-cors
 * subresource loads (`Sec-Fetch-Site: cross-site` without an Origin), websocket upgrades and polling posts into
 * a session. None of them may change the host's state. (The same proof in a real headless browser:
 * browser.test.ts.) Also: the host serves pages that were once opened from file:// (`static_dirs`) with its own
 * origin, and `/socket.io` without the slash is answered.
 */
import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectClient } from 'socket.io-client';
import { startTestHost, type TestHost } from '../../helpers/host.js';

const EVIL = 'https://evil.example';

/** A raw HTTP exchange: status, headers and body (never hangs: 10 s limit). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${options.method ?? 'GET'} ${url} within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A websocket upgrade of the socket.io handshake: the status the host answers (101 = accepted). */
function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/socket.io/?EIO=4&transport=websocket`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
      timeout: 10_000,
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer to the upgrade within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Open an engine.io polling session and connect the socket.io namespace, as socket.io-client does. */
async function openSession(url: string, headers: Record<string, string> = {}): Promise<string> {
  const open = await raw(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
  expect(open.status, open.body).to.equal(200);
  const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
  const connect = await raw(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers }, body: '40' });
  expect(connect.body).to.equal('ok');
  const ack = await raw(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { headers });
  expect(ack.body).to.match(/^40/);
  return sid;
}

/** Post one socket.io event into a polling session. */
function postEvent(url: string, sid: string, event: string, payload: unknown, headers: Record<string, string> = {}) {
  return raw(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers }, body: `42${JSON.stringify([event, payload])}` });
}

describe('security 12: foreign web pages', function () {
  this.timeout(60_000);
  let host: TestHost;
  let pages: string;

  before(async () => {
    pages = await mkdtemp(join(tmpdir(), 'lh-static-'));
    await mkdir(join(pages, 'playground', 'js'), { recursive: true });
    await writeFile(join(pages, 'playground', 'index.html'), '<!doctype html><title>playground</title>');
    await writeFile(join(pages, 'playground', 'js', 'app.js'), 'console.log("app")');
    await writeFile(join(pages, 'outside.txt'), 'NOT-SERVED');
    await symlink(join(pages, 'outside.txt'), join(pages, 'playground', 'link.txt'));
    host = await startTestHost({ config: { static_dirs: { '/playground': join(pages, 'playground') } } });
  });
  after(async () => {
    await host?.stop();
    await rm(pages, { recursive: true, force: true });
  });

  it('Origin null (a sandboxed iframe of any site) is refused by default, on HTTP, the handshake and the websocket', async () => {
    expect(host.host.config.values.allowed_origins).not.to.include('null');
    expect((await raw(`${host.url}/health`, { headers: { origin: 'null' } })).status).to.equal(403);
    const post = await raw(`${host.url}/update_setting`, { method: 'POST', headers: { origin: 'null', 'content-type': 'application/json' }, body: JSON.stringify({ setting_name: 'temperature', setting_value: 0.11 }) });
    expect(post.status).to.equal(403);
    expect(host.host.config.values.temperature).not.to.equal(0.11);
    expect((await raw(`${host.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'null' } })).status).to.equal(403);
    expect(await upgrade(host.url, { origin: 'null' })).to.equal(403);
  });

  it('allowing null is an explicit opt-in, and then works', async () => {
    const open = await startTestHost({ config: { allowed_origins: ['null'], binding_name: null } });
    try {
      expect((await raw(`${open.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'null' } })).status).to.equal(200);
    } finally {
      await open.stop();
    }
  });

  it('CORS preflights from a foreign origin are refused without an allow header', async () => {
    const preflight = await raw(`${host.url}/update_setting`, {
      method: 'OPTIONS',
      headers: { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).to.equal(403);
    expect(preflight.headers['access-control-allow-origin']).to.equal(undefined);
    const socketPreflight = await raw(`${host.url}/socket.io/?EIO=4&transport=polling`, { method: 'OPTIONS', headers: { origin: EVIL, 'access-control-request-method': 'GET' } });
    expect(socketPreflight.headers['access-control-allow-origin']).to.equal(undefined);
  });

  it('simple requests that need no preflight (text/plain, form posts, no Origin but Sec-Fetch-Site) cannot change a setting', async () => {
    const before = host.host.config.values.temperature;
    const body = JSON.stringify({ setting_name: 'temperature', setting_value: 0.22 });
    const attempts: Array<{ headers: Record<string, string>; body: string }> = [
      { headers: { origin: EVIL, 'content-type': 'text/plain;charset=UTF-8' }, body },
      { headers: { origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' }, body: 'setting_name=temperature&setting_value=0.22' },
      { headers: { origin: EVIL, 'content-type': 'multipart/form-data; boundary=x' }, body: `--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n${body}\r\n--x--` },
      // A browser that strips the Origin still marks the request as cross-site.
      { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'content-type': 'text/plain' }, body },
      { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'content-type': 'application/json' }, body },
    ];
    for (const attempt of attempts) {
      const res = await raw(`${host.url}/update_setting`, { method: 'POST', ...attempt });
      expect(res.status, JSON.stringify(attempt.headers)).to.equal(403);
    }
    // Without any browser marks, a non-JSON body is still refused before it is read.
    expect((await raw(`${host.url}/update_setting`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body })).status).to.equal(415);
    expect(host.host.config.values.temperature).to.equal(before);
    // The control: the same JSON request from a local tool works.
    const ok = await raw(`${host.url}/update_setting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(ok.status).to.equal(200);
    expect(host.host.config.values.temperature).to.equal(0.22);
  });

  it('the socket.io handshake refuses foreign pages over polling, websocket and no-cors loads', async () => {
    expect((await raw(`${host.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: EVIL } })).status).to.equal(403);
    expect(await upgrade(host.url, { origin: EVIL })).to.equal(403);
    // <script src> / <img src> pointed at the handshake: no Origin, but Sec-Fetch-Site says where it came from.
    const noCors = await raw(`${host.url}/socket.io/?EIO=4&transport=polling`, { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' } });
    expect(noCors.status).to.equal(403);
    // The controls: a local tool (no Origin) and a loopback page are accepted.
    expect(await upgrade(host.url, {})).to.equal(101);
    expect(await upgrade(host.url, { origin: 'http://localhost:5173' })).to.equal(101);
  });

  it('a foreign page that learned a session id still cannot post events into it', async () => {
    const sid = await openSession(host.url);
    const before = host.host.config.values.binding_name;
    const foreign = await postEvent(host.url, sid, 'select_binding', { binding_name: 'nope' }, { origin: EVIL });
    expect(foreign.status).to.equal(403);
    const nullOrigin = await postEvent(host.url, sid, 'select_binding', { binding_name: 'nope' }, { origin: 'null' });
    expect(nullOrigin.status).to.equal(403);
    const crossSite = await postEvent(host.url, sid, 'select_binding', { binding_name: 'nope' }, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).to.equal(403);
    expect(await upgrade(`${host.url}`, { origin: EVIL })).to.equal(403);
    expect(host.host.config.values.binding_name).to.equal(before);
    // The control: the session itself still works and answers.
    expect((await postEvent(host.url, sid, 'list_active_personalities', {})).body).to.equal('ok');
    const answer = await raw(`${host.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    expect(answer.body).to.contain('active_personalities_list');
  });

  it('static_dirs serves pages read-only with the host\'s origin, inside their folder only', async () => {
    const page = await raw(`${host.url}/playground/`);
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('playground');
    expect(page.headers['content-type']).to.contain('text/html');
    expect(page.headers['x-content-type-options']).to.equal('nosniff');
    expect((await raw(`${host.url}/playground/js/app.js`)).headers['content-type']).to.contain('javascript');
    expect((await raw(`${host.url}/playground`)).status).to.equal(308);
    for (const escape of ['/playground/..%2Foutside.txt', '/playground/%2E%2E/outside.txt', '/playground/link.txt', '/playground/js/..%2F..%2Foutside.txt', '/playground/%00']) {
      const res = await raw(`${host.url}${escape}`);
      expect(res.status, escape).to.equal(404);
      expect(res.body).not.to.contain('NOT-SERVED');
    }
    expect((await raw(`${host.url}/playground/index.html`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).to.equal(404);
    // A page served from the host has the host's own origin: it may connect without any allowed_origins entry.
    const strict = await startTestHost({ config: { allowed_origins: [], binding_name: null, static_dirs: { '/playground': join(pages, 'playground') } } });
    try {
      const own = connectClient(strict.url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: strict.url } });
      await new Promise<void>((resolve, reject) => {
        own.once('connect', () => resolve());
        own.once('connect_error', reject);
      });
      own.close();
      expect(await upgrade(strict.url, { origin: 'http://localhost:1' })).to.equal(403);
    } finally {
      await strict.stop();
    }
  });

  it('a static_dirs prefix may not shadow the host\'s routes', async () => {
    for (const prefix of ['/socket.io', '/personalities', '/health', '/get_config', '/list_x', '/', 'playground', '/a/../b']) {
      let error: Error | undefined;
      try {
        const bad = await startTestHost({ config: { static_dirs: { [prefix]: pages }, binding_name: null } });
        await bad.stop();
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message, prefix).to.contain('static_dirs');
    }
  });

  it('/socket.io without the trailing slash and /socket.iox are answered 404 (they used to hang)', async () => {
    for (const path of ['/socket.io', '/socket.iox', '/socket.io?EIO=4&transport=polling', '/socket.iox/?EIO=4&transport=polling']) {
      const res = await raw(`${host.url}${path}`);
      expect(res.status, path).to.equal(404);
    }
  });
});
