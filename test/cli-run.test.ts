import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startTestHost, TEST_MODEL_NAME, type TestHost } from '../core/testing.js';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import type { StatusReport } from '../core/transports/http/status.js';
import { cli, closedPort } from './helpers/cli.js';

const status = async (host: TestHost) => (await (await fetch(`${host.url}/status`)).json()) as StatusReport;

/** The built CLI in a process of its own, its stdin a pipe, as a script (or a test) drives it. */
class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  #waiters: Array<() => void> = [];
  constructor(args: string[]) {
    // Started with --no-node-snapshot, so bin/lollms-host.js runs the CLI in this very process (no wrapper in between).
    this.child = spawn(process.execPath, ['--no-node-snapshot', join(PACKAGE_ROOT, 'bin', 'lollms-host.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOLLMS_HOST_ENABLE_GPU: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => ((this.stdout += d.toString()), this.#wake()));
    this.child.stderr!.on('data', (d: Buffer) => ((this.stderr += d.toString()), this.#wake()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => (resolve(code), this.#wake())));
  }
  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
  /** Resolves once `test` holds (checked on each output). */
  async until(test: () => boolean, what: string): Promise<void> {
    while (!test()) {
      if (this.child.exitCode !== null) throw new Error(`the CLI exited (${this.child.exitCode}) before ${what}:\n${this.stdout}\n${this.stderr}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
  /** How many times `text` occurs in `stream`. */
  count(stream: 'stdout' | 'stderr', text: string): number {
    return this[stream].split(text).length - 1;
  }
}

describe('lollms-host run (issue 13: a chat in the terminal)', function () {
  this.timeout(120_000);
  let host: TestHost;
  /** The personalities the host mounted itself (its default config's); `run` leaves them as they were. */
  let mountedAtStart: StatusReport['personalities'];
  before(async () => {
    host = await startTestHost({ config: { ctx_size: 8192 } });
    mountedAtStart = (await status(host)).personalities;
  });
  after(() => host?.close());

  it('with a prompt: streams the answer of a personality, shows its steps, unmounts what it mounted, exit 0', async () => {
    const out = await cli(['run', 'english/thinking/chain_of_thoughts', 'Why is the sky blue?', '--url', host.url, '--n-predict', '4']);
    expect(out.code, out.stderr).to.equal(0);
    // chain_of_thoughts announces each idea as a step: ▸ when it starts, ✓ when it ends.
    expect(out.stderr).to.match(/ {2}▸ /).and.match(/ {2}✓ /);
    expect(out.stdout.trim()).to.not.equal('');
    expect((await status(host)).personalities).to.deep.equal(mountedAtStart);
  });

  it('with a model: a chat through the generic personality; --raw sends the prompt as is', async () => {
    const chatted = await cli(['run', TEST_MODEL_NAME, 'Hello', '--url', host.url, '--n-predict', '3']);
    expect(chatted.code, chatted.stderr).to.equal(0);
    const raw = await cli(['run', TEST_MODEL_NAME, 'Hello', '--raw', '--url', host.url, '--n-predict', '3']);
    expect(raw.code, raw.stderr).to.equal(0);
    const modes = (await status(host)).recent_generations.slice(-2).map((g) => [g.mode, g.personality ?? null, g.completion_tokens]);
    expect(modes).to.deep.equal([
      ['personality', 'english/generic/lollms', 3],
      ['raw', null, 3],
    ]);
  });

  it('with no host running, it starts one in this process on the same data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lollms-run-'));
    try {
      const port = await closedPort();
      const out = await cli(['run', TEST_MODEL_NAME, 'Hello', '--raw', '--n-predict', '3', '--port', String(port), '--data-dir', dir]);
      expect(out.code, out.stderr).to.equal(0);
      expect(out.stderr).to.contain(`no lollms-host answers at http://127.0.0.1:${port}: starting one in this process`);
      expect(out.stdout.trim()).to.not.equal('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a model the host does not have is a clear error, exit 1', async () => {
    const out = await cli(['run', 'no-such-model.gguf', 'Hello', '--url', host.url]);
    expect(out.code).to.equal(1);
    expect(out.stderr).to.contain('no-such-model.gguf');
  });

  it('interactive: a line per turn; Ctrl-C cancels the answer and the chat goes on; a second Ctrl-C exits', async () => {
    const run = new CliProcess(['run', TEST_MODEL_NAME, '--raw', '--url', host.url, '--n-predict', '8000']);
    try {
      await run.until(() => run.count('stdout', '>>> ') === 1, 'the first prompt');
      run.child.stdin!.write('Once upon a time\n');
      // Streaming: text arrives after the prompt before the generation ends.
      await run.until(() => run.stdout.length > '>>> '.length + 20, 'the first chunks');
      run.child.kill('SIGINT');
      await run.until(() => run.stderr.includes('(cancelled; Ctrl-C again to exit)'), 'the cancel notice');
      await run.until(() => run.count('stdout', '>>> ') === 2, 'the prompt after the cancel');
      const cancelled = (await status(host)).recent_generations.at(-1)!;
      expect(cancelled).to.deep.include({ mode: 'raw', outcome: 'cancelled' });

      // The chat goes on: the next line is answered, and the prompt comes back.
      run.child.stdin!.write('Hello again\n');
      await run.until(() => run.count('stdout', '>>> ') === 3, 'the prompt after the second answer');
      expect((await status(host)).recent_generations.at(-1)).to.deep.include({ mode: 'raw', outcome: 'done' });

      // At the prompt, a first Ctrl-C says how to leave; the second one leaves.
      run.child.kill('SIGINT');
      await run.until(() => run.stderr.includes('(Ctrl-C again, Ctrl-D or /bye to exit)'), 'the exit hint');
      run.child.kill('SIGINT');
      expect(await run.exited).to.equal(130);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });

  it('interactive: Ctrl-D (the end of the input) ends the chat with exit 0 after the last answer', async () => {
    const run = new CliProcess(['run', 'english/generic/lollms', '--url', host.url, '--n-predict', '2']);
    try {
      run.child.stdin!.end('Hi\n');
      expect(await run.exited, run.stderr).to.equal(0);
      expect((await status(host)).recent_generations.at(-1)).to.deep.include({ mode: 'personality', personality: 'english/generic/lollms', outcome: 'done' });
      expect((await status(host)).personalities).to.deep.equal(mountedAtStart);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
