import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { io as connectClient } from 'socket.io-client';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../core/util/package-root.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lollms-host.js');

/** Run the built CLI the way a user does (the bin re-executes itself with --no-node-snapshot). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('lollms-host CLI', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('prints usage with --help and the version with --version', () => {
    const help = cli(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('Usage:').and.to.contain('--bindings_path').and.to.contain('--[no-]watch');
    const version = cli(['--version']);
    expect(version.code).to.equal(0);
    expect(version.stdout.trim()).to.equal(PACKAGE_VERSION);
  });

  it('exits 2 with a clear message on an unknown flag or a bad value', () => {
    const unknown = cli(['--frobnicate']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('--frobnicate');
    const bad = cli(['serve', '--port', 'abc']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--port');
    const outOfRange = cli(['--port', '70000', '--print-config', '--data-dir', dir]);
    expect(outOfRange.code).to.equal(2);
    expect(outOfRange.stderr).to.contain('"port"');
  });

  it('accepts snake_case and kebab-case spellings', () => {
    const snake = cli(['--print-config', '--data-dir', dir, '--binding_name', 'a', '--models_path', '/tmp/m1']);
    const kebab = cli(['--print-config', '--data_dir', dir, '--binding-name', 'a', '--models-path', '/tmp/m1']);
    expect(snake.code).to.equal(0);
    expect(snake.stdout).to.contain('binding_name: "a"  # cli');
    expect(kebab.stdout.split('\n').slice(1)).to.deep.equal(snake.stdout.split('\n').slice(1));
  });

  it('--print-config shows each value and its source; a flag beats env, env beats the file', async () => {
    const configFile = join(dir, 'print.yaml');
    await writeFile(configFile, 'port: 9700\ntemperature: 0.1\ntop_k: 7\n');
    const env = { LOLLMS_HOST_TEMPERATURE: '0.5', LOLLMS_HOST_PORT: '9701', LOLLMS_HOST_API_KEY: 'hunter2' };
    const out = cli(['--print-config', '--config', configFile, '--port', '9702', '--threads', '3'], env);
    expect(out.code).to.equal(0);
    expect(out.stdout).to.contain('port: 9702  # cli');
    expect(out.stdout).to.contain('temperature: 0.5  # env');
    expect(out.stdout).to.contain('top_k: 7  # file');
    expect(out.stdout).to.contain('n_threads: 3  # cli');
    expect(out.stdout).to.contain('seed: -1  # default');
    expect(out.stdout).to.contain('api_key: "***"  # env');
    expect(out.stdout).not.to.contain('hunter2');
  });

  it('refuses a non-loopback --host without an API key, saying why', () => {
    const out = cli(['--host', '0.0.0.0', '--port', '0', '--data-dir', dir, '--no-watch']);
    expect(out.code).to.equal(1);
    expect(out.stderr).to.contain('without an API key');
  });

  it('writes a test model with make-test-model', () => {
    const out = cli(['make-test-model', '--preset', 'tiny', join(dir, 'm.gguf')]);
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stdout).to.contain('gibberish');
  });

  it('starts, answers a connection on its port and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, '--port', String(port), '--data-dir', join(dir, 'serve'), '--no-watch', '--threads', '1', '--log-level', 'info'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOLLMS_HOST_ENABLE_GPU: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`host did not start:\n${stderr}`)), 30_000);
        const check = setInterval(() => {
          if (stderr.includes('Serving on address')) {
            clearInterval(check);
            clearTimeout(timer);
            resolve();
          }
        }, 50);
      });
      const socket = connectClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      socket.close();
      child.kill('SIGTERM');
      const code = await exited;
      expect(code, stderr).to.equal(0);
      expect(stderr).to.contain('stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
