import { writeSync } from 'node:fs';
import { SandboxNodeSnapshot } from '../errors.js';
import type { SandboxLogger } from './types.js';

type CatastrophicHandler = (message: string, personality: string) => void;

/** Exit code asked for after an isolated-vm catastrophic error (EX_SOFTWARE). See `hardExit`. */
export const CATASTROPHIC_EXIT_CODE = 70;

/**
 * End the process at once, whatever state isolated-vm left it in. After "Script failed to terminate"
 * isolated-vm parks the isolate's thread forever, and then `process.exit()` (even `process.reallyExit()`)
 * hangs in the exit path waiting for that thread (measured on Node 24 / isolated-vm 7.0.1). So: write the
 * reason synchronously to stderr, then SIGKILL ourselves. A supervisor sees a non-zero status (137 in a shell,
 * signal SIGKILL for `child_process`), never a hang.
 */
export function hardExit(code: number, reason: string): never {
  try {
    writeSync(2, `lollms-host: ${reason}; exiting (code ${code}, by SIGKILL)\n`);
  } catch {
    // stderr closed: exit anyway
  }
  process.exitCode = code;
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is delivered before kill() returns for the calling process; this is never reached.
  throw new Error('unreachable');
}

let catastrophicHandler: CatastrophicHandler = (message, personality) => {
  hardExit(CATASTROPHIC_EXIT_CODE, `isolated-vm catastrophic error in personality "${personality}": ${message}`);
};

/** The handler isolates report catastrophic errors to (see `installCatastrophicErrorHandler`). */
export function onCatastrophicError(message: string, personality: string): void {
  catastrophicHandler(message, personality);
}

/**
 * Route isolated-vm's `onCatastrophicError` (v8 lost control of an isolate: a script that ignored termination
 * for 5 s, or an out-of-memory inside v8) to `logger`, then exit non-zero: the isolate's thread and memory are
 * unrecoverable, so only a new process is healthy again. Isolates live in sandbox processes (see
 * `ProcessorSandbox`), so this ends a sandbox process and the host restarts it for the next call; should an
 * isolate ever run in the host process itself, the host exits the same way for its supervisor to restart it.
 * The default `exit` is `hardExit` (a plain `process.exit` hangs there). Returns the installed handler.
 */
export function installCatastrophicErrorHandler(
  logger: SandboxLogger,
  exit: (code: number) => void = (code) => hardExit(code, 'isolated-vm catastrophic error'),
): CatastrophicHandler {
  catastrophicHandler = (message, personality) => {
    try {
      const log = logger.fatal ?? logger.error;
      log.call(logger, { personality, error: message }, `isolated-vm catastrophic error in personality "${personality}": ${message}; exiting so that a supervisor restarts the process`);
    } finally {
      exit(CATASTROPHIC_EXIT_CODE);
    }
  };
  return catastrophicHandler;
}

/**
 * Throw `LH_ERR_SANDBOX_NODE_SNAPSHOT` unless node runs with `--no-node-snapshot` (on the command line or in
 * NODE_OPTIONS): isolated-vm 7 on Node 24 can crash without it. The sandbox processes are always started with
 * the flag; the host refuses anyway, so that a host started the unsupported way says so at once.
 */
export function assertNoNodeSnapshot(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): void {
  if (execArgv.includes('--no-node-snapshot')) return;
  if (/(^|\s)--no-node-snapshot(\s|$)/.test(nodeOptions ?? '')) return;
  throw SandboxNodeSnapshot(
    'processor sandboxes need node started with --no-node-snapshot (isolated-vm crashes without it); run `node --no-node-snapshot ...`',
  );
}
