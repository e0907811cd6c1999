/**
 * Sandbox processes are started ahead of need: the host keeps one spare, started and warmed while nothing
 * waits for it, so that creating a sandbox (mounting or hot-reloading a personality, waking an idle one) does
 * not wait for node and isolated-vm to start, nor run on code that runs for the first time.
 *
 * - **Warm.** A new spare is sent `warm` with the limits of the last sandbox started: it builds an isolate with
 *   those limits and runs a built-in processor through the trial load and one hook call in it (host code only,
 *   never a personality's), then disposes it, so that the personality's trial load and first call run on
 *   compiled code (`SandboxEngine.warmUp`). The personality gets an isolate of its own.
 * - **Started late.** Starting a node process blocks the host's event loop for a few ms (fork) and takes a
 *   core for a while: the next spare starts `SPARE_START_DELAY_MS` after the one taken reported, not while a
 *   reload or a wake still waits for its first answer.
 * - It is unref'd while it waits: it never keeps the host alive, and it exits when the host goes (its IPC
 *   channel closes).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { SandboxLimits } from './limits.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { readySandboxLaunch, spawnSandboxed, workerEntry } from './launch.js';

/** How long after a sandbox process reported (or ended) the next spare is started. */
export const SPARE_START_DELAY_MS = 150;

/**
 * Node flags of the sandbox process: an allowlist of the host's own (module loaders and resolution conditions,
 * so the worker loads like the host), plus the snapshot flag. Never a V8 flag: `--expose-gc` or
 * `--allow-natives-syntax` on the host would otherwise reach every guest isolate as globals or syntax.
 */
function workerExecArgv(): string[] {
  const valueFlags = new Set(['--import', '--loader', '--experimental-loader', '--conditions', '-C']);
  const plainFlags = new Set(['--enable-source-maps', '--no-experimental-require-module']);
  const argv = process.execArgv;
  const out = ['--no-node-snapshot'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.split('=')[0]!;
    if (plainFlags.has(arg)) out.push(arg);
    else if (valueFlags.has(name) && arg.includes('=')) out.push(arg);
    else if (valueFlags.has(arg) && i + 1 < argv.length) out.push(arg, argv[++i]!);
  }
  return out;
}

/** The environment of a sandbox process: the few variables node and its loaders read, nothing else. */
function sandboxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'TMPDIR', 'TMP', 'TEMP', 'TZ', 'LANG', 'LC_ALL', 'SYSTEMROOT']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

function forkSandboxChild(): ChildProcess {
  // The worker bundle with dropped rights (core/sandbox/launch.ts), once it is prepared; `fork` is the fallback.
  const launch = readySandboxLaunch();
  if (launch) return spawnSandboxed(launch, sandboxEnv());
  return fork(workerEntry(), [], {
    execArgv: workerExecArgv(),
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
    // The sandbox process gets no secrets of the host's environment (API keys, tokens): only what node needs.
    env: sandboxEnv(),
  });
}

let spare: ChildProcess | undefined;
/** Settles once the spare reported its warm-up (true: it completed) or ended (false). */
let spareWarmed: Promise<boolean> | undefined;
/** The limits of the last sandbox process taken: the spare prepares its isolate with them. */
let lastLimits: Required<SandboxLimits> | undefined;
let startTimer: NodeJS.Timeout | undefined;
/** Set by a shutdown: no new spare until a sandbox is taken again. */
let stopped = false;

/**
 * A started sandbox process for a new sandbox with `limits`: the spare when there is a live one, else a new
 * process. The caller sends it `init`, and calls `sandboxProcessReported` once it reported or ended.
 */
export function takeSandboxChild(limits: Required<SandboxLimits>): ChildProcess {
  lastLimits = limits;
  stopped = false;
  const ready = spare;
  spare = undefined;
  spareWarmed = undefined;
  const child = ready && ready.exitCode === null && ready.signalCode === null && ready.connected ? ready : forkSandboxChild();
  if (child === ready) {
    child.ref();
    (child.channel as { ref?: () => void } | undefined)?.ref?.();
    (child.stderr as { ref?: () => void } | null)?.ref?.();
  } else {
    ready?.kill('SIGKILL');
  }
  return child;
}

/**
 * A sandbox process taken with `takeSandboxChild` reported (its trial load) or ended: start the next spare
 * soon, once the work that waits on this one (a reload's swap, a wake's first answer) has likely passed.
 */
export function sandboxProcessReported(): void {
  if (spare || stopped || startTimer) return;
  startTimer = setTimeout(startSpare, SPARE_START_DELAY_MS);
  startTimer.unref();
}

function startSpare(): void {
  startTimer = undefined;
  if (spare || stopped) return;
  const next = forkSandboxChild();
  next.unref();
  (next.channel as { unref?: () => void } | undefined)?.unref?.();
  next.stderr?.resume();
  (next.stderr as { unref?: () => void } | null)?.unref?.();
  next.once('exit', () => {
    if (spare === next) spare = undefined;
  });
  spareWarmed = new Promise<boolean>((resolve) => {
    const onMessage = (message: FromWorker) => {
      if (message?.t !== 'warmed') return;
      next.off('message', onMessage);
      resolve(message.ok === true);
    };
    next.on('message', onMessage);
    next.once('exit', () => resolve(false));
  });
  if (lastLimits) {
    const warm: ToWorker = { t: 'warm', limits: { ...lastLimits } };
    next.send(warm, () => {
      // Not sent: the process ended, and the next take starts another.
    });
  }
  spare = next;
}

/**
 * Wait until a spare is started and warmed (diagnostics and tests): true once its warm-up completed, false
 * when its warm-up failed, it ended, or no spare is coming (none was taken yet, or the host shut down).
 */
export async function whenSpareReady(): Promise<boolean> {
  while (!spare && startTimer) await new Promise((resolve) => setTimeout(resolve, SPARE_START_DELAY_MS));
  return spareWarmed ?? false;
}

/** Stop the spare sandbox process (host shutdown); a later sandbox starts a new one. */
export function stopSpareSandboxProcess(): void {
  stopped = true;
  clearTimeout(startTimer);
  startTimer = undefined;
  spare?.kill('SIGKILL');
  spare = undefined;
}
