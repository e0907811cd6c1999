import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { existsSync } from 'node:fs';
import { createLogger } from '../core/logger.js';
import { startHost } from '../core/host.js';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { connectTestClient, nextEvent } from '../core/testing.js';
import { capturingLogger, type LogLine } from './helpers/logger.js';

/** A writable that keeps what is written. */
function memory() {
  let text = '';
  const stream = new Writable({ write: (chunk: Buffer, _e, done) => ((text += chunk.toString()), done()) });
  return { stream, text: () => text };
}

describe('logs a person can read (issue 13)', function () {
  this.timeout(60_000);

  it('is human-readable when pretty, JSON lines otherwise', () => {
    const human = memory();
    createLogger({ pretty: true, destination: human.stream }).info({ model: 'a.gguf' }, 'model loaded');
    expect(human.text()).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: model loaded\n\s+model: "a.gguf"\n/);
    const machine = memory();
    createLogger({ pretty: false, destination: machine.stream }).info({ model: 'a.gguf' }, 'model loaded');
    expect(JSON.parse(machine.text())).to.include({ level: 30, msg: 'model loaded', model: 'a.gguf' });
  });

  it('the CLI logs human-readable lines on a terminal and JSON lines into a pipe', async function () {
    if (!existsSync('/usr/bin/script')) this.skip(); // util-linux's script gives the host a pseudo-terminal
    const dir = await mkdtemp(join(tmpdir(), 'lollms-logs-tty-'));
    const command = `${process.execPath} ${join(PACKAGE_ROOT, 'bin', 'lollms-host.js')} --port 0 --data-dir ${dir} --no-watch --threads 1`;
    const run = async (args: string[], file: string) => {
      const child = spawn(file, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, LOLLMS_HOST_ENABLE_GPU: 'false' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start:\n${out}`)), 45_000);
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        function check() {
          if (out.includes('model loaded')) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      process.kill(child.pid!, 'SIGTERM');
      await exited;
      return out;
    };
    try {
      const tty = await run(['-qfec', command, '/dev/null'], 'script');
      expect(tty).to.match(/\] INFO: Serving on address: http:\/\/127\.0\.0\.1:\d+/);
      expect(tty).not.to.contain('{"level"');
      const piped = await run([join(PACKAGE_ROOT, 'bin', 'lollms-host.js'), '--port', '0', '--data-dir', dir, '--no-watch', '--threads', '1'], process.execPath);
      const first = JSON.parse(piped.split('\n').find((l) => l.includes('Serving on address'))!) as { level: number; msg: string };
      expect(first.level).to.equal(30);
      expect(piped.match(/"msg":"model loaded"/g)).to.have.length(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('one info line per install and per plugin reload', () => {
    let dir: string;
    let server: Server;
    let port: number;
    before(async () => {
      server = createServer((req, res) => {
        if (req.url === '/small.gguf') res.end(Buffer.alloc(1024, 7));
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(async () => {
      dir = await realpath(await mkdtemp(join(tmpdir(), 'lollms-logs-')));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('logs each install, done or failed, once', async () => {
      const { logger, lines } = capturingLogger();
      const handle = await startHost({ dataDir: dir, port: 0, env: {}, logger, config: { watch: false, n_threads: 1, enable_gpu: false, install_allowed_hosts: ['127.0.0.1'] } });
      const socket = await connectTestClient(handle.url);
      try {
        let done = nextEvent(socket, 'model_installed', 30_000);
        socket.emit('install_model', { url: `http://127.0.0.1:${port}/small.gguf` });
        expect((await done).success).to.equal(true);
        done = nextEvent(socket, 'model_installed', 30_000);
        socket.emit('install_model', { url: `http://127.0.0.1:${port}/missing.gguf` });
        expect((await done).success).to.equal(false);
        expect(lines.filter((l) => l.msg.startsWith('model installed')).map((l) => l.msg)).to.deep.equal(['model installed: small.gguf']);
        expect(lines.filter((l) => l.msg.startsWith('model not installed')).map((l) => l.msg)).to.deep.equal(['model not installed: missing.gguf']);
      } finally {
        socket.close();
        await handle.close();
      }
    });

    it('logs each generation once, done, cancelled or failed, with its client, mode, tokens, speed and duration; each connection and disconnection', async () => {
      const waiters: Array<(line: LogLine) => void> = [];
      const { logger, lines } = capturingLogger('info', (line) => waiters.forEach((w) => w(line)));
      /** The first line (logged already or to come) that passes `test`. */
      const lineWhere = (test: (line: LogLine) => boolean) =>
        new Promise<LogLine>((resolve) => {
          const seen = lines.find(test);
          if (seen) resolve(seen);
          else waiters.push((line) => void (test(line) && resolve(line)));
        });
      const handle = await startHost({ dataDir: dir, port: 0, env: {}, logger, config: { watch: false, n_threads: 1, enable_gpu: false, personalities: ['english/generic/lollms'] } });
      const socket = await connectTestClient(handle.url);
      const generations = () => lines.filter((l) => l.msg.startsWith('generation '));
      try {
        const id = socket.id!;
        expect(lines.find((l) => l.msg === 'client connected')).to.deep.include({ level: 30, client: id, address: '127.0.0.1', transport: 'websocket' });
        let done = nextEvent(socket, 'text_generated', 30_000);
        socket.emit('generate_text', { prompt: 'Hello', n_predicts: 4 });
        await done;
        expect(generations()).to.have.length(1);
        expect(generations()[0]).to.deep.include({ level: 30, msg: 'generation done', client: id, transport: 'socket', mode: 'raw', answer_tokens: 4, outcome: 'done' });
        expect(generations()[0]!['prompt_tokens']).to.be.a('number').above(0);
        expect(generations()[0]!['tokens_per_s']).to.be.a('number').above(0);
        expect(generations()[0]!['duration_ms']).to.be.a('number').at.least(0);

        done = nextEvent(socket, 'text_generated', 30_000);
        socket.emit('generate_text', { prompt: 'Hello', n_predicts: 2, personality: 0 });
        await done;
        expect(generations()[1]).to.deep.include({ msg: 'generation done', mode: 'personality', personality: 0, outcome: 'done' });

        const chunk = nextEvent(socket, 'text_chunk', 30_000);
        socket.emit('generate_text', { prompt: 'Once upon a time', n_predicts: 500 });
        await chunk;
        const canceled = nextEvent(socket, 'generation_canceled', 30_000);
        socket.emit('cancel_generation', {});
        await canceled;
        await lineWhere((l) => l.msg === 'generation cancelled');
        expect(generations()[2]).to.deep.include({ msg: 'generation cancelled', mode: 'raw', outcome: 'cancelled' });

        const failed = nextEvent(socket, 'generation_error', 30_000);
        socket.emit('generate_text', { prompt: 'Hello', personality: 7 });
        await failed;
        expect(generations()[3]).to.deep.include({ level: 30, mode: 'personality', personality: 7, outcome: 'error', code: 'LH_ERR_PERSONALITY_ID' });
        expect(generations()[3]!.msg).to.match(/^generation failed: /);
        expect(generations()).to.have.length(4);

        socket.close();
        expect(await lineWhere((l) => l.msg === 'client disconnected')).to.deep.include({ level: 30, client: id, reason: 'client namespace disconnect' });
      } finally {
        socket.close();
        await handle.close();
      }
    });

    it('logs each plugin reload once', async () => {
      const zoo = join(dir, 'zoo');
      await mkdir(join(zoo, 'english', 'mine', 'p'), { recursive: true });
      await writeFile(join(zoo, 'english', 'mine', 'p', 'config.yaml'), 'name: P\nversion: 1.0.0\n');
      const { logger, lines } = capturingLogger();
      const handle = await startHost({
        dataDir: join(dir, 'data'),
        port: 0,
        env: {},
        logger,
        config: { watch: true, n_threads: 1, enable_gpu: false, personalities_paths: [zoo], personalities: ['english/mine/p'] },
      });
      const socket = await connectTestClient(handle.url);
      try {
        const reloaded = nextEvent(socket, 'plugin_reloaded', 30_000);
        await writeFile(join(zoo, 'english', 'mine', 'p', 'config.yaml'), 'name: P\nversion: 1.0.1\n');
        expect((await reloaded).version).to.equal('1.0.1');
        await handle.host.watcher?.idle();
        expect(lines.filter((l) => l.msg === 'plugin reloaded')).to.have.length(1);
      } finally {
        socket.close();
        await handle.close();
      }
    });
  });
});
