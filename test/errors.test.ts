import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { ERRORS, formatErrorMessage, isErrorCode, PluginError } from '../plugin-api/index.js';
import { createError, errorCode, LollmsHostError } from '../core/errors.js';

const SOURCE_DIRS = ['core', 'plugin-api', 'plugins', 'client', 'sdk-templates', 'personalities', 'bin'];
const CODE = /LH_ERR_[A-Z0-9_]+/g;

async function filesUnder(dir: string, ext: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...(await filesUnder(path, ext)));
    else if (entry.isFile() && ext.test(entry.name)) out.push(path);
  }
  return out;
}

/** Every `LH_ERR_*` string in `files`, with where it was seen. */
async function codesIn(files: string[]): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(CODE)) if (!seen.has(match[0])) seen.set(match[0], relative(PACKAGE_ROOT, file));
  }
  return seen;
}

describe('error registry', () => {
  it('every LH_ERR_* code in the sources and the docs is registered', async () => {
    const files = [
      ...(await Promise.all(SOURCE_DIRS.map((d) => filesUnder(join(PACKAGE_ROOT, d), /\.(ts|js)$/)))).flat(),
      ...(await filesUnder(join(PACKAGE_ROOT, 'docs'), /\.md$/)),
    ];
    const unknown = [...(await codesIn(files))].filter(([code]) => !isErrorCode(code)).map(([code, where]) => `${code} (${where})`);
    expect(unknown, 'codes missing from plugin-api/errors.ts').to.deep.equal([]);
  });

  it('every registered code is raised somewhere and documented in docs/errors.md', async () => {
    const registry = [join('plugin-api', 'errors.ts'), join('core', 'errors.ts')];
    const sources = (await Promise.all(SOURCE_DIRS.map((d) => filesUnder(join(PACKAGE_ROOT, d), /\.(ts|js)$/)))).flat()
      .filter((f) => !registry.some((r) => f.endsWith(r)));
    const used = await codesIn(sources);
    // A code is raised through its factory in core/errors.ts, or by its string (bindings, the sandbox, the client).
    const core = await readFile(join(PACKAGE_ROOT, 'core', 'errors.ts'), 'utf8');
    const factories = new Map([...core.matchAll(/export const (\w+) = createError\('(LH_ERR_\w+)'\)/g)].map((m) => [m[2]!, m[1]!]));
    const text = (await Promise.all(sources.map((f) => readFile(f, 'utf8')))).join('\n');
    const doc = await readFile(join(PACKAGE_ROOT, 'docs', 'errors.md'), 'utf8');
    for (const [code, definition] of Object.entries(ERRORS)) {
      const factory = factories.get(code);
      const raised = used.has(code) || (factory !== undefined && new RegExp(`\\b${factory}\\b`).test(text));
      expect(raised, `${code} is raised nowhere`).to.equal(true);
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, `${code} has no row in docs/errors.md`).to.be.a('string');
      expect(row).to.contain(`| ${definition.status} |`);
    }
  });

  it('one spelling for cancellation', async () => {
    const files = (await Promise.all(SOURCE_DIRS.map((d) => filesUnder(join(PACKAGE_ROOT, d), /\.(ts|js)$/)))).flat();
    const codes = [...(await codesIn(files)).keys()];
    expect(codes.filter((c) => /CANCEL|ABORT/.test(c)).sort()).to.deep.equal(['LH_ERR_CANCELLED', 'LH_ERR_CLIENT_CANCELLED']);
  });

  it('factories, templates and plugin errors carry registered codes', () => {
    const error = createError('LH_ERR_QUEUE_FULL')('full');
    expect(error).to.be.instanceOf(LollmsHostError);
    expect(error).to.include({ code: 'LH_ERR_QUEUE_FULL', status: 503, message: 'full' });
    expect(formatErrorMessage('LH_ERR_QUEUE_FULL', { depth: 3 })).to.equal('the generation queue is full (3 waiting); retry later');
    expect(errorCode(new PluginError('LH_ERR_MODEL_LOAD', 'x'))).to.equal('LH_ERR_MODEL_LOAD');
    expect(errorCode(Object.assign(new Error('x'), { code: 'LH_ERR_MADE_UP' }))).to.equal(undefined);
  });
});
