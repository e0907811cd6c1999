import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPlugin, formatCheckResult, type CheckResult } from '../core/plugins/check.js';
import { parseDiagnostics, PROCESSOR_COMPILER_OPTIONS, resolveTsc, typeCheckProcessor } from '../core/plugins/typecheck.js';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { scaffold } from '../core/sdk/new.js';
import { writePersonality } from './helpers/zoo.js';

const API = "import { defineProcessor } from 'lollms-host/plugin-api';";
/** A config that draws no warning: host_api, and a name that matches the folder. */
const config = (name: string, extra = '') => `name: ${name}\nhost_api: "^1.0.0"\n${extra}`;
const WORKFLOW_CFG = 'processor_cfg:\n  custom_workflow: true\n';

/** The problems of a check as `file:line:column code message` lines, for short assertions. */
function lines(problems: CheckResult['errors']): string[] {
  return problems.map((p) => `${p.file ?? ''}${p.line !== undefined ? `:${p.line}:${p.column}` : ''} ${p.code ? `${p.code} ` : ''}${p.message}`);
}

describe('lollms-host check tells the truth', function () {
  this.timeout(120_000);
  let zoo: string;
  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-check-truth-'));
  });
  after(() => rm(zoo, { recursive: true, force: true }));

  describe('types', () => {
    it('reports type errors as a compiler does: file:line:col, code, message and a code frame', async () => {
      const folder = await writePersonality(zoo, 'misc/typos', config('typos', WORKFLOW_CFG), {
        'scripts/processor.ts': `${API}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

export default defineProcessor({
  async runWorkflow(input, ctx) {
    const label = 'Counting';
    const count: string = num(ctx.settings['count']);
    ctx.stepProgress(label, 'half');
    return count;
  },
});
`,
      });
      const result = await checkPlugin(folder);
      expect(lines(result.errors)).to.deep.equal([
        "scripts/processor.ts:10:11 TS2322 Type 'number' is not assignable to type 'string'.",
        "scripts/processor.ts:11:29 TS2345 Argument of type 'string' is not assignable to parameter of type 'number'.",
      ]);
      expect(result.warnings).to.deep.equal([]);
      expect(result.checked).to.include('processor types');
      const { problems, summary } = formatCheckResult(result, zoo);
      expect(problems[0]).to.equal(
        [
          "misc/typos/scripts/processor.ts:10:11 - error TS2322: Type 'number' is not assignable to type 'string'.",
          '',
          "   8 |   async runWorkflow(input, ctx) {",
          "   9 |     const label = 'Counting';",
          "> 10 |     const count: string = num(ctx.settings['count']);",
          '     |           ^',
          "  11 |     ctx.stepProgress(label, 'half');",
          '  12 |     return count;',
          '',
        ].join('\n'),
      );
      expect(summary).to.equal(`${folder}: 2 errors`);
    });

    it('accepts the sandbox\'s import forms (.ts, .js, extensionless, bare JSON) and console; refuses what the sandbox lacks', async () => {
      const folder = await writePersonality(zoo, 'misc/imports', config('imports', WORKFLOW_CFG), {
        'scripts/processor.ts': `${API}
import { a } from './a.ts';
import { b } from './b.js';
import { c } from './c';
import data from './data.json';
import more from './more.json' with { type: 'json' };

export default defineProcessor({
  async runWorkflow(input, ctx) {
    console.log(a, b, c);
    const n: number = data.n + more.m;
    setTimeout(() => ctx.log('never'), 1);
    return String(n);
  },
});
`,
        'scripts/a.ts': 'export const a = 1;',
        'scripts/b.ts': 'export const b = 2;',
        'scripts/c.ts': 'export const c = 3;',
        'scripts/data.json': '{"n": 1}',
        'scripts/more.json': '{"m": 2}',
      });
      const result = await checkPlugin(folder);
      expect(lines(result.errors)).to.deep.equal(["scripts/processor.ts:12:5 TS2304 Cannot find name 'setTimeout'."]);
    });

    it('never reads a file outside the folder: an import type or a reference out of it is not found, and nothing of it is quoted', async () => {
      const secret = `SECRET-${Date.now()}`;
      await writeFile(join(zoo, 'outside.ts'), `export type Secret = '${secret}';\ndeclare const LEAK: '${secret}';\n`);
      const folder = await writePersonality(zoo, 'misc/peek', config('peek', WORKFLOW_CFG), {
        'scripts/processor.ts': `/// <reference path="../../../outside.ts" />
${API}
import type { Secret } from '../../../outside.ts';

export default defineProcessor({
  async runWorkflow() {
    const s: Secret = 1 as never;
    const n: number = LEAK;
    return String(s) + n;
  },
});
`,
      });
      const result = await typeCheckProcessor(folder);
      const text = JSON.stringify(result);
      expect(text).not.to.contain(secret);
      expect(result.diagnostics.map((d) => d.code)).to.deep.equal(['TS2307', 'TS2304']);
      expect(result.diagnostics.every((d) => d.file === 'scripts/processor.ts')).to.equal(true);
    });

    it('skips the type check of a build error (the compiler already reported it) and can be turned off', async () => {
      const folder = await writePersonality(zoo, 'misc/syntax', config('syntax', WORKFLOW_CFG), {
        'scripts/processor.ts': `${API}\nexport default defineProcessor({\n  runWorkflow() { return 1 +; },\n});\n`,
      });
      const result = await checkPlugin(folder);
      expect(lines(result.errors)).to.deep.equal(['scripts/processor.ts:3:29 personality "syntax": scripts/processor.ts:3:29: Unexpected ";"']);
      expect(formatCheckResult(result, folder).problems[0]).to.match(/^scripts\/processor\.ts:3:29 - error: Unexpected ";"\n/);
      const typos = await checkPlugin(join(zoo, 'misc', 'typos'), { typecheck: false });
      expect(typos.errors).to.deep.equal([]);
      expect(typos.checked).not.to.include('processor types');
    });

    it('uses the compiler options the scaffolded tsconfig.json has, and parses tsc output', async () => {
      const template = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(PACKAGE_ROOT, 'sdk-templates', 'personality', 'tsconfig.json'), 'utf8')));
      expect(template.compilerOptions).to.deep.equal({ ...PROCESSOR_COMPILER_OPTIONS, lib: [...PROCESSOR_COMPILER_OPTIONS.lib], types: [...PROCESSOR_COMPILER_OPTIONS.types] });
      expect(resolveTsc()).to.be.a('string');
      const parsed = parseDiagnostics(
        ["scripts/p.ts(3,7): error TS2322: Type 'A' is not assignable", "  to type 'B'.", '../../lib/x.ts(1,1): error TS1005: x', 'error TS5023: Unknown option'].join('\n'),
        '/zoo/misc/p',
      );
      expect(parsed).to.deep.equal([
        { file: 'scripts/p.ts', line: 3, column: 7, category: 'error', code: 'TS2322', message: "Type 'A' is not assignable\n  to type 'B'." },
        { file: '../../lib/x.ts', line: 1, column: 1, category: 'error', code: 'TS1005', message: 'x' },
        { category: 'error', code: 'TS5023', message: 'Unknown option' },
      ]);
    });
  });

  describe('bindings', () => {
    it('a binding\'s build error names its file relative to the folder, with a code frame', async () => {
      const { folder } = await scaffold({ kind: 'binding', name: 'broken_binding', dir: join(zoo, 'bindings'), author: 'tests' });
      await appendFile(join(folder, 'index.ts'), '\nconst oops = ;\n');
      const result = await checkPlugin(folder);
      expect(result.errors).to.have.length(1);
      const [problem] = result.errors;
      expect(problem).to.include({ file: 'index.ts', column: 14 });
      expect(problem!.frame).to.match(/> \d+ \| const oops = ;\n\s+\| {14}\^/);
      expect(formatCheckResult(result, folder).problems[0]).to.match(/^index\.ts:\d+:14 - error: Unexpected ";"/);
    });
  });

  describe('config', () => {
    it('a processor.py-only personality whose config asks for hooks is an error that points to the porting guide', async () => {
      const folder = await writePersonality(zoo, 'art/novelist_py', config('novelist_py', WORKFLOW_CFG), { 'scripts/processor.py': 'class Processor: pass\n' });
      const result = await checkPlugin(folder);
      expect(lines(result.errors)).to.deep.equal([
        'config.yaml:4:3 processor_cfg.custom_workflow asks for a hook of scripts/processor.py, and lollms-host does not run Python processors: ' +
          'port it to scripts/processor.ts (see docs/writing-a-personality.md, "Porting a Python processor")',
      ]);
      // Without hook flags it is a plain personality: fine.
      const plain = await writePersonality(zoo, 'art/plain_py', config('plain_py'), { 'scripts/processor.py': 'class Processor: pass\n' });
      expect((await checkPlugin(plain)).errors).to.deep.equal([]);
    });

    it('a hook flag with no processor script at all is a warning: it generates as a plain personality', async () => {
      const folder = await writePersonality(zoo, 'art/novelist', config('novelist', WORKFLOW_CFG));
      const result = await checkPlugin(folder);
      expect(result.errors).to.deep.equal([]);
      expect(lines(result.warnings)).to.deep.equal([
        'config.yaml:4:3 processor_cfg.custom_workflow is true, but the personality has no scripts/processor.ts: it generates as a plain personality',
      ]);
      expect(formatCheckResult(result, zoo).summary).to.match(/: ok, 1 warning \(personality "novelist"/);
    });

    it('a flag asking for a hook the processor does not define is an error', async () => {
      const folder = await writePersonality(zoo, 'misc/nohook', config('nohook', `${WORKFLOW_CFG}  process_model_output: true\n`), {
        'scripts/processor.ts': `${API}\nexport default defineProcessor({ runWorkflow: () => 'x' });\n`,
      });
      expect(lines((await checkPlugin(folder)).errors)).to.deep.equal([
        'config.yaml:5:3 processor_cfg.process_model_output asks for processModelOutput, but scripts/processor.ts defines no processModelOutput: every turn fails',
      ]);
    });

    it('warns of a missing host_api, a processor.py next to processor.ts and a name that does not match its folder', async () => {
      const folder = await writePersonality(zoo, 'misc/helper', `name: Someone Else\n${WORKFLOW_CFG}`, {
        'scripts/processor.ts': `${API}\nexport default defineProcessor({ runWorkflow: () => 'x' });\n`,
        'scripts/processor.py': 'class Processor: pass\n',
      });
      const result = await checkPlugin(folder);
      expect(result.errors).to.deep.equal([]);
      expect(lines(result.warnings)).to.deep.equal([
        'scripts/processor.py scripts/processor.py is ignored: scripts/processor.ts is the processor',
        'config.yaml no host_api: add `host_api: "^1.0.0"` (the plugin API range the personality is written for), so that a host it does not fit refuses it with a clear error',
        'config.yaml:1:1 name "Someone Else" does not match the folder "helper": clients list it by folder and show the name',
      ]);
      // Case, spaces and underscores aside, a name matches its folder (the zoo's "Chain Of Thoughts" in chain_of_thoughts).
      const matching = await writePersonality(zoo, 'misc/chain_of_thoughts', config('Chain Of Thoughts'));
      expect((await checkPlugin(matching)).warnings).to.deep.equal([]);
    });

    it('a setting default outside its template is an error', async () => {
      const outside = await writePersonality(zoo, 'misc/outside', config('outside', WORKFLOW_CFG), {
        'scripts/processor.ts': `${API}\nexport default defineProcessor({\n  settings: { steps: { type: 'int', value: 20, min: 1, max: 10 } },\n  runWorkflow: () => 'x',\n});\n`,
      });
      expect(lines((await checkPlugin(outside)).errors)).to.deep.equal([' setting "steps": the default value does not fit its template: 20 is above the maximum 10']);
    });

    it('the CLI exits 1 on errors and 0 on warnings only, printing both on stderr', () => {
      const bin = join(PACKAGE_ROOT, 'bin', 'lollms-host.js');
      const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'check', ...args], { encoding: 'utf8', cwd: zoo, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
      const failed = run('misc/typos');
      expect(failed.status).to.equal(1);
      expect(failed.stderr).to.contain("misc/typos/scripts/processor.ts:10:11 - error TS2322: Type 'number' is not assignable to type 'string'.");
      const warned = run('art/novelist');
      expect(warned.status, warned.stderr).to.equal(0);
      expect(warned.stderr).to.contain('art/novelist/config.yaml:4:3 - warning: processor_cfg.custom_workflow is true');
      expect(warned.stdout).to.contain(': ok, 1 warning (personality "novelist"');
      const fast = run('--no-types', 'misc/typos');
      expect(fast.status, fast.stderr).to.equal(0);
    });
  });
});
