/**
 * The pool of sandbox processes (issue 18): idle processes are ended and started again on demand, their number
 * is bounded with LRU eviction, a busy one is never ended, and one sandbox's process dying never takes another
 * sandbox's call with it.
 */
import { expect } from 'chai';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileProcessor, DEFAULT_SANDBOX_LIMITS, ProcessorSandbox, SandboxPool, type SandboxCall, type SandboxHostApi, type SandboxStartReason } from '../core/sandbox/index.js';
import type { PersonalityView } from '../plugin-api/processor.js';
import { connectTestClient } from '../core/testing.js';
import { generate } from './helpers/host.js';

const SOURCE = `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({
  async processModelInput(text, ctx) {
    if (text === 'generate') return 'got ' + (await ctx.generate('x'));
    return 'in:' + text;
  },
});
`;

const PERSONALITY = { name: 'pooled', folder: 'pooled' } as PersonalityView;

/** A host API whose `generate` waits until the test releases it. */
function heldHost() {
  let release!: (text: string) => void;
  const answered = new Promise<string>((resolve) => (release = resolve));
  let called!: () => void;
  const started = new Promise<void>((resolve) => (called = resolve));
  const host: SandboxHostApi = {
    generate: async () => {
      called();
      return answered;
    },
    tokenize: async () => [],
    detokenize: async () => '',
    emit() {},
    log() {},
  };
  return { host, release, started };
}

const plainHost = heldHost().host;
const call = (host: SandboxHostApi = plainHost): SandboxCall => ({ host, settings: {}, personality: PERSONALITY, signal: new AbortController().signal });

describe('SandboxPool: bounded, reclaimable sandbox processes (issue 18)', function () {
  this.timeout(60_000);
  let root: string;
  let bundle: { code: string; sourceMap: string };
  const sandboxes: ProcessorSandbox[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lh-pool-'));
    await mkdir(join(root, 'p', 'scripts'), { recursive: true });
    await writeFile(join(root, 'p', 'scripts', 'processor.ts'), SOURCE);
    bundle = await compileProcessor(join(root, 'p'));
  });
  afterEach(async () => {
    await Promise.all(sandboxes.splice(0).map((s) => s.dispose()));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** A pool whose events are recorded, and a way to wait for the next one of a kind. */
  function recordedPool(options: { idleMs: number; maxProcesses: number }) {
    const events: string[] = [];
    const waiters: Array<{ event: string; resolve: () => void }> = [];
    const note = (event: string) => {
      events.push(event);
      for (const w of waiters.filter((w) => w.event === event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    };
    const pool = new SandboxPool({
      idleMs: () => options.idleMs,
      maxProcesses: () => options.maxProcesses,
      observer: {
        started: (reason: SandboxStartReason) => note(`start:${reason}`),
        reclaimed: (why) => note(`reclaim:${why}`),
        violation: (kind) => note(`violation:${kind}`),
      },
    });
    const nextEvent = (event: string) => new Promise<void>((resolve) => waiters.push({ event, resolve }));
    return { pool, events, nextEvent };
  }

  async function create(pool: SandboxPool, name: string): Promise<ProcessorSandbox> {
    const sandbox = await ProcessorSandbox.create({ name, ...bundle, limits: DEFAULT_SANDBOX_LIMITS, pool });
    sandboxes.push(sandbox);
    return sandbox;
  }

  /** Resolves once `sandbox` has no process (the pool's reclaim has gone through). */
  async function stopped(sandbox: ProcessorSandbox, pid: number): Promise<void> {
    while (sandbox.running || isAlive(pid)) await new Promise((r) => setTimeout(r, 5));
  }

  it('keeps at most maxProcesses running, ends the least recently used idle one, and wakes an ended one on its next call', async () => {
    const { pool, events } = recordedPool({ idleMs: -1, maxProcesses: 2 });
    const a = await create(pool, 'a');
    const pidA = a.pid!;
    const b = await create(pool, 'b');
    expect(pool.processes).to.equal(2);
    // a is used after b: b is now the least recently used.
    expect(await a.run('processModelInput', 'one', call())).to.equal('in:one');
    const c = await create(pool, 'c');
    expect(events).to.deep.equal(['start:load', 'start:load', 'start:load', 'reclaim:evicted']);
    await stopped(b, b.pid!);
    expect([a.running, b.running, c.running]).to.deep.equal([true, false, true]);
    expect(a.pid).to.equal(pidA);
    // b's next call starts a new process (a wake); the least recently used idle one (a) makes room.
    expect(await b.run('processModelInput', 'two', call())).to.equal('in:two');
    expect(events.slice(4)).to.deep.equal(['start:wake', 'reclaim:evicted']);
    await stopped(a, pidA);
    expect([a.running, b.running, c.running]).to.deep.equal([false, true, true]);
    expect(pool.processes).to.equal(2);
    expect(b.processesStarted).to.equal(2);
  });

  it('ends a process idle for idleMs (0: right after its call) and serves the next call from a new one', async () => {
    const { pool, nextEvent } = recordedPool({ idleMs: 0, maxProcesses: 8 });
    const reclaimed = nextEvent('reclaim:idle');
    const sandbox = await create(pool, 'idle');
    const pid = sandbox.pid!;
    await reclaimed;
    await stopped(sandbox, pid);
    expect(pool.processes).to.equal(0);
    const again = nextEvent('reclaim:idle');
    expect(await sandbox.run('processModelInput', 'back', call())).to.equal('in:back');
    expect(sandbox.pid).not.to.equal(pid);
    await again;
  });

  it('never ends a busy process: the pool runs over its cap and reclaimIdle skips it, until the call ends', async () => {
    const { pool, events } = recordedPool({ idleMs: -1, maxProcesses: 1 });
    const busy = await create(pool, 'busy');
    const pid = busy.pid!;
    const held = heldHost();
    const running = busy.run('processModelInput', 'generate', call(held.host));
    await held.started;
    const other = await create(pool, 'other');
    expect(events).to.deep.equal(['start:load', 'start:load']);
    expect(pool.processes).to.equal(2);
    expect(pool.reclaimIdle()).to.equal(1);
    await stopped(other, other.pid!);
    expect(busy.running).to.equal(true);
    held.release('text');
    expect(await running).to.equal('got text');
    expect(busy.pid).to.equal(pid);
    expect(pool.reclaimIdle()).to.equal(1);
    await stopped(busy, pid);
  });

  it("a process that dies takes only its own call: another sandbox's call in flight completes", async () => {
    const { pool, nextEvent } = recordedPool({ idleMs: -1, maxProcesses: 8 });
    const victim = await create(pool, 'victim');
    const bystander = await create(pool, 'bystander');
    const victimHeld = heldHost();
    const bystanderHeld = heldHost();
    const victimCall = victim.run('processModelInput', 'generate', call(victimHeld.host));
    const bystanderCall = bystander.run('processModelInput', 'generate', call(bystanderHeld.host));
    await Promise.all([victimHeld.started, bystanderHeld.started]);
    const crashed = nextEvent('violation:crashed');
    process.kill(victim.pid!, 'SIGKILL');
    const failure = await victimCall.then(() => expect.fail('the killed call succeeded'), (error: { code?: string }) => error);
    expect(failure.code).to.equal('LH_ERR_SANDBOX_CRASHED');
    await crashed;
    bystanderHeld.release('still here');
    expect(await bystanderCall).to.equal('got still here');
    // The victim restarts for its next call.
    const restarted = nextEvent('start:restart');
    expect(await victim.run('processModelInput', 'again', call())).to.equal('in:again');
    await restarted;
  });
});

describe('300 mounted processor personalities on one host (issue 18)', function () {
  // Mounting starts a sandbox process per personality (the trial load): about 0.1 s each here.
  this.timeout(600_000);
  const COUNT = 300;
  const GIB = 1024 ** 3;
  let child: ChildProcess;
  let ask: <T>(command: unknown) => Promise<T>;

  before(async () => {
    child = fork(fileURLToPath(new URL('./helpers/many-personalities-host.ts', import.meta.url)), [], {
      execArgv: ['--no-node-snapshot', '--conditions=lollms-host-source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const replies: Array<(reply: unknown) => void> = [];
    child.on('message', (reply) => replies.shift()?.(reply));
    await new Promise<void>((resolve) => replies.push(() => resolve()));
    ask = <T>(command: unknown) =>
      new Promise<T>((resolve, reject) => {
        replies.push((reply) => ((reply as { error?: string }).error ? reject(new Error((reply as { error: string }).error)) : resolve(reply as T)));
        child.send(command as never);
      });
  });
  after(async () => {
    if (child?.connected) await ask({ kind: 'exit' }).catch(() => {});
    child?.kill();
  });

  it('all serve, and the host with its sandbox processes stays under 1 GiB of resident memory', async () => {
    const started = await ask<{ url: string; mounted: number }>({ kind: 'start', count: COUNT, config: {} });
    expect(started.mounted).to.equal(COUNT);
    const after = await ask<{ memory: { rss: number; processes: number }; processes: number }>({ kind: 'memory' });
    // The default cap (sandbox_max_processes: 8) bounds the sandbox processes, whatever the number mounted.
    expect(after.processes).to.be.at.most(8);
    expect(after.memory.rss).to.be.below(GIB);
    // The first, long reclaimed, and the last, still running, both answer with their own processor.
    const socket = await connectTestClient(started.url);
    try {
      for (const id of [0, COUNT - 1, 150]) {
        const reply = await generate(socket, { prompt: 'hi', personality: id });
        expect(reply.text).to.equal(`hello from ${id}`);
      }
    } finally {
      socket.close();
    }
    const served = await ask<{ memory: { rss: number }; processes: number }>({ kind: 'memory' });
    expect(served.processes).to.be.at.most(8);
    expect(served.memory.rss).to.be.below(GIB);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
