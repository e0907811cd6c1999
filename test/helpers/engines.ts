/**
 * Real engines for the remote-pool tests: lollms-host processes serving the OpenAI-compatible API on the tiny
 * test model (engine-process.ts). An engine can be killed (SIGKILL: no goodbye, as a crashed machine) and
 * started again on the same port.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./engine-process.ts', import.meta.url));

/** One engine process. */
export interface EngineProcess {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Its OpenAI base URL, `<url>/v1`. */
  readonly baseUrl: string;
  /** Kill it at once (SIGKILL) and wait until it is gone. */
  kill(): Promise<void>;
  /** Start it again on the same port (after `kill`). */
  restart(): Promise<void>;
  /** Stop it cleanly. */
  stop(): Promise<void>;
}

function launch(port: number, config: Record<string, unknown>): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(SCRIPT, [String(port), JSON.stringify(config)], {
    execArgv: ['--no-node-snapshot', '--conditions=lollms-host-source', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`engine process exited with ${code} before it served`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve({ child, url: (message as { url: string }).url });
    });
  });
}

const gone = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r())));

/** Start an engine process; `config` adds host config values (e.g. `{ tokenize_routes: false }`). */
export async function startEngine(config: Record<string, unknown> = {}): Promise<EngineProcess> {
  let { child, url } = await launch(0, config);
  const port = Number(new URL(url).port);
  return {
    url,
    port,
    baseUrl: `${url}/v1`,
    async kill() {
      child.kill('SIGKILL');
      await gone(child);
    },
    async restart() {
      ({ child, url } = await launch(port, config));
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send('stop');
      await gone(child);
    },
  };
}
