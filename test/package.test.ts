import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../core/util/package-root.js';

const run = promisify(execFile);

/**
 * The environment of a user's shell: without the npm_* variables of the npm run this test runs in. Under
 * `npx -y -p node@24 -c 'npm ci && npm test'` they include npm_config_call and npm_config_package, which would
 * turn every nested npx into that npx call.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { npm_config_update_notifier: 'false' };
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return env;
}

/** Run a command; on failure the error carries its output. */
async function sh(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: userEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/**
 * Issue 13: "npm install lollms-host" must work. The registry has no such package yet, so the supported ways are
 * a tarball from `npm pack` or a git URL; both go through the same `files` list and build on pack.
 */
describe('the npm package (npm pack, installed into an empty project)', function () {
  this.timeout(300_000);
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'lollms-pack-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('packs with a build on prepack, installs from the tarball, imports its entry points and runs its bin', async () => {
    // A copy of the sources without dist/, so that the tarball's dist/ can only come from the build on pack.
    const source = join(work, 'source');
    await mkdir(source);
    for (const entry of await readdir(PACKAGE_ROOT)) {
      if (['node_modules', 'dist', '.git', 'test', 'bench'].includes(entry) || entry.startsWith('.')) continue;
      await cp(join(PACKAGE_ROOT, entry), join(source, entry), { recursive: true });
    }
    await symlink(join(PACKAGE_ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    expect(existsSync(join(source, 'dist'))).to.equal(false);
    const packed = JSON.parse(await sh('npm', ['pack', '--json', '--pack-destination', work], source)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).to.include.members(['bin/lollms-host.js', 'dist/core/cli.js', 'dist/client/index.js', 'dist/client/browser.js', 'dist/plugin-api/index.js', 'plugins/llama_cpp/index.ts', 'personalities/english/generic/lollms/config.yaml']);
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('node_modules/'))).to.deep.equal([]);
    const tarball = join(work, packed[0]!.filename);

    // An empty project installs it. Dependencies come from the npm cache the repository's own `npm ci` filled
    // (--prefer-offline), without install scripts: isolated-vm and node-llama-cpp ship prebuilt binaries, and
    // no script of theirs is needed to import them. Optional packages (node-llama-cpp's GPU builds, hundreds of
    // MB) are left out: importing and --version do not load a binary.
    const project = join(work, 'project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    await sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional', '--loglevel=error'], project);

    const probe = `
      const client = await import('lollms-host/client');
      const api = await import('lollms-host/plugin-api');
      console.log(JSON.stringify({
        client: import.meta.resolve('lollms-host/client'),
        api: import.meta.resolve('lollms-host/plugin-api'),
        hasClient: typeof client.LollmsClient === 'function',
        apiVersion: api.PLUGIN_API_VERSION,
      }));`;
    const imported = JSON.parse(await sh(process.execPath, ['--input-type=module', '-e', probe], project)) as Record<string, unknown>;
    expect(imported['client']).to.match(/\/node_modules\/lollms-host\/dist\/client\/index\.js$/);
    expect(imported['api']).to.match(/\/node_modules\/lollms-host\/dist\/plugin-api\/index\.js$/);
    expect(imported['hasClient']).to.equal(true);
    expect(imported['apiVersion']).to.match(/^\d+\.\d+\.\d+$/);

    expect((await sh('npx', ['--no-install', 'lollms-host', '--version'], project)).trim()).to.equal(PACKAGE_VERSION);
  });
});
