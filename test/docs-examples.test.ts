/**
 * Every ```ts block of README.md and docs/*.md must type-check, so that the docs cannot rot: each block is
 * written as a module into `.docs-examples/<run>/` INSIDE the repository (so `lollms-host/...` imports resolve
 * through the package's self-reference, to the sources, like a plugin's would), then one `tsc --noEmit` run
 * with a tsconfig that extends the root one checks them all.
 *
 * A block whose info string is `ts no-check` is skipped: keep that for deliberately partial snippets.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PACKAGE_ROOT } from '../core/util/package-root.js';

/** One fenced TypeScript block of a document. */
export interface DocBlock {
  /** The document, relative to the repository (`docs/client.md`). */
  doc: string;
  /** 1-based line of the block's first code line in the document. */
  line: number;
  /** The code, without the fence and its indentation. */
  code: string;
  /** The info string said `no-check`. */
  skip: boolean;
}

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript|tsx|mts)\b(.*)$/;

/** The ```ts blocks of a Markdown text (fences may be indented, e.g. in lists). */
export function extractTsBlocks(markdown: string, doc: string): DocBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: DocBlock[] = [];
  let inOther: string | undefined; // the fence of a non-TS block being skipped
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (inOther !== undefined) {
      if (line.trim().startsWith(inOther) && line.trim().replace(/[`~]/g, '') === '') inOther = undefined;
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    if (!open) {
      const other = /^\s*(`{3,}|~{3,})/.exec(line);
      if (other) inOther = other[1];
      continue;
    }
    const [, indent = '', fence = '```', , info = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, '') === '') break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    blocks.push({ doc, line: i + 2, code: body.join('\n'), skip: /\bno-check\b/.test(info) });
    i = j;
  }
  return blocks;
}

async function documents(): Promise<string[]> {
  const docs = (await readdir(join(PACKAGE_ROOT, 'docs'))).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

describe('documentation examples', function () {
  this.timeout(120_000);
  const root = join(PACKAGE_ROOT, '.docs-examples');
  const dir = join(root, `${process.pid}-${randomBytes(3).toString('hex')}`);

  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rmdir(root).catch(() => {}); // only when no other run is using it
  });

  it('finds the fenced blocks, with their lines, and skips `ts no-check`', () => {
    const md = ['# t', '```ts', 'const a = 1;', '```', '```sh', '```ts', '```', '  ```ts no-check', '  partial(', '  ```', '~~~typescript', 'let b;', '~~~'].join('\n');
    const blocks = extractTsBlocks(md, 'x.md');
    expect(blocks.map((b) => [b.line, b.code, b.skip])).to.deep.equal([
      [3, 'const a = 1;', false],
      [9, 'partial(', true],
      [12, 'let b;', false],
    ]);
  });

  it('every ```ts block of README.md and docs/*.md type-checks', async () => {
    const blocks: DocBlock[] = [];
    for (const doc of await documents()) blocks.push(...extractTsBlocks(await readFile(join(PACKAGE_ROOT, doc), 'utf8'), doc));
    const checked = blocks.filter((b) => !b.skip);
    expect(checked.length, 'ts blocks found').to.be.greaterThan(0);

    await mkdir(dir, { recursive: true });
    const files = new Map<string, DocBlock>();
    for (const [index, block] of checked.entries()) {
      const file = `${block.doc.replace(/[^A-Za-z0-9]+/g, '_')}_${String(index).padStart(3, '0')}.ts`;
      files.set(file, block);
      // `export {}` makes every block a module of its own, so blocks may declare the same names.
      await writeFile(join(dir, file), `${block.code}\nexport {};\n`);
    }
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: relative(dir, join(PACKAGE_ROOT, 'tsconfig.json')), compilerOptions: { noEmit: true }, include: ['./*.ts'], exclude: [] }, null, 2),
    );
    const tsc = join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '--noEmit', '--pretty', 'false', '-p', join(dir, 'tsconfig.json')], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 110_000 });
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;

    // `file.ts(line,col): error TS...` back to `docs/x.md:line`, naming the block by its first line.
    const errors: string[] = [];
    for (const line of output.split('\n')) {
      const m = /([^/\\\s]+\.ts)\((\d+),(\d+)\): (error .*)$/.exec(line);
      if (!m) {
        if (/error/i.test(line)) errors.push(line.trim());
        continue;
      }
      const block = files.get(m[1]!);
      if (!block) {
        errors.push(line.trim());
        continue;
      }
      const first = block.code.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
      errors.push(`${block.doc}:${block.line + Number(m[2]) - 1}:${m[3]} (block at line ${block.line}, "${first.slice(0, 60)}"): ${m[4]}`);
    }
    if (run.status !== 0 && errors.length === 0) errors.push(`tsc exited with ${run.status}: ${output.trim() || run.error?.message}`);
    expect(errors, `doc examples that do not compile:\n${errors.join('\n')}\n`).to.deep.equal([]);
  });
});
