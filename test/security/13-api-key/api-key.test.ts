/**
 * Class 13: the API key and what comes before it (issue 11 §1). A key, once set, is checked on every bind,
 * loopback included (other local users and processes reach loopback), for socket.io, HTTP routes and personality
 * assets alike; and it is checked on the engine.io handshake request, before any message body is read, so an
 * unauthenticated client cannot make the host buffer anything.
 */
import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectClient } from 'socket.io-client';
import { SOCKET_BUFFER_BYTES } from '../../../core/protocol/limits.js';
import { startTestHost, type TestHost } from '../../helpers/host.js';

const KEY = 'k3y-for-the-security-suite';

/** Whether a socket.io client with `options` connects (true) or is refused (false). */
function connects(url: string, options: Parameters<typeof connectClient>[1]): Promise<boolean> {
  const client = connectClient(url, { reconnection: false, timeout: 10_000, ...options });
  return new Promise<boolean>((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('connect_error', () => resolve(false));
  }).finally(() => client.close());
}

/**
 * POST `total` bytes (one 1 MiB buffer written again and again, so the sender holds no more) to `path`, and stop
 * as soon as the host answers. Resolves with the status and how many bytes had been sent when it answered.
 */
function bigPost(url: string, path: string, total: number, headers: Record<string, string> = {}): Promise<{ status: number; sentWhenAnswered: number }> {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', 'content-length': String(total), ...headers } }, (res) => {
      answered = true;
      res.resume();
      resolve({ status: res.statusCode ?? 0, sentWhenAnswered: sent });
      req.destroy();
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().rss;
}

describe('security 13: the API key on every bind, checked before anything is buffered', function () {
  this.timeout(120_000);
  let host: TestHost;
  let zoo: string;

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lh-key-zoo-'));
    await mkdir(join(zoo, 'english', 'keyed', 'pic', 'assets'), { recursive: true });
    await writeFile(join(zoo, 'english', 'keyed', 'pic', 'config.yaml'), 'name: pic\nauthor: t\nversion: 1.0.0\n');
    await writeFile(join(zoo, 'english', 'keyed', 'pic', 'assets', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    // 127.0.0.2: a loopback address other than the default, with a key (issue 11: it used to accept anyone).
    host = await startTestHost({ host: '127.0.0.2', config: { api_key: KEY, personalities_paths: [zoo] } });
  });
  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  it('socket.io on a loopback bind: no key or a wrong key is refused; the key as a header or ?token connects', async () => {
    expect(host.url).to.contain('127.0.0.2');
    expect(await connects(host.url, { transports: ['websocket'] })).to.equal(false);
    expect(await connects(host.url, { transports: ['polling'] })).to.equal(false);
    expect(await connects(host.url, { transports: ['websocket'], extraHeaders: { authorization: 'Bearer wrong' } })).to.equal(false);
    // The key in the socket.io CONNECT packet alone comes too late: the session must not exist before it.
    expect(await connects(host.url, { transports: ['polling'], auth: { token: KEY } })).to.equal(false);
    expect(await connects(host.url, { transports: ['websocket'], extraHeaders: { authorization: `Bearer ${KEY}` } })).to.equal(true);
    expect(await connects(host.url, { transports: ['polling'], extraHeaders: { authorization: `Bearer ${KEY}` } })).to.equal(true);
    expect(await connects(host.url, { transports: ['websocket'], query: { token: KEY } })).to.equal(true);
  });

  it('HTTP routes and personality assets need the key too, on the same bind', async () => {
    const asset = `${host.url}/personalities/english/keyed/pic/assets/logo.png`;
    for (const path of ['/health', '/get_config', '/list_models', '/get_server_ifos']) {
      expect((await fetch(`${host.url}${path}`)).status, path).to.equal(401);
      expect((await fetch(`${host.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } })).status, path).to.equal(200);
    }
    expect((await fetch(asset)).status).to.equal(401);
    expect((await fetch(asset, { headers: { authorization: `Bearer ${KEY}` } })).status).to.equal(200);
    expect((await fetch(`${asset}?token=${KEY}`)).status).to.equal(200);
    const post = await fetch(`${host.url}/update_setting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ setting_name: 'temperature', setting_value: 0.5 }) });
    expect(post.status).to.equal(401);
  });

  it('an unauthenticated 60 MiB post is refused from its headers: not read, not buffered, memory stays flat', async () => {
    const total = 60 * 1024 * 1024;
    const before = await settledRss();
    const results = await Promise.all([
      // A handshake-shaped post, a post into a made-up session, a post to an HTTP route: 8 at once.
      ...Array.from({ length: 3 }, () => bigPost(host.url, '/socket.io/?EIO=4&transport=polling', total)),
      ...Array.from({ length: 3 }, () => bigPost(host.url, '/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA', total)),
      ...Array.from({ length: 2 }, () => bigPost(host.url, '/update_setting', total)),
    ]);
    for (const result of results) {
      expect(result.status).to.be.oneOf([400, 401, 403]);
      // The host answered long before the body was through.
      expect(result.sentWhenAnswered).to.be.below(total / 2);
    }
    const after = await settledRss();
    expect(after - before, 'host RSS growth after 8 x 60 MiB unauthenticated posts').to.be.below(64 * 1024 * 1024);
  });

  it('maxHttpBufferSize is what the largest legitimate event needs, not 64 MiB', async () => {
    expect(host.host.io.engine.opts.maxHttpBufferSize).to.equal(SOCKET_BUFFER_BYTES);
    expect(SOCKET_BUFFER_BYTES).to.be.below(8 * 1024 * 1024);
    // An authenticated session posting more than that is cut at the limit, not buffered whole.
    const socket = connectClient(host.url, { transports: ['polling'], reconnection: false, extraHeaders: { authorization: `Bearer ${KEY}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const sid = (socket.io.engine as unknown as { id: string }).id;
    const result = await bigPost(host.url, `/socket.io/?EIO=4&transport=polling&sid=${sid}`, 60 * 1024 * 1024, { authorization: `Bearer ${KEY}` });
    socket.close();
    expect(result.status).to.be.oneOf([400, 413]);
    expect(result.sentWhenAnswered).to.be.below(SOCKET_BUFFER_BYTES + 8 * 1024 * 1024);
  });
});
