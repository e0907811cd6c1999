/**
 * Class 14: the host's network and disk, driven by a client through `install_model` (issue 11 §2). By default a
 * client install reaches public addresses only, checked on the address actually connected to (so DNS
 * rebinding and redirects to loopback fail too); errors say nothing about the network (no resolver or socket
 * error, the same text for "refused" and "nothing listens"), quote no body; downloads are capped in size and
 * disk, one per client and a few per host; names that would hide a file or make a `.reference` are refused.
 * Every server here is on loopback: the tests that must succeed allow it with `install_allowed_hosts`.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installModel } from '../../../core/bindings/install.js';
import { AddressPolicy } from '../../../core/bindings/safe-fetch.js';
import { request, startTestHost, type TestHost, type TestSocket } from '../../helpers/host.js';
import { codedRejection as rejection } from '../../helpers/assert.js';

const BODY_SECRET = `BODY-${randomBytes(8).toString('hex')}`;
const REASON_SECRET = `REASON${randomBytes(4).toString('hex')}`;
const MIB = 1024 * 1024;

/** What a models/install reply looks like. */
type Installed = { success: boolean; error?: string; filename?: string; path?: string };

describe('security 14: client model installs', function () {
  this.timeout(60_000);
  let server: Server;
  let port: number;
  let base: string;
  let hits: string[] = [];
  let host: TestHost;
  let socket: TestSocket;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-sec-install-'));
    server = createServer((req, res) => {
      const path = req.url ?? '/';
      hits.push(path);
      if (path === '/small.gguf') {
        res.writeHead(200, { 'content-length': 1024 });
        return void res.end(Buffer.alloc(1024, 1));
      }
      if (path === '/two-mib.gguf') {
        res.writeHead(200, { 'content-length': 2 * MIB });
        return void res.end(Buffer.alloc(2 * MIB, 2));
      }
      if (path === '/endless.gguf' || path === '/catalogued.gguf') {
        // No length, never ends: only the cap stops it.
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 3);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      if (path === '/slow.gguf') {
        // No length, a trickle: it stays running (under the size caps) until cancelled.
        res.writeHead(200);
        const timer = setInterval(() => res.write(Buffer.alloc(1024)), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      if (path.startsWith('/to-loopback/')) {
        res.writeHead(302, { location: `http://127.0.0.1:${port}/small.gguf` });
        return void res.end();
      }
      res.writeHead(404, REASON_SECRET, { 'content-type': 'text/plain' });
      res.end(BODY_SECRET);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    host = await startTestHost();
    socket = await host.connect();
  });
  after(async () => {
    await host?.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    hits = [];
  });

  const install = (payload: Record<string, unknown>, on: TestSocket = socket) => request(on, 'install_model', payload, 'model_installed', 30_000) as Promise<Installed>;

  it('by default, loopback is refused before any connection, with a message that names no network detail', async () => {
    const reply = await install({ url: `${base}/small.gguf` });
    expect(reply.success).to.equal(false);
    expect(reply.error).to.contain('not a public address');
    expect(hits, 'the loopback server was contacted').to.deep.equal([]);
    for (const url of [`http://localhost:${port}/small.gguf`, `http://[::1]:${port}/small.gguf`, `http://[::ffff:127.0.0.1]:${port}/small.gguf`, `http://2130706433:${port}/small.gguf`, `http://0x7f.1:${port}/small.gguf`]) {
      const again = await install({ url });
      expect(again.success, url).to.equal(false);
      expect(again.error, url).to.contain('not a public address');
    }
    expect(hits).to.deep.equal([]);
    expect(existsSync(join(host.host.bindings.modelsDir(), 'small.gguf'))).to.equal(false);
  });

  it('private, link-local, CGNAT and other special ranges are not public (the policy, checked without sending a packet)', () => {
    const policy = AddressPolicy.from([]);
    for (const address of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '127.0.0.1', '::1', 'fe80::1', 'fd00::1', '::ffff:10.0.0.1', '224.0.0.1', '255.255.255.255']) {
      expect(policy.allowsAddress(address), address).to.equal(false);
    }
    for (const address of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']) expect(policy.allowsAddress(address), address).to.equal(true);
    const allowed = AddressPolicy.from(['10.0.0.0/8', 'fd00::/8', 'models.lan']);
    expect(allowed.allowsAddress('10.1.2.3')).to.equal(true);
    expect(allowed.allowsAddress('::ffff:10.1.2.3')).to.equal(true);
    expect(allowed.allowsAddress('192.168.1.1')).to.equal(false);
    expect(allowed.allows('models.lan', '192.168.1.1')).to.equal(true);
    expect(() => AddressPolicy.from(['not a host!'])).to.throw(/install_allowed_hosts/);
  });

  it('checks the address actually connected to: a name that resolves to loopback (DNS rebinding) is refused', async () => {
    const toLoopback = (_name: string, _options: unknown, callback: (e: null, a: Array<{ address: string; family: number }>) => void) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const error = await rejection(installModel({
      source: { url: `http://public.example:${port}/small.gguf`, filename: 'small.gguf' },
      modelsDir: join(dir, 'rebind'),
      guard: AddressPolicy.from([]),
      resolve: toLoopback,
    }));
    expect(error.code).to.equal('LH_ERR_INSTALL_UNREACHABLE');
    expect(hits).to.deep.equal([]);
    // The control: the same resolver with loopback allowed downloads, so the lookup really was ours.
    const ok = await installModel({
      source: { url: `http://public.example:${port}/small.gguf`, filename: 'small.gguf' },
      modelsDir: join(dir, 'rebind'),
      guard: AddressPolicy.from(['127.0.0.1']),
      resolve: toLoopback,
    });
    expect(ok.bytes).to.equal(1024);
  });

  it('redirects are checked too: an allowed host redirecting to loopback is refused', async () => {
    const allowLocalhost = await startTestHost({ config: { install_allowed_hosts: ['localhost'] } });
    try {
      const s = await allowLocalhost.connect();
      const reply = await install({ url: `http://localhost:${port}/to-loopback/small.gguf`, filename: 'redirected.gguf' }, s);
      expect(reply.success).to.equal(false);
      expect(reply.error).to.contain('127.0.0.1');
      expect(reply.error).to.contain('not a public address');
      expect(hits).to.deep.equal(['/to-loopback/small.gguf']);
    } finally {
      await allowLocalhost.stop();
    }
  });

  describe('with loopback allowed (install_allowed_hosts)', () => {
    let open: TestHost;
    let s: TestSocket;
    before(async () => {
      open = await startTestHost({ config: { install_allowed_hosts: ['127.0.0.1'], install_max_size_mb: 1, install_max_concurrent: 1 } });
      s = await open.connect();
    });
    after(() => open?.stop());

    it('errors cannot map the network: "nothing listens" and "refused" read the same; no errno, resolver text or body', async () => {
      const closed = await new Promise<number>((resolve) => {
        const probe = createServer();
        probe.listen(0, '127.0.0.1', () => {
          const free = (probe.address() as AddressInfo).port;
          probe.close(() => resolve(free));
        });
      });
      const nothing = await install({ url: `http://127.0.0.1:${closed}/x.gguf` }, s);
      // ::1 is loopback too, but not in this host's install_allowed_hosts (127.0.0.1 only).
      const refused = await install({ url: `http://[::1]:${closed}/x.gguf` }, s);
      const strip = (text = '') => text.replace(/^cannot download from \S+: /, '');
      expect(refused.error).to.contain('cannot download from');
      expect(strip(nothing.error)).to.equal(strip(refused.error));
      // A name that does not resolve reads the same (a resolver of our own: no DNS query leaves the machine).
      const noSuchName = await rejection(installModel({
        source: { url: `http://no-such-name.example:${closed}/x.gguf`, filename: 'x.gguf' },
        modelsDir: join(dir, 'unknown'),
        guard: AddressPolicy.from(['127.0.0.1']),
        resolve: (name, _options, callback) => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }), []),
      }));
      const unknown = { success: false, error: noSuchName.message };
      expect(strip(unknown.error)).to.equal(strip(refused.error));
      const notFound = await install({ url: `${base}/missing.gguf` }, s);
      for (const reply of [nothing, refused, unknown, notFound]) {
        expect(reply.success).to.equal(false);
        expect(reply.error).not.to.match(/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|getaddrinfo|ETIMEDOUT|EHOSTUNREACH|socket|fetch failed/i);
        expect(reply.error).not.to.contain(BODY_SECRET);
        expect(reply.error).not.to.contain(REASON_SECRET);
      }
      expect(notFound.error).to.contain('HTTP 404');
    });

    it('a download announced above install_max_size_mb is refused before writing; an endless one is cut and deleted', async () => {
      const big = await install({ url: `${base}/two-mib.gguf` }, s);
      expect(big.success).to.equal(false);
      expect(big.error).to.contain('install_max_size_mb');
      const endless = await install({ url: `${base}/endless.gguf` }, s);
      expect(endless.success).to.equal(false);
      expect(endless.error).to.contain('install_max_size_mb');
      const files = await readdir(open.host.bindings.modelsDir());
      expect(files.filter((f) => f.startsWith('two-mib') || f.startsWith('endless'))).to.deep.equal([]);
      const ok = await install({ url: `${base}/small.gguf` }, s);
      expect(ok).to.deep.include({ success: true, filename: 'small.gguf', path: 'llama_cpp/small.gguf' });
    });

    it('a catalogue entry caps the download at its filesize + 10%', async () => {
      const plugin = open.host.bindings.activePlugin!;
      (plugin.models as unknown[]).push({ filename: 'catalogued.gguf', server: `${base}/`, filesize: 100_000 });
      try {
        const reply = await install({ filename: 'catalogued.gguf' }, s);
        expect(reply.success).to.equal(false);
        expect(reply.error).to.match(/grew past the \d+ bytes allowed/);
        expect(existsSync(join(open.host.bindings.modelsDir(), 'catalogued.gguf.part'))).to.equal(false);
      } finally {
        (plugin.models as unknown[]).pop();
      }
    });

    it('one install per client, install_max_concurrent per host', async () => {
      const other = await open.connect();
      const progress = new Promise((resolve) => s.once('install_progress', resolve));
      s.emit('install_model', { url: `${base}/slow.gguf`, filename: 'slow-a.gguf' });
      await progress;
      const same = await install({ url: `${base}/small.gguf`, filename: 'second.gguf' }, s);
      expect(same.success).to.equal(false);
      expect(same.error).to.contain('already runs an install');
      const host2 = await install({ url: `${base}/small.gguf`, filename: 'third.gguf' }, other);
      expect(host2.success).to.equal(false);
      expect(host2.error).to.contain('installs are running on this host');
      await request(s, 'cancel_install', { filename: 'slow-a.gguf' }, 'model_installed');
      const after = await install({ url: `${base}/small.gguf`, filename: 'third.gguf' }, other);
      expect(after.success).to.equal(true);
    });

    it('hidden, .part and .reference names are refused; nothing is written', async () => {
      for (const filename of ['.hidden.gguf', 'x.reference', 'x.REFERENCE', 'x.gguf.part', 'a\u0001b.gguf', `${'a'.repeat(300)}.gguf`]) {
        const reply = await install({ url: `${base}/small.gguf`, filename }, s);
        expect(reply.success, filename).to.equal(false);
        expect(reply.error, filename).to.contain('refusing model file name');
      }
      const fromUrl = await install({ url: `${base}/.hidden.gguf` }, s);
      expect(fromUrl.success).to.equal(false);
      const files = await readdir(open.host.bindings.modelsDir());
      expect(files.filter((f) => f.startsWith('.') || f.endsWith('.reference'))).to.deep.equal([]);
    });

    it('the free-disk reserve is checked before the download', async () => {
      const full = await startTestHost({ config: { install_allowed_hosts: ['127.0.0.1'], install_min_free_mb: 1024 * 1024 * 1024 } });
      try {
        const reply = await install({ url: `${base}/small.gguf` }, await full.connect());
        expect(reply.success).to.equal(false);
        expect(reply.error).to.contain('install_min_free_mb');
        expect(existsSync(join(full.host.bindings.modelsDir(), 'small.gguf.part'))).to.equal(false);
      } finally {
        await full.stop();
      }
    });
  });

  it('the free-disk reserve is checked during the download too, and the part is deleted', async () => {
    let free = 1536 * MIB;
    const error = await rejection(installModel({
      source: { url: `${base}/endless.gguf`, filename: 'filling.gguf' },
      modelsDir: join(dir, 'disk'),
      minFreeBytes: 100 * MIB,
      // The disk "fills" as the download goes.
      freeBytes: async () => (free -= 1024 * MIB),
    }));
    expect(error.code).to.equal('LH_ERR_INSTALL_SIZE');
    expect(error.message).to.contain('not enough disk space');
    expect(existsSync(join(dir, 'disk', 'filling.gguf.part'))).to.equal(false);
  });
});
