import { expect } from 'chai';
import { rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCodeFrame } from '../../../core/plugins/build-errors.js';
import { checkPlugin } from '../../../core/plugins/check.js';
import { PACKAGE_ROOT } from '../../../core/util/package-root.js';
import { CPU_MARGIN_MS, SECURITY_LIMITS, SecurityBench, type AttackResult } from '../helpers.js';

/**
 * Class 20: the error-mapping and type-checking paths of issue 14. A processor controls its errors' stacks
 * entirely (`stack`, `Error.prepareStackTrace`), and its sources decide what a type checker would read. None
 * of it may make the host read a file outside the personality folder, put a host path or a file's content on
 * the wire, or cost more than the sandbox's limits.
 */
describe('security 20: error mapping and type checking', function () {
  this.timeout(60_000);
  const bench = new SecurityBench(new URL('.', import.meta.url));
  before(() => bench.start());
  after(() => bench.stop());

  /** The generation_error of an attack, which must be placed in the author's files or not at all. */
  function expectMappedSafely(result: AttackResult): void {
    const error = result.events.find(([event]) => event === 'generation_error')?.[1] as Record<string, unknown> | undefined;
    expect(error, JSON.stringify(result.events)).to.not.equal(undefined);
    const wire = JSON.stringify(error);
    // The secret's path is the prompt (the guest knows it): no frame naming it survives. Host folders neither.
    for (const path of [bench.secretFile, bench.zoo, bench.host.dataDir, PACKAGE_ROOT, 'node:fs', 'lollms-host:bootstrap']) {
      expect(wire, `names ${path}`).not.to.contain(path);
    }
    if (error!['file'] !== undefined) expect(error!['file']).to.match(/^scripts\/[\w./-]+\.ts$/);
    const stack = typeof error!['stack'] === 'string' ? (error!['stack'] as string) : '';
    const frames = stack.split('\n').slice(1);
    expect(frames.length).to.be.at.most(12);
    for (const frame of frames) expect(frame).to.match(/^    at (?:[\p{L}\p{N}_$.<>[\] ]{1,120} )?\(?scripts\/[\w./-]+\.ts:\d+:\d+\)?$/u);
    expect(wire.length, 'a bounded payload').to.be.below(16_000);
  }

  it('a forged stack naming host files, absurd positions and hostile names maps to nothing outside the folder', async () => {
    const result = await bench.attack('forged-stack', bench.secretFile);
    expect(result.error).to.match(/^personality "forged-stack": processor threw in runWorkflow/);
    expectMappedSafely(result);
    expect(result.cpuMs, 'CPU of the sandbox process').to.be.below(SECURITY_LIMITS.sandbox_cpu_time_ms + CPU_MARGIN_MS);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('frames made by Error.prepareStackTrace are mapped like any stack text', async () => {
    const result = await bench.attack('prepare-stack', bench.secretFile);
    expect(result.error).to.match(/Cannot read properties of undefined \(reading 'boom'\)/);
    expectMappedSafely(result);
    expect(result.cpuMs, 'CPU of the sandbox process').to.be.below(SECURITY_LIMITS.sandbox_cpu_time_ms + CPU_MARGIN_MS);
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('a stack getter that never returns is stopped by the CPU limit', async () => {
    const result = await bench.attack('stack-getter', bench.secretFile);
    bench.expectStoppedByCpu(result, 'stack-getter');
    await bench.expectContained(result, SECURITY_LIMITS.sandbox_wall_time_ms);
  });

  it('the type check reads nothing outside the folder: import type and /// reference out of it stay unread', async () => {
    const outside = join(bench.zoo, 'outside.ts');
    await writeFile(outside, `export type Secret = '${bench.secret}';\ndeclare const LEAK: '${bench.secret}';\n`);
    const dir = await bench.writeCase('forged-stack');
    await writeFile(
      join(dir, 'scripts', 'processor.ts'),
      [
        '/// <reference path="../../../outside.ts" />',
        '/// <reference path="../../SECRET.txt" />',
        `/// <reference path="${bench.secretFile}" />`,
        "import type { Secret } from '../../../outside.ts';",
        `import type { Other } from '${outside}';`,
        'const leak: number = LEAK as Secret as Other;',
        'export default { async runWorkflow() { return String(leak); } };',
        '',
      ].join('\n'),
    );
    // Access times set in the past: any read of these files moves them (relatime semantics).
    const past = new Date(Date.now() - 3_600_000);
    await utimes(outside, past, new Date());
    await utimes(bench.secretFile, past, new Date());
    const before = [(await stat(outside)).atimeMs, (await stat(bench.secretFile)).atimeMs];
    const result = await checkPlugin(dir);
    const text = JSON.stringify(result);
    expect(text).not.to.contain(bench.secret);
    expect(result.errors.map((p) => p.code)).to.include('TS2307');
    for (const problem of result.errors) expect(problem.file).to.equal('scripts/processor.ts');
    expect([(await stat(outside)).atimeMs, (await stat(bench.secretFile)).atimeMs], 'a file outside the folder was read').to.deep.equal(before);
  });

  it('a code frame is never read through a symlink that leaves the folder', async () => {
    const dir = await bench.writeCase('stack-getter');
    const link = join(dir, 'scripts', 'util.ts');
    await rm(link, { force: true });
    await symlink(bench.secretFile, link);
    expect(await readCodeFrame(dir, 'scripts/util.ts', 1, 1)).to.equal(undefined);
    expect(await readCodeFrame(dir, '../../SECRET.txt', 1, 1)).to.equal(undefined);
    expect(await readCodeFrame(dir, bench.secretFile, 1, 1)).to.equal(undefined);
    expect(await readCodeFrame(dir, 'scripts/processor.ts', 1, 1)).to.be.a('string');
  });
});
