/**
 * Class 19: what a sandbox process may do at the OS level (issue 11 §6). The isolate holds the guest; these
 * layers bind the sandbox process itself, i.e. also host-side code running in it (after an isolate escape):
 * Node's permission model (no file reads but isolated-vm's binary, no writes, no child processes, no worker
 * threads) and, where unprivileged user namespaces work, a network namespace of its own, no_new_privs and no
 * capabilities. The test runs its own code with exactly the launch of the real sandbox processes, then checks
 * a real personality's sandbox process from outside.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { prepareSandboxLaunch, spawnSandboxed } from '../../../core/sandbox/launch.js';
import { SecurityBench } from '../helpers.js';

/** Whether unprivileged user + network namespaces work on this machine (then the layer must be on). */
function namespacesWork(): boolean {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/unshare')) return false;
  return spawnSync('unshare', ['--user', '--map-root-user', '--net', '--', 'true']).status === 0;
}

describe('security 19: sandbox processes run with fewer rights than the host', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  let server: Server;
  let connections = 0;
  let port: number;

  before(async () => {
    await bench.start();
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await bench.stop();
  });

  it('host-side code in a sandbox process cannot read or write files, spawn processes or threads, or reach the network', async () => {
    const launch = await prepareSandboxLaunch();
    expect(launch.layers.permissionModel, 'Node permission model').to.equal(true);
    if (namespacesWork()) expect(launch.layers).to.deep.include({ networkNamespace: true, noNewPrivs: true });
    const target = join(bench.zoo, 'written-by-sandbox.txt');
    const code = `
      import { writeFileSync, readFileSync } from 'node:fs';
      import { spawnSync } from 'node:child_process';
      import { Worker } from 'node:worker_threads';
      import net from 'node:net';
      const out = {};
      const code = (e) => e?.code ?? String(e);
      try { writeFileSync(${JSON.stringify(target)}, 'x'); out.write = 'ok'; } catch (e) { out.write = code(e); }
      try { out.read = readFileSync(${JSON.stringify(bench.secretFile)}, 'utf8'); } catch (e) { out.read = code(e); }
      try { const r = spawnSync('true'); out.spawn = r.error ? code(r.error) : 'ok'; } catch (e) { out.spawn = code(e); }
      try { new Worker('1', { eval: true }).terminate(); out.worker = 'ok'; } catch (e) { out.worker = code(e); }
      out.net = await new Promise((resolve) => {
        const s = net.connect(${port}, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve('ok'); });
        s.once('error', (e) => resolve(code(e)));
      });
      process.send(out, () => process.exit(0));`;
    const child = spawnSandboxed(launch, { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, code);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    const out = await new Promise<Record<string, string>>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Record<string, string>));
      child.once('exit', (status) => reject(new Error(`sandbox child exited (${status}) without reporting: ${stderr}`)));
    });
    expect(out.write).to.equal('ERR_ACCESS_DENIED');
    expect(existsSync(target)).to.equal(false);
    expect(out.read).to.equal('ERR_ACCESS_DENIED');
    expect(out.spawn).to.equal('ERR_ACCESS_DENIED');
    expect(out.worker).to.equal('ERR_ACCESS_DENIED');
    if (launch.layers.networkNamespace) {
      expect(out.net).not.to.equal('ok');
      expect(connections, 'the loopback server saw a connection from the sandbox').to.equal(0);
    }
  });

  it("a personality's sandbox process has its own network namespace, no_new_privs and no capabilities", async () => {
    const id = await bench.add('plain');
    const result = await bench.attack('plain');
    expect(result.text).to.equal('sandboxed');
    const pid = bench.sandbox(id).pid;
    expect(pid).to.be.a('number');
    const launch = await prepareSandboxLaunch();
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline).to.include('--permission');
    expect(cmdline.join(' ')).not.to.match(/--allow-fs-write|--allow-child-process|--allow-worker|--expose-gc/);
    if (launch.layers.noNewPrivs) {
      expect(/NoNewPrivs:\s+1/.test(status), status).to.equal(true);
      expect(/CapEff:\s+0+\n/.test(status), status).to.equal(true);
      expect(/CapBnd:\s+0+\n/.test(status), status).to.equal(true);
    }
    if (launch.layers.networkNamespace) {
      expect(await readlink(`/proc/${pid}/ns/net`)).not.to.equal(await readlink('/proc/self/ns/net'));
    }
    await bench.expectContained(result);
    await writeFile(join(bench.zoo, 'noop'), '');
  });
});
