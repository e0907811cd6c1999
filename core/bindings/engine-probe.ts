/**
 * Evidence for a failed engine start. node-llama-cpp 3.21 tests its prebuilt binary in a child process it forks
 * with the host's own node flags and environment, its output discarded; when that child ends before its first
 * message the start fails with only "Binding binary test failed to run a test process" and `NoBinaryFoundError`.
 * `probeBinaryTestProcess` starts the same child the same way, but keeps its exit code, signal and stderr, so
 * that the log says why.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

/** What the probe saw. */
export interface BinaryTestProbe {
  /** The child sent its first message (it started as node-llama-cpp expects). */
  ready: boolean;
  /** Exit code, or null when it ended by a signal (or was still running at the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The first 2 KB of its stderr. */
  stderr: string;
  /** Node flags it was started with (the host's, as node-llama-cpp passes them on). */
  execArgv: string[];
}

/** node-llama-cpp's test-process script (a file of the pinned 3.21.1 layout), or undefined when it moved. */
export function binaryTestScript(): string | undefined {
  const main = createRequire(import.meta.url).resolve('node-llama-cpp');
  const file = join(dirname(main), 'bindings', 'utils', 'testBindingBinary.js');
  return existsSync(file) ? file : undefined;
}

/** Start node-llama-cpp's binary test process as it does, and report how it went. Bounded by `timeoutMs`. */
export function probeBinaryTestProcess(timeoutMs = 30_000): Promise<BinaryTestProbe | undefined> {
  const script = binaryTestScript();
  if (!script) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const execArgv = [...process.execArgv];
    let ready = false;
    let stderr = '';
    const child = fork(script, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, TEST_BINDING_CP: 'true' } });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ ready, code, signal, stderr, execArgv });
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr?.on('data', (data: Buffer) => {
      if (stderr.length < 2048) stderr = (stderr + data.toString()).slice(0, 2048);
    });
    child.on('message', (message: { type?: string }) => {
      if (message?.type === 'ready') {
        ready = true;
        child.send({ type: 'exit' });
      }
    });
    child.on('error', (error) => {
      stderr += `spawn error: ${error.message}`;
    });
    child.on('exit', finish);
  });
}
