/**
 * Class 16: the compiler service (issue 11 §4). A personality whose sources nest brackets deeply (3 MB of
 * `[[[[` in a .json, `((((` in a .ts) made esbuild's service process die of a stack overflow, and every later
 * compile of every plugin failed ("The service is no longer running") until the host restarted. Now sources
 * are checked for nesting before esbuild parses them, and a dead service is restarted on the next compile.
 */
import { expect } from 'chai';
import { readFile, readdir, mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build as rawEsbuild } from 'esbuild';
import { compileBinding } from '../../../core/plugins/compile-binding.js';
import { MAX_NESTING, findDeepNesting } from '../../../core/plugins/nesting.js';
import { SecurityBench } from '../helpers.js';
import { generate } from '../../helpers/host.js';

/** Pids of this process's esbuild service children (Linux /proc). */
async function esbuildServicePids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('--service=')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('security 16: the compiler service survives hostile sources', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  it('3 MB of nested arrays in a .json is refused before esbuild parses it; the next personality compiles', async () => {
    const levels = 1_500_000;
    const failed = await bench.addFails('deep-json', { files: { 'scripts/deep.json': `${'['.repeat(levels)}${']'.repeat(levels)}` } });
    expect(failed.error).to.contain(`nest deeper than ${MAX_NESTING} levels`);
    expect(failed.error).to.contain('deep.json');
    const result = await bench.attack('plain');
    expect(result.text).to.equal('still compiling');
    await bench.expectContained(result);
  });

  it('hundreds of thousands of nested parentheses in a .ts are refused the same way', async () => {
    const levels = 300_000;
    const failed = await bench.addFails('deep-ts', { files: { 'scripts/deep.ts': `export default ${'('.repeat(levels)}1${')'.repeat(levels)};\n` } });
    expect(failed.error).to.contain(`nest deeper than ${MAX_NESTING} levels`);
  });

  it('ordinary nesting, and brackets inside strings, templates, comments and regexes, are not counted', async () => {
    const nested = JSON.stringify({ a: [[{ b: 'ok' }]] });
    const result = await bench.attack('nested-ok', 'x', { files: { 'scripts/data.json': nested } });
    expect(result.error).to.equal(undefined);
    expect(result.text).to.match(/^ok:\d+$/);
    expect(findDeepNesting(`${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`)).to.equal(undefined);
    expect(findDeepNesting(`${'['.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}`)?.depth).to.equal(MAX_NESTING + 1);
    expect(findDeepNesting(`const s = "${'('.repeat(5000)}"; // ${'['.repeat(5000)}\nconst r = /${'\\('.repeat(5000)}/;`)).to.equal(undefined);
    expect(findDeepNesting(`const t = \`${'${'.repeat(3)}1${'}'.repeat(3)}\`;`)).to.equal(undefined);
  });

  it('a dead esbuild service is restarted: the next compile works', async () => {
    // Make sure a service runs, then kill it as a stack overflow would.
    await bench.add('plain');
    const pids = await esbuildServicePids();
    expect(pids.length, 'an esbuild service process').to.be.at.least(1);
    const exited = pids.map((pid) => new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        readFile(`/proc/${pid}/stat`, 'utf8').then((s) => {
          if (/\) Z /.test(s)) throw new Error('zombie');
        }).catch(() => {
          clearInterval(poll);
          resolve();
        });
      }, 20);
    }));
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await Promise.all(exited);
    // esbuild itself now fails every call ...
    const raw = await rawEsbuild({ stdin: { contents: 'export const a = 1' }, write: false }).then(() => 'built', (e: Error) => e.message);
    expect(raw).to.match(/The service (was stopped|is no longer running)/);
    // ... and the host's compiles do not.
    const added = await bench.attack('nested-ok', 'y', { files: { 'scripts/data.json': JSON.stringify({ a: [[{ b: 'ok' }]] }) } });
    expect(added.error).to.equal(undefined);
  });

  it('a binding whose own sources nest too deeply fails to compile with the same clear error', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'lh-deep-binding-'));
    try {
      await mkdir(join(folder, 'deep'), { recursive: true });
      await writeFile(join(folder, 'deep', 'index.ts'), "import data from './data.json';\nexport default { data };\n");
      await writeFile(join(folder, 'deep', 'data.json'), `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
      const error = await compileBinding(join(folder, 'deep'), 'index.ts', { cacheDir: join(folder, 'cache') }).then(() => undefined, (e: Error) => e);
      expect(error?.message).to.contain(`nest deeper than ${MAX_NESTING} levels`);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    // And generation still works afterwards.
    expect((await generate(bench.bystander, { prompt: 'Hello', n_predicts: 2 })).error).to.equal(undefined);
  });
});
