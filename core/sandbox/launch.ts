/**
 * How a sandbox process starts, with as few rights as the OS grants without privileges (issue 11 §6).
 *
 * - **One file, no loader.** The worker (`worker.ts` and the few modules it imports) is bundled once per host
 *   process with esbuild and handed to `node -` on stdin; only isolated-vm stays a separate (native) module. So
 *   the child needs no TypeScript loader, reads no project file, and can run under Node's permission model.
 * - **Node's permission model** (`--permission`): no file reads but isolated-vm's binary, no file writes,
 *   no child processes, no worker threads, no inspector, no WASI. `--allow-addons` is needed for isolated-vm.
 *   It binds JavaScript (the host's code in that process), not native code.
 * - **The kernel**, where unprivileged user namespaces work (util-linux `unshare`, `setpriv`): a network
 *   namespace of its own (no interface but a loopback that is down: no network at all), `no_new_privs`, an
 *   empty capability bounding set. These also bind native code, e.g. after a V8 escape.
 * Each layer is probed once; one that does not work here is left out and said so in the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Plugin } from 'esbuild';
import { build } from '../plugins/esbuild-service.js';

/** What a sandbox process is started with. */
export interface SandboxLaunch {
  /** The bundled worker (an ES module), fed to the child on stdin. */
  code: string;
  /** Program and arguments: node itself, or the `unshare`/`setpriv` wrapper around it. */
  command: string;
  args: string[];
  /** The layers in force, for the log and the docs' "what remains". */
  layers: { permissionModel: boolean; networkNamespace: boolean; noNewPrivs: boolean };
}

/**
 * isolated-vm's native binary, as isolated-vm itself finds it (through node-gyp-build, run here in the host):
 * the only file a sandbox process reads. The bundle loads it directly, so the child needs neither
 * node-gyp-build (which probes the file system) nor isolated-vm's JavaScript.
 */
function isolatedVmBinary(): string {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('isolated-vm/package.json'));
  const gypBuild = createRequire(join(dir, 'package.json'))('node-gyp-build') as { resolve(dir: string): string };
  return gypBuild.resolve(dir);
}

/** The worker entry next to this file: `.ts` when the host runs from source, `.js` from the build. */
export function workerEntry(): string {
  const ext = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] === '.ts' ? '.ts' : '.js';
  return fileURLToPath(new URL(`./worker${ext}`, import.meta.url));
}

/** Bundle the worker into one ES module; `isolated-vm` becomes a shim that loads its binary. */
async function bundleWorker(binary: string): Promise<string> {
  const shim: Plugin = {
    name: 'lollms-host-sandbox-isolated-vm',
    setup(b) {
      b.onResolve({ filter: /^isolated-vm$/ }, () => ({ path: 'isolated-vm', namespace: 'lh-ivm' }));
      b.onLoad({ filter: /.*/, namespace: 'lh-ivm' }, () => ({
        // What isolated-vm.js exports: the addon's `ivm` object.
        contents: `import { createRequire } from 'node:module';\nexport default createRequire(${JSON.stringify(binary)})(${JSON.stringify(binary)}).ivm;\n`,
        loader: 'js',
      }));
    },
  };
  const result = await build({
    entryPoints: [workerEntry()],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'silent',
    tsconfigRaw: '{}',
    plugins: [shim],
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no sandbox worker bundle');
  return output.text;
}

/** Node flags of every sandbox process. Never a V8 flag of the host's (`--expose-gc` would reach every guest). */
function nodeArgs(permissionModel: boolean, binary: string): string[] {
  const args = ['--no-node-snapshot'];
  if (permissionModel) args.push('--permission', '--allow-addons', `--allow-fs-read=${binary}`, '--disable-warning=SecurityWarning');
  return [...args, '--input-type=module', '-'];
}

/** util-linux: a new user + network namespace (unprivileged), then no_new_privs and no capabilities. */
const WRAPPER = ['unshare', '--user', '--map-root-user', '--net', '--', 'setpriv', '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--'];

/** Run `command args` with `code` on stdin; resolves to whether it exited 0 within 10 s. */
function probe(command: string, args: string[], code: string): Promise<boolean> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    } catch {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', () => resolve(false));
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode === 0);
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(code);
  });
}

let launch: Promise<SandboxLaunch> | undefined;
let ready: SandboxLaunch | undefined;

/**
 * The launch of every sandbox process of this host, prepared once (a bundle and two probes, about 100 ms).
 * After it settles, `readySandboxLaunch()` returns it synchronously (spare processes, restarts).
 */
export function prepareSandboxLaunch(): Promise<SandboxLaunch> {
  launch ??= (async () => {
    const node = process.execPath;
    const binary = isolatedVmBinary();
    const check = `import { createRequire } from 'node:module';\nnew (createRequire(${JSON.stringify(binary)})(${JSON.stringify(binary)}).ivm.Isolate)({ memoryLimit: 8 }).dispose();\n`;
    const [code, permissionModel, wrapped] = await Promise.all([
      bundleWorker(binary),
      probe(node, nodeArgs(true, binary), check),
      process.platform === 'linux' ? probe(WRAPPER[0]!, [...WRAPPER.slice(1), node, ...nodeArgs(false, binary)], '') : Promise.resolve(false),
    ]);
    const args = nodeArgs(permissionModel, binary);
    ready = {
      code,
      command: wrapped ? WRAPPER[0]! : node,
      args: wrapped ? [...WRAPPER.slice(1), node, ...args] : args,
      layers: { permissionModel, networkNamespace: wrapped, noNewPrivs: wrapped },
    };
    return ready;
  })();
  launch.catch(() => (launch = undefined));
  return launch;
}

/** The launch, once `prepareSandboxLaunch` has settled; undefined before. */
export function readySandboxLaunch(): SandboxLaunch | undefined {
  return ready;
}

/**
 * Start a sandbox process: `code` (the worker bundle, or in tests any module) runs with the launch's rights,
 * an IPC channel, stderr piped, stdout ignored, and only the environment given.
 */
export function spawnSandboxed(spec: SandboxLaunch, env: NodeJS.ProcessEnv, code = spec.code): ChildProcess {
  const child = spawn(spec.command, spec.args, { stdio: ['pipe', 'ignore', 'pipe', 'ipc'], serialization: 'json', env });
  child.stdin?.on('error', () => {});
  child.stdin?.end(code);
  return child;
}
