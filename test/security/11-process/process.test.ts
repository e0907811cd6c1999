import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecurityBench } from '../helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Run `code` (an ES module) in a child node with `flags`; resolves with its exit status and output. */
function runNode(flags: string[], code: string, timeoutMs = 30_000): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - start });
    });
  });
}

/** Class 11: process-level faults. */
describe('security 11: process-level faults', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  it('refuses to load a processor personality without --no-node-snapshot (coded refusal)', async () => {
    const zoo = await mkdtemp(join(tmpdir(), 'lh-nosnap-'));
    try {
      await mkdir(join(zoo, 'p', 'scripts'), { recursive: true });
      await writeFile(join(zoo, 'p', 'config.yaml'), 'name: p\n');
      await writeFile(join(zoo, 'p', 'scripts', 'processor.ts'), "export default { async runWorkflow() { return 'x'; } };\n");
      const script = `
        const { loadPersonalityVersion } = await import(${JSON.stringify(join(ROOT, 'core/personalities/version.ts'))});
        try {
          await loadPersonalityVersion(${JSON.stringify(join(zoo, 'p'))}, { limits: {}, logger: { child() { return this; }, debug() {}, info() {}, warn() {}, error() {} } });
          console.log(JSON.stringify({ loaded: true }));
        } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
      const out = await runNode(['--conditions=lollms-host-source', '--import=tsx'], script);
      const reply = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string };
      expect(reply.code, out.stderr).to.equal('LH_ERR_SANDBOX_NODE_SNAPSHOT');
      expect(reply.message).to.contain('--no-node-snapshot');
    } finally {
      await rm(zoo, { recursive: true, force: true });
    }
  });

  it("onCatastrophicError is handled: logged, then the process exits non-zero (it does not hang)", async () => {
    // A real catastrophic error: a BigInt toString that ignores termination; isolated-vm gives up after 5 s.
    const script = `
      import ivm from 'isolated-vm';
      const { installCatastrophicErrorHandler, onCatastrophicError } = await import(${JSON.stringify(join(ROOT, 'core/sandbox/process-guards.ts'))});
      const log = (obj, msg) => console.log('LOG ' + msg);
      installCatastrophicErrorHandler({ debug: log, info: log, warn: log, error: log, fatal: log });
      const isolate = new ivm.Isolate({ memoryLimit: 32, onCatastrophicError: (m) => onCatastrophicError(m, 'evil') });
      const context = isolate.createContextSync();
      setInterval(() => {}, 1000);
      context.eval('(1n << 100000000n).toString().length', { timeout: 50 }).catch(() => {});`;
    const out = await runNode(['--no-node-snapshot', '--conditions=lollms-host-source', '--import=tsx'], script, 20_000);
    expect(out.stdout).to.match(/LOG isolated-vm catastrophic error in personality "evil": Script failed to terminate/);
    expect(out.code === 0 && out.signal === null, 'exited non-zero').to.equal(false);
    expect(out.signal ?? String(out.code)).to.match(/SIGKILL|70/);
  });

  it('a sandbox process killed mid-call: coded error, the host serves on, the next call gets a new process', async () => {
    const id = await bench.add('slow');
    const sandbox = bench.sandbox(id);
    const pid = sandbox.pid!;
    const pending = bench.attack('slow');
    await new Promise((r) => setTimeout(r, 150));
    process.kill(pid, 'SIGKILL');
    const result = await pending;
    expect(result.error).to.match(/personality "slow": (the processor's sandbox process ended|processor exceeded its CPU time limit)/);
    const next = await bench.attack('slow', 'ok');
    expect(next.text).to.equal('fine');
    expect(sandbox.pid).not.to.equal(pid);
    await bench.expectContained(result);
  });

  it('sandbox processes run with --no-node-snapshot and without the host environment', async () => {
    process.env['LH_TEST_HOST_SECRET'] = bench.secret;
    try {
      const id = await bench.add('plain');
      const sandbox = bench.sandbox(id);
      // Restart it, so it starts while the variable is set in the host.
      process.kill(sandbox.pid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      expect((await bench.attack('plain')).text).to.equal('fine');
      const { readFile } = await import('node:fs/promises');
      const cmdline = (await readFile(`/proc/${sandbox.pid}/cmdline`, 'utf8')).split('\0');
      const environ = await readFile(`/proc/${sandbox.pid}/environ`, 'utf8');
      expect(cmdline).to.include('--no-node-snapshot');
      expect(environ).not.to.contain(bench.secret);
    } finally {
      delete process.env['LH_TEST_HOST_SECRET'];
    }
  });
});
