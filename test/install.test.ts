import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  installModel,
  installSourceFromEntry,
  installSourceFromUrl,
  resolveInstallRequest,
  type InstallProgress,
} from '../core/bindings/install.js';
import { runPull } from '../core/bindings/pull.js';

const DATA = randomBytes(300 * 1024 + 17);
const SHA = createHash('sha256').update(DATA).digest('hex');
const DROP_AFTER = 100 * 1024;

/** Rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('model install', function () {
  let server: Server;
  let base: string;
  let dir: string;
  /** Requests seen, as `path range`. */
  const seen: { path: string; range: string | undefined }[] = [];
  let dropped = false;

  /** Serve DATA honouring `Range`, as a static file server does. */
  function serveRange(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
      res.end(body);
      return;
    }
    const start = Number(range[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` });
      res.end();
      return;
    }
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    res.end(body.subarray(start));
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'lollms-install-'));
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      seen.push({ path, range: req.headers.range });
      switch (path) {
        case '/files/model.gguf':
        case '/files/other.gguf':
        case '/files/pull.gguf':
          return serveRange(req, res, DATA);
        case '/files/drop.gguf':
          if (!dropped) {
            // Announce the whole file, send part of it, then cut the connection.
            dropped = true;
            res.writeHead(200, { 'content-length': DATA.length });
            res.write(DATA.subarray(0, DROP_AFTER), () => setTimeout(() => res.socket?.destroy(), 20));
            return;
          }
          return serveRange(req, res, DATA);
        case '/files/norange.gguf':
          res.writeHead(200, { 'content-length': DATA.length });
          return void res.end(DATA);
        case '/files/slow.gguf': {
          res.writeHead(200, { 'content-length': DATA.length });
          let at = 0;
          const timer = setInterval(() => {
            if (res.destroyed || at >= DATA.length) {
              clearInterval(timer);
              if (!res.destroyed) res.end();
              return;
            }
            res.write(DATA.subarray(at, at + 8192));
            at += 8192;
          }, 10);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case '/redirect/model.gguf':
          res.writeHead(302, { location: '/files/model.gguf' });
          return void res.end();
        case '/loop/model.gguf':
          res.writeHead(302, { location: '/loop/model.gguf' });
          return void res.end();
        default:
          res.writeHead(404);
          return void res.end('not found');
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh models dir per test (installModel creates it). */
  function modelsDir(name: string): string {
    return join(dir, name);
  }

  it('downloads a complete file with progress, sha256 and no .part left', async function () {
    const target = modelsDir('complete');
    const reports: InstallProgress[] = [];
    const result = await installModel({
      source: { url: `${base}/files/model.gguf`, filename: 'model.gguf', sha256: SHA.toUpperCase() },
      modelsDir: target,
      onProgress: (p) => reports.push(p),
    });
    expect(result).to.deep.equal({ path: join(target, 'model.gguf'), bytes: DATA.length, sha256: SHA, resumedFrom: 0 });
    expect((await readFile(result.path)).equals(DATA)).to.equal(true);
    expect(await readdir(target)).to.deep.equal(['model.gguf']);
    expect(reports[0]).to.deep.equal({ bytes: 0, total: DATA.length, progress: 0 });
    expect(reports.at(-1)).to.deep.equal({ bytes: DATA.length, total: DATA.length, progress: 1 });
    // Throttled: far fewer reports than chunks.
    expect(reports.length).to.be.below(20);
  });

  it('resumes a download whose connection dropped half-way with a Range request', async function () {
    const target = modelsDir('resume');
    const source = installSourceFromEntry({ filename: 'drop.gguf', server: `${base}/files/`, SHA256: SHA, filesize: DATA.length });
    const first = await rejection(installModel({ source, modelsDir: target }));
    expect(first.code).to.equal('LH_ERR_INSTALL');
    expect(first.message).to.match(/resume/);
    const partSize = (await stat(join(target, 'drop.gguf.part'))).size;
    expect(partSize).to.be.above(0).and.at.most(DROP_AFTER);
    expect(existsSync(join(target, 'drop.gguf'))).to.equal(false);

    seen.length = 0;
    const result = await installModel({ source, modelsDir: target });
    expect(seen).to.deep.equal([{ path: '/files/drop.gguf', range: `bytes=${partSize}-` }]);
    expect(result.resumedFrom).to.equal(partSize);
    expect(result.sha256).to.equal(SHA);
    expect((await readFile(join(target, 'drop.gguf'))).equals(DATA)).to.equal(true);
    expect(await readdir(target)).to.deep.equal(['drop.gguf']);
  });

  it('restarts from zero when the server ignores Range (200)', async function () {
    const target = modelsDir('norange');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'norange.gguf.part'), Buffer.from('garbage that is not the start of the file'));
    const result = await installModel({ source: { url: `${base}/files/norange.gguf`, filename: 'norange.gguf', sha256: SHA }, modelsDir: target });
    expect(result.resumedFrom).to.equal(0);
    expect((await readFile(result.path)).equals(DATA)).to.equal(true);
  });

  it('finishes a complete .part on 416 without downloading again', async function () {
    const target = modelsDir('complete-part');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'other.gguf.part'), DATA);
    seen.length = 0;
    const result = await installModel({ source: { url: `${base}/files/other.gguf`, filename: 'other.gguf', sha256: SHA }, modelsDir: target });
    expect(seen).to.deep.equal([{ path: '/files/other.gguf', range: `bytes=${DATA.length}-` }]);
    expect(result).to.include({ bytes: DATA.length, sha256: SHA, resumedFrom: DATA.length });
    expect(await readdir(target)).to.deep.equal(['other.gguf']);
  });

  it('deletes the download and throws ChecksumMismatch on a wrong sha256', async function () {
    const target = modelsDir('checksum');
    const error = await rejection(installModel({
      source: { url: `${base}/files/model.gguf`, filename: 'model.gguf', sha256: '0'.repeat(64) },
      modelsDir: target,
    }));
    expect(error.code).to.equal('LH_ERR_CHECKSUM');
    expect(error.message).to.include(SHA);
    expect(await readdir(target)).to.deep.equal([]);
  });

  it('cancels with an AbortSignal, keeping the .part and leaving no final file', async function () {
    const target = modelsDir('cancel');
    const controller = new AbortController();
    const error = await rejection(installModel({
      source: { url: `${base}/files/slow.gguf`, filename: 'slow.gguf' },
      modelsDir: target,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.bytes > 20_000) controller.abort();
      },
    }));
    expect(error.code).to.equal('LH_ERR_CANCELLED');
    expect(existsSync(join(target, 'slow.gguf'))).to.equal(false);
    const part = (await stat(join(target, 'slow.gguf.part'))).size;
    expect(part).to.be.above(0).and.below(DATA.length);
    // An already aborted signal refuses to start.
    const again = await rejection(installModel({
      source: { url: `${base}/files/slow.gguf`, filename: 'slow.gguf' },
      modelsDir: target,
      signal: AbortSignal.abort(),
    }));
    expect(again.code).to.equal('LH_ERR_CANCELLED');
  });

  it('fails on HTTP 404 with the status in the message', async function () {
    const target = modelsDir('404');
    const error = await rejection(installModel({ source: { url: `${base}/files/nothing.gguf`, filename: 'nothing.gguf' }, modelsDir: target }));
    expect(error.code).to.equal('LH_ERR_INSTALL_HTTP');
    expect(error.message).to.include('404');
    expect(existsSync(join(target, 'nothing.gguf.part'))).to.equal(false);
  });

  it('follows redirects, up to a limit', async function () {
    const target = modelsDir('redirect');
    const result = await installModel({ source: installSourceFromUrl(`${base}/redirect/model.gguf`), modelsDir: target });
    expect(result.sha256).to.equal(SHA);
    const error = await rejection(installModel({ source: installSourceFromUrl(`${base}/loop/model.gguf`), modelsDir: target, overwrite: true, maxRedirects: 3 }));
    expect(error.code).to.equal('LH_ERR_INSTALL');
    expect(error.message).to.match(/redirects/);
  });

  it('refuses an existing file unless overwrite is set', async function () {
    const target = modelsDir('complete');
    const error = await rejection(installModel({ source: { url: `${base}/files/model.gguf`, filename: 'model.gguf' }, modelsDir: target }));
    expect(error.code).to.equal('LH_ERR_INSTALL_EXISTS');
  });

  it('refuses path-escaping file names and non-http(s) URLs', async function () {
    const target = modelsDir('escape');
    for (const filename of ['../evil.gguf', 'a/b.gguf', 'a\\b.gguf', '..', '']) {
      const error = await rejection(installModel({ source: { url: `${base}/files/model.gguf`, filename }, modelsDir: target }));
      expect(error.code, filename).to.be.oneOf(['LH_ERR_PATH_OUTSIDE_ROOT']);
    }
    expect(() => installSourceFromEntry({ filename: '../../evil.gguf', server: base })).to.throw().with.property('code', 'LH_ERR_PATH_OUTSIDE_ROOT');
    expect(() => installSourceFromUrl(`${base}/files/..%2Fevil.gguf`)).to.throw().with.property('code', 'LH_ERR_PATH_OUTSIDE_ROOT');
    expect(() => installSourceFromUrl('file:///etc/passwd')).to.throw().with.property('code', 'LH_ERR_INSTALL');
    const error = await rejection(installModel({ source: { url: 'ftp://example.com/x.gguf', filename: 'x.gguf' }, modelsDir: target }));
    expect(error.code).to.equal('LH_ERR_INSTALL');
    expect(existsSync(join(dir, 'evil.gguf'))).to.equal(false);
    expect(existsSync(target)).to.equal(false);
  });

  it('builds sources from models.yaml entries and install requests', function () {
    expect(installSourceFromEntry({ filename: 'm.gguf', server: 'https://h.example/x/', sha256: SHA, filesize: '12' })).to.deep.equal({
      url: 'https://h.example/x/m.gguf',
      filename: 'm.gguf',
      sha256: SHA,
      size: 12,
    });
    expect(installSourceFromEntry({ filename: 'm.gguf', server: 'https://h.example/x' }).url).to.equal('https://h.example/x/m.gguf');
    expect(installSourceFromEntry({ filename: 'm.gguf', server: 'https://h.example/x/m.gguf' }).url).to.equal('https://h.example/x/m.gguf');
    const models = [{ filename: 'm.gguf', server: 'https://h.example/x/', SHA256: SHA.toUpperCase() }];
    expect(resolveInstallRequest({ filename: 'm.gguf' }, models)).to.deep.equal({ url: 'https://h.example/x/m.gguf', filename: 'm.gguf', sha256: SHA });
    // A URL that is a models.yaml entry gets its checksum; `path` is the original's name for the URL.
    expect(resolveInstallRequest({ path: 'https://h.example/x/m.gguf' }, models).sha256).to.equal(SHA);
    expect(resolveInstallRequest({ url: 'https://o.example/a/b.gguf?download=1' }, models)).to.deep.equal({
      url: 'https://o.example/a/b.gguf?download=1',
      filename: 'b.gguf',
    });
    expect(() => resolveInstallRequest({ filename: 'nope.gguf' }, models)).to.throw().with.property('code', 'LH_ERR_MODEL_NOT_FOUND');
  });

  describe('runPull', function () {
    function sink(): { stream: Writable; text: () => string } {
      const chunks: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk.toString());
          done();
        },
      });
      return { stream, text: () => chunks.join('') };
    }

    it('pulls a models.yaml filename with plain percentage lines when not on a TTY', async function () {
      const target = modelsDir('pull');
      const out = sink();
      const code = await runPull('pull.gguf', {
        modelsDir: target,
        models: [{ filename: 'pull.gguf', server: `${base}/files`, sha256: SHA }],
        stdout: out.stream,
        isTTY: false,
      });
      expect(code).to.equal(0);
      const text = out.text();
      expect(text).to.include(`pulling pull.gguf from ${base}/files/pull.gguf`);
      expect(text).to.match(/pull\.gguf: 0% \(/);
      expect(text).to.match(/pull\.gguf: 100% \(/);
      expect(text).to.include(`installed ${join(target, 'pull.gguf')} (${DATA.length} bytes, sha256 ${SHA})`);
      expect(text).not.to.include('\u001b['); // no terminal escapes in logs
      expect((await readFile(join(target, 'pull.gguf'))).equals(DATA)).to.equal(true);
    });

    it('returns 2 for an unknown target and 1 for a failed download', async function () {
      const target = modelsDir('pull-bad');
      const out = sink();
      expect(await runPull('nope.gguf', { modelsDir: target, models: [], stdout: out.stream, isTTY: false })).to.equal(2);
      expect(out.text()).to.include('nope.gguf');
      expect(await runPull(`${base}/files/missing.gguf`, { modelsDir: target, models: [], stdout: out.stream, isTTY: false })).to.equal(1);
      expect(out.text()).to.include('404');
    });
  });
});
