import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectClient, type Socket } from 'socket.io-client';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { launchBrowser, type TestBrowser } from './helpers/browser.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lollms-host.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A real host process (the built CLI, as a user starts it), ready once its start-up model has loaded. */
interface HostProcess {
  child: ChildProcess;
  /** Its stderr so far (JSON log lines). */
  log(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

async function startHostProcess(port: number, dataDir: string): Promise<HostProcess> {
  const child = spawn(process.execPath, [BIN, '--port', String(port), '--data-dir', dataDir, '--no-watch', '--threads', '1', '--log-level', 'info'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOLLMS_HOST_ENABLE_GPU: 'false' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('"msg":"model loaded"')) {
        child.stderr!.off('data', onData);
        child.stderr!.on('data', (more: Buffer) => (stderr += more.toString()));
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`the host exited (${code}) before its model loaded:\n${stderr}`)));
  });
  return { child, log: () => stderr, exited };
}

/** The next `event` on `socket`. */
function once<T = unknown>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, (payload: T) => resolve(payload)));
}

describe('reconnect after a restart (issue 20)', function () {
  this.timeout(120_000);
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-reconnect-'));
    // A context large enough that a generation still runs when SIGTERM arrives.
    await mkdir(join(dir, 'data'), { recursive: true });
    await writeFile(join(dir, 'data', 'config.yaml'), 'ctx_size: 8192\n');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  for (const transport of ['websocket', 'polling'] as const) {
    it(`over ${transport}: SIGTERM cancels the generation (generation_canceled), the client reconnects by itself to the restarted host`, async () => {
      const port = await freePort();
      const first = await startHostProcess(port, join(dir, 'data'));
      children.push(first.child);
      const socket = connectClient(`http://127.0.0.1:${port}`, { transports: [transport], reconnectionDelay: 100, reconnectionDelayMax: 500 });
      try {
        await once(socket, 'connect');
        const firstId = socket.id;
        const chunk = once(socket, 'text_chunk');
        socket.emit('generate_text', { prompt: 'Once upon a time', n_predicts: 8000 });
        await chunk;
        const canceled = once<{ message: string }>(socket, 'generation_canceled');
        const disconnected = once<string>(socket, 'disconnect');
        first.child.kill('SIGTERM');
        expect(await canceled).to.deep.equal({ message: 'Generation is canceled.' });
        // A closed transport (polling may see its last poll fail first), never "io server disconnect", the one
        // reason socket.io-client does not reconnect from.
        expect(await disconnected).to.be.oneOf(['transport close', 'transport error']);
        expect(await first.exited, first.log()).to.equal(0);

        const reconnected = once(socket, 'connect');
        const second = await startHostProcess(port, join(dir, 'data'));
        children.push(second.child);
        await reconnected;
        expect(socket.id).to.be.a('string').and.not.equal(firstId);
        const answer = new Promise<string>((resolve) => socket.once('text_generated', (p: { text: string }) => resolve(p.text)));
        socket.emit('generate_text', { prompt: 'Hello again', n_predicts: 4 });
        expect(await answer).to.be.a('string');
        socket.close();
        second.child.kill('SIGTERM');
        expect(await second.exited).to.equal(0);
        expect(second.log()).to.contain('"msg":"client connected"');
      } finally {
        socket.close();
      }
    });
  }

  describe('a browser page', () => {
    let browser: TestBrowser | undefined;
    after(async () => {
      await browser?.close();
    });

    it('reconnects after the host it was loaded from stops with SIGTERM and starts again', async () => {
      const port = await freePort();
      const page = join(dir, 'page');
      await mkdir(page, { recursive: true });
      // A page of the original era: socket.io's browser client from the server, default options (polling, then websocket).
      await writeFile(
        join(page, 'index.html'),
        `<!doctype html><meta charset="utf-8"><title>reconnect</title><script src="/socket.io/socket.io.js"></script>
<script>
  window.events = [];
  const socket = io({ reconnectionDelay: 100, reconnectionDelayMax: 500 });
  socket.on('connect', () => window.events.push('connect'));
  socket.on('disconnect', (reason) => window.events.push('disconnect:' + reason));
</script>`,
      );
      await writeFile(join(dir, 'data', 'config.yaml'), `static_dirs: { "/page": ${JSON.stringify(page)} }\n`);
      const first = await startHostProcess(port, join(dir, 'data'));
      children.push(first.child);
      browser = await launchBrowser();
      const opened = await browser.open(`http://127.0.0.1:${port}/page/`);
      const eventsAre = (expected: string[]) =>
        opened.page.waitForFunction((want) => JSON.stringify((window as unknown as { events: string[] }).events) === JSON.stringify(want), expected, { timeout: 60_000 });
      await eventsAre(['connect']);
      first.child.kill('SIGTERM');
      expect(await first.exited, first.log()).to.equal(0);
      const second = await startHostProcess(port, join(dir, 'data'));
      children.push(second.child);
      await opened.page.waitForFunction(() => (window as unknown as { events: string[] }).events.length === 3, undefined, { timeout: 60_000 });
      const events = await opened.page.evaluate(() => (window as unknown as { events: string[] }).events);
      expect(events[0]).to.equal('connect');
      expect(events[1]).to.be.oneOf(['disconnect:transport close', 'disconnect:transport error']);
      expect(events[2]).to.equal('connect');
      second.child.kill('SIGTERM');
      expect(await second.exited).to.equal(0);
    });
  });
});
