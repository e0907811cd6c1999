import { expect } from 'chai';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { withCpuOf } from './helpers/cpu.js';
import type { PersonalityView, ProcessorGenerateOptions } from '../plugin-api/processor.js';
import {
  assertNoNodeSnapshot,
  CATASTROPHIC_EXIT_CODE,
  compileProcessor,
  disposeIncrementalCompiles,
  installCatastrophicErrorHandler,
  ProcessorSandbox,
  whenSpareReady,
  type SandboxCall,
  type SandboxHostApi,
  type SandboxLimits,
} from '../core/sandbox/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/processors/', import.meta.url));

/**
 * Small limits keep the suite fast. The wall time limit is only a backstop here (no case below ends by it but
 * the one that tests it): on a loaded machine 200 ms of CPU can take seconds on the clock.
 */
const LIMITS: SandboxLimits = {
  memoryLimitMb: 32,
  cpuTimeMs: 200,
  wallTimeMs: 60_000,
  maxHostCalls: 200,
  maxEmitBytes: 64 * 1024,
  maxPayloadBytes: 64 * 1024,
};
const MARGIN_MS = 600;
/**
 * CPU the sandbox process may spend on a call beyond the CPU limit: its own timers and IPC, a new context and the
 * bootstrap, disposing the isolate after the breach, a late watchdog sample. CPU, unlike time on the clock, does
 * not grow when the machine is busy, so these bounds hold under any load.
 */
const CPU_MARGIN_MS = 250;

/** The CPU a failed call was charged, from its error message ("... (200 ms): 212 ms used, ..."). */
function chargedMs(error: Error): number {
  const used = /CPU time limit \(\d+ ms\): (\d+) ms used/.exec(error.message)?.[1];
  expect(used, `no CPU figure in: ${error.message}`).to.be.a('string');
  return Number(used);
}

const PERSONALITY: PersonalityView = {
  name: 'tester',
  folder: 'tester',
  author: 'test',
  version: '1.0.0',
  language: 'english',
  category: 'test',
  user_message_prefix: '### User:',
  ai_message_prefix: '### Assistant:',
  link_text: '\n',
  anti_prompts: ['###'],
  personality_conditioning: 'You are a tester.',
  model_temperature: 0.7,
  model_n_predicts: 64,
  model_top_k: 40,
  model_top_p: 0.9,
  model_repeat_penalty: 1.1,
  model_repeat_last_n: 64,
};

type Recorded =
  | { op: 'generate'; prompt: string; options: ProcessorGenerateOptions; signal: AbortSignal }
  | { op: 'tokenize'; text: string }
  | { op: 'detokenize'; tokens: number[] }
  | { op: 'emit'; type: number; content: string; metadata: Record<string, unknown> }
  | { op: 'log'; level: string; message: string };

/** A host API that records every call; `generate` answers `gen:<prompt>` unless replaced. */
function recordingHost(generate?: SandboxHostApi['generate']) {
  const calls: Recorded[] = [];
  const host: SandboxHostApi = {
    async generate(prompt, options, signal) {
      calls.push({ op: 'generate', prompt, options, signal });
      return generate ? generate(prompt, options, signal) : `gen:${prompt}`;
    },
    async tokenize(text) {
      calls.push({ op: 'tokenize', text });
      return [...text].map((c) => c.charCodeAt(0));
    },
    async detokenize(tokens) {
      calls.push({ op: 'detokenize', tokens });
      return String.fromCharCode(...tokens);
    },
    emit(type, content, metadata) {
      calls.push({ op: 'emit', type, content, metadata });
    },
    log(level, message) {
      calls.push({ op: 'log', level, message });
    },
  };
  return { host, calls, emits: () => calls.filter((c): c is Extract<Recorded, { op: 'emit' }> => c.op === 'emit') };
}

const tmpRoots: string[] = [];
const sandboxes: ProcessorSandbox[] = [];

/** A personality folder in a temp dir with `scripts/processor.ts` = `source` plus `files` (relative paths). */
async function personality(source: string, files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'lh-sandbox-'));
  tmpRoots.push(root);
  const dir = join(root, 'personality');
  await mkdir(join(dir, 'scripts'), { recursive: true });
  await writeFile(join(dir, 'scripts', 'processor.ts'), source);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  return dir;
}

async function sandboxOf(source: string, limits: Partial<SandboxLimits> = {}, files: Record<string, string> = {}): Promise<ProcessorSandbox> {
  const { code, sourceMap } = await compileProcessor(await personality(source, files));
  const sandbox = await ProcessorSandbox.create({ name: 'tester', code, sourceMap, limits: { ...LIMITS, ...limits } });
  sandboxes.push(sandbox);
  return sandbox;
}

function callWith(host: SandboxHostApi, extra: Partial<SandboxCall> = {}): SandboxCall {
  return { host, settings: { nb: 2 }, personality: PERSONALITY, signal: new AbortController().signal, ...extra };
}

/** The rejection of `promise` (fails the test if it resolves), with the time it took. */
async function rejection(promise: Promise<unknown>): Promise<{ error: Error & { code?: string; cause?: unknown }; ms: number }> {
  const start = performance.now();
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return { error: error as Error & { code?: string }, ms: performance.now() - start };
  }
}

/** A sandbox whose `processModelInput` runs `body` (guest code; `text` and `ctx` in scope). */
const hook = (body: string, extra = '') =>
  `import { defineProcessor } from 'lollms-host/plugin-api';\n${extra}\nexport default defineProcessor({\n  async processModelInput(text, ctx) {\n${body}\n  },\n});\n`;

/** After a fault: the next call works, on a fresh isolate. */
async function expectRecovery(sandbox: ProcessorSandbox, isolatesBefore: number): Promise<void> {
  expect(sandbox.isolatesCreated).to.equal(isolatesBefore);
  const { host } = recordingHost();
  // The fault fixtures branch on their input: 'ok' takes the healthy path.
  expect(await sandbox.run('processModelInput', 'ok', callWith(host))).to.equal('fine');
  expect(sandbox.isolatesCreated).to.equal(isolatesBefore + 1);
}

afterEach(() => {
  for (const sandbox of sandboxes.splice(0)) sandbox.dispose();
});

after(async () => {
  await Promise.all(tmpRoots.map((root) => rm(root, { recursive: true, force: true })));
});

describe('sandbox: compileProcessor', () => {
  it('bundles processor.ts, its relative imports and plugin-api into one script', async () => {
    const { code, files } = await compileProcessor(join(FIXTURES, 'basic'));
    expect(files.map((f) => f.slice(f.indexOf('scripts')))).to.deep.equal(['scripts/processor.ts', 'scripts/util.ts']);
    expect(code).to.match(/__lh_processor/);
    expect(code).not.to.match(/\brequire\(|^import /m);
  });

  const forbidden: Array<[string, string, RegExp]> = [
    ['a node builtin', `import x from 'fs';`, /import "fs": node builtins/],
    ['a node: builtin', `import x from 'node:process';`, /import "node:process": node builtins/],
    ['a package', `import x from 'lodash';`, /import "lodash": packages cannot be imported/],
    ['a ../ path leaving the folder', `import x from '../../outside.ts';`, /import "..\/..\/outside.ts": leaves the personality folder/],
    ['an absolute path', `import x from '/etc/passwd.ts';`, /import "\/etc\/passwd.ts": absolute paths/],
    ['a require() call', `const x = require('fs');`, /import "fs": node builtins/],
    ['a non-code file', `import x from './notes.txt';`, /import ".\/notes.txt"/],
    ['an import attribute picking a loader', `import x from './data.json' with { type: 'text' };`, /import attributes are not allowed/],
    ['a data: URL', `import x from 'data:text/javascript,export default 1';`, /packages cannot be imported/],
  ];
  for (const [what, line, message] of forbidden) {
    it(`refuses ${what} with file, line and column`, async () => {
      const dir = await personality(`// a comment\n${line}\nexport default { x };\n`, { 'scripts/notes.txt': 'hi', 'scripts/data.json': '{}' });
      await writeFile(join(dir, '..', 'outside.ts'), 'export default 1;');
      const { error } = await rejection(compileProcessor(dir));
      expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
      expect(error.message).to.match(message);
      const located = error as Error & { file?: string; line?: number; column?: number };
      expect(located.file).to.equal(join(dir, 'scripts', 'processor.ts'));
      expect(located.line).to.equal(2);
      expect(located.column).to.be.a('number').greaterThan(0);
    });
  }

  it('refuses a symlink that points outside the folder', async () => {
    const dir = await personality(`import secret from './link.ts';\nexport default { secret };\n`);
    await writeFile(join(dir, '..', 'secret.ts'), 'export default "secret";');
    await symlink(join(dir, '..', 'secret.ts'), join(dir, 'scripts', 'link.ts'));
    const { error } = await rejection(compileProcessor(dir));
    expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
    expect(error.message).to.match(/import ".\/link.ts": resolves \(through a symlink\) outside the personality folder/);
    expect((error as { line?: number }).line).to.equal(1);
  });

  it('refuses an entry that is a symlink to outside the folder', async () => {
    const dir = await personality('export default {};');
    await writeFile(join(dir, '..', 'evil.ts'), 'export default {};');
    await rm(join(dir, 'scripts', 'processor.ts'));
    await symlink(join(dir, '..', 'evil.ts'), join(dir, 'scripts', 'processor.ts'));
    const { error } = await rejection(compileProcessor(dir));
    expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
    expect(error.message).to.match(/outside the personality folder/);
  });

  it('reads no tsconfig.json or package.json around the folder', async () => {
    // Broken files next to and above the personality: esbuild would fail or warn if it read them.
    const dir = await personality(`import { x } from './util.js';\nexport default { x };\n`, {
      'scripts/util.ts': 'export const x: number = 1;',
      'tsconfig.json': '{ not json',
      'package.json': '{ not json',
    });
    await writeFile(join(dir, '..', 'tsconfig.json'), '{ "extends": "/nonexistent/base.json" }');
    const { code } = await compileProcessor(dir);
    expect(code).to.match(/x = 1/);
  });

  it('reports a syntax error with its location', async () => {
    const dir = await personality('export default {\n  oops: ,\n};\n');
    const { error } = await rejection(compileProcessor(dir));
    expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
    expect((error as { line?: number }).line).to.equal(2);
    // Named relative to the personality folder: no host path in a message that reaches clients.
    expect(error.message).to.equal('personality "personality": scripts/processor.ts:2:9: Unexpected ","');
    expect(error.message).not.to.contain(dir);
  });

  it('names no host path in the bundle or its source map, and marks plugin-api as library code', async () => {
    const dir = await personality(`import { defineProcessor } from 'lollms-host/plugin-api';\nimport { x } from './lib/util.ts';\nimport data from './data.json';\nexport default defineProcessor({ runWorkflow() { return x + data.n; } });\n`, {
      'scripts/lib/util.ts': 'export const x = "a";',
      'scripts/data.json': '{"n": 1}',
    });
    const { code, sourceMap } = await compileProcessor(dir);
    for (const text of [code, sourceMap]) {
      expect(text).not.to.contain(dir);
      expect(text).not.to.contain(tmpdir());
      expect(text).not.to.contain(PACKAGE_ROOT);
    }
    expect(code).to.contain('// personality:scripts/lib/util.ts');
    const map = JSON.parse(sourceMap) as { sources: string[]; ignoreList: number[]; sourcesContent?: unknown };
    const sources = [...map.sources].sort();
    const api = sources.filter((s) => s.startsWith('lollms-host/plugin-api/'));
    expect(api).to.deep.equal(['lollms-host/plugin-api/index.js']);
    expect(sources.filter((s) => !api.includes(s))).to.deep.equal(['scripts/data.json', 'scripts/lib/util.ts', 'scripts/processor.ts']);
    expect(map.ignoreList.map((i) => map.sources[i]).sort()).to.deep.equal(api);
    expect(map.sourcesContent, 'no source text travels with the map').to.equal(undefined);
  });

  it('carries only the parts of plugin-api the processor uses', async () => {
    const plain = await compileProcessor(await personality(`import { defineProcessor } from 'lollms-host/plugin-api';\nexport default defineProcessor({ runWorkflow() { return 'x'; } });\n`));
    // The error table is plugin-api's largest part: a processor that does not import it does not carry it.
    expect(plain.code).to.contain('defineProcessor').and.not.to.contain('LH_ERR_CONFIG_INVALID');
    const withTable = await compileProcessor(await personality(`import { defineProcessor, ERRORS } from 'lollms-host/plugin-api';\nexport default defineProcessor({ runWorkflow() { return String(Object.keys(ERRORS).length); } });\n`));
    expect(withTable.code).to.contain('LH_ERR_CONFIG_INVALID');
  });

  it('an incremental compile (hot reload) sees every save and applies the import rules to each one', async () => {
    const dir = await personality(`import { x } from './util.ts';\nexport default { x };\n`, { 'scripts/util.ts': 'export const x = "first";' });
    try {
      const first = await compileProcessor(dir, { incremental: true });
      expect(first.code).to.contain('"first"');
      await writeFile(join(dir, 'scripts', 'util.ts'), 'export const x = "second";');
      // Two reloads of one folder at once (the kept build serves one at a time), and a plain compile beside them.
      const both = await Promise.all([compileProcessor(dir, { incremental: true }), compileProcessor(dir, { incremental: true }), compileProcessor(dir)]);
      for (const compiled of both) {
        expect(compiled.code).to.contain('"second"');
        expect(compiled.files.map((f) => f.slice(f.indexOf('scripts')))).to.deep.equal(['scripts/processor.ts', 'scripts/util.ts']);
      }

      // A save that adds a forbidden import is refused, though the previous build was kept.
      await writeFile(join(dir, 'scripts', 'processor.ts'), `import fs from 'fs';\nexport default { fs };\n`);
      const { error } = await rejection(compileProcessor(dir, { incremental: true }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
      expect(error.message).to.match(/import "fs": node builtins/);

      // A file replaced by a symlink out of the folder between two builds is refused too.
      await writeFile(join(dir, 'scripts', 'processor.ts'), `import { x } from './util.ts';\nexport default { x };\n`);
      await writeFile(join(dir, '..', 'secret.ts'), 'export const x = "secret";');
      await rm(join(dir, 'scripts', 'util.ts'));
      await symlink(join(dir, '..', 'secret.ts'), join(dir, 'scripts', 'util.ts'));
      const escaped = await rejection(compileProcessor(dir, { incremental: true }));
      expect(escaped.error.message).to.match(/resolves \(through a symlink\) outside the personality folder/);

      // Fixed: compiles again, and lists only the files of this build.
      await rm(join(dir, 'scripts', 'util.ts'));
      await writeFile(join(dir, 'scripts', 'processor.ts'), `export default { x: "alone" };\n`);
      const fixed = await compileProcessor(dir, { incremental: true });
      expect(fixed.code).to.contain('"alone"');
      expect(fixed.files.map((f) => f.slice(f.indexOf('scripts')))).to.deep.equal(['scripts/processor.ts']);
    } finally {
      await disposeIncrementalCompiles();
    }
  });
});

describe('sandbox: ProcessorSandbox', () => {
  it('detects hooks and reads the settings template on the trial load', async () => {
    const { code } = await compileProcessor(join(FIXTURES, 'basic'));
    const sandbox = await ProcessorSandbox.create({ name: 'basic', code, limits: LIMITS });
    sandboxes.push(sandbox);
    expect(sandbox.hooks).to.deep.equal({ processModelInput: true, runWorkflow: true, processModelOutput: true });
    expect(sandbox.settingsTemplate).to.deep.equal({ nb_ideas: { type: 'int', value: 2, min: 1, max: 10, help: 'ideas to build' } });

    const only = await sandboxOf(`export default { runWorkflow() { return 'x'; } };`);
    expect(only.hooks).to.deep.equal({ processModelInput: false, runWorkflow: true, processModelOutput: false });
    const { error } = await rejection(only.run('processModelInput', 'x', callWith(recordingHost().host)));
    expect(error.code).to.equal('LH_ERR_SANDBOX_NO_HOOK');
  });

  it('fails the trial load of a script that throws, a bad default export or a load-time loop', async () => {
    const throws = await rejection(sandboxOf(`const ok = 1;\nthrow new Error('broken at load');\nexport default {};`));
    expect(throws.error.code).to.equal('LH_ERR_SANDBOX_LOAD');
    expect(throws.error.message).to.equal('personality "tester": the processor failed to load at scripts/processor.ts:2:7: Error: broken at load');
    expect(throws.error).to.include({ file: 'scripts/processor.ts', line: 2, column: 7 });
    const notObject = await rejection(sandboxOf(`export default 42;`));
    expect(notObject.error.code).to.equal('LH_ERR_SANDBOX_LOAD');
    expect(notObject.error.message).to.match(/default export .* must be an object/);
    const noDefault = await rejection(sandboxOf(`export const x = 1;`));
    expect(noDefault.error.code).to.equal('LH_ERR_SANDBOX_LOAD');
    const loop = await rejection(sandboxOf(`for (;;) {}\nexport default {};`));
    expect(loop.error.code).to.equal('LH_ERR_SANDBOX_TIMEOUT');
    // Stopped by the CPU limit (the wall limit is 60 s), at the limit: the process is gone, so the figure is the
    // meter's own (the cases below check it against the process's CPU).
    expect(loop.error.message).to.match(/CPU time limit \(200 ms\)/);
    expect(chargedMs(loop.error)).to.be.within(LIMITS.cpuTimeMs, LIMITS.cpuTimeMs + CPU_MARGIN_MS);
  });

  it('runs a workflow: steps, json, generate, tokenize with the right types and metadata', async () => {
    const { code } = await compileProcessor(join(FIXTURES, 'basic'));
    const sandbox = await ProcessorSandbox.create({ name: 'basic', code, limits: LIMITS });
    sandboxes.push(sandbox);
    const { host, calls, emits } = recordingHost();
    const text = await sandbox.run('runWorkflow', { prompt: 'cats', previousDiscussion: 'prev' }, callWith(host, { settings: { nb_ideas: 2 } }));
    expect(text).to.equal('tester: gen:prev\nidea 1 about cats | gen:prev\nidea 2 about cats (' + 'gen:prev\nidea 1 about cats gen:prev\nidea 2 about cats' + ')');
    expect(emits().map((e) => [e.type, e.content, e.metadata])).to.deep.equal([
      [8, 'idea 1', {}],
      [9, 'ideas', { progress: 50 }],
      [10, 'idea 1', { status: true }],
      [8, 'idea 2', {}],
      [9, 'ideas', { progress: 100 }],
      [10, 'idea 2', { status: true }],
      [11, JSON.stringify({ ideas: ['gen:prev\nidea 1 about cats', 'gen:prev\nidea 2 about cats'] }), { title: 'ideas' }],
      [6, 'tokens: 53', {}],
      [15, 'second', { type: 1 }],
    ]);
    const generates = calls.filter((c) => c.op === 'generate');
    expect(generates).to.have.length(2);
    expect(generates[0]).to.include({ prompt: 'prev\nidea 1 about cats' });
    expect(generates[0]?.options).to.deep.equal({ maxTokens: 16, stop: ['\n'] });
    expect(generates[0]?.signal).to.be.instanceOf(AbortSignal);
    expect(calls.find((c) => c.op === 'log')).to.deep.equal({ op: 'log', level: 'info', message: 'done with {"n":2}' });
    expect(await sandbox.run('processModelOutput', 'abc', callWith(host))).to.equal('ABC');
  });

  it('offers every message helper with its MSG_TYPE number', async () => {
    const sandbox = await sandboxOf(
      hook(`
    ctx.chunk('a'); ctx.full('b'); ctx.fullInvisibleToAi('c'); ctx.fullInvisibleToUser('d');
    ctx.exception('e'); ctx.warning('f'); ctx.info('g'); ctx.step('h'); ctx.stepStart('i');
    ctx.stepProgress('j', 42); ctx.stepEnd('k', false); ctx.json('l', [1]); ctx.ref('m'); ctx.code('n');
    ctx.ui('<b>o</b>'); ctx.newMessage('p', 3); ctx.finishedMessage();
    return Object.keys(ctx).sort().join(',');`),
    );
    const { host, emits } = recordingHost();
    const keys = await sandbox.run('processModelInput', 'x', callWith(host));
    expect(keys.split(',')).to.deep.equal(
      [
        'ask', 'callPersonality', 'chat', 'chunk', 'code', 'detokenize', 'embed', 'exception', 'finishedMessage', 'full', 'fullInvisibleToAi',
        'fullInvisibleToUser', 'generate', 'info', 'json', 'log', 'model', 'newMessage', 'personality', 'ref', 'settings', 'signal', 'state',
        'step', 'stepEnd', 'stepProgress', 'stepStart', 'store', 'tokenize', 'ui', 'warning',
      ],
    );
    expect(emits().map((e) => [e.type, e.content, e.metadata])).to.deep.equal([
      [0, 'a', {}], [1, 'b', {}], [2, 'c', {}], [3, 'd', {}], [4, 'e', {}], [5, 'f', {}], [6, 'g', {}], [7, 'h', {}],
      [8, 'i', {}], [9, 'j', { progress: 42 }], [10, 'k', { status: false }], [11, '[1]', { title: 'l' }], [12, 'm', {}],
      [13, 'n', {}], [14, '<b>o</b>', {}], [15, 'p', { type: 3 }], [17, '', {}],
    ]);
  });

  it('gives settings and personality as frozen copies', async () => {
    const sandbox = await sandboxOf(
      hook(`
    const out = [Object.isFrozen(ctx.settings), Object.isFrozen(ctx.settings.list), Object.isFrozen(ctx.personality),
      Object.isFrozen(ctx), ctx.personality.name, ctx.settings.list.length];
    try { ctx.settings.nb = 99; out.push('wrote'); } catch (e) { out.push(e.name); }
    try { ctx.settings.list.push(4); out.push('pushed'); } catch (e) { out.push(e.name); }
    return JSON.stringify(out);`),
    );
    const settings = { nb: 2, list: [1, 2, 3] };
    const out = await sandbox.run('processModelInput', 'x', callWith(recordingHost().host, { settings }));
    expect(JSON.parse(out)).to.deep.equal([true, true, true, true, 'tester', 3, 'TypeError', 'TypeError']);
    expect(settings).to.deep.equal({ nb: 2, list: [1, 2, 3] });
  });

  it('cancel aborts the in-flight generate, flips ctx.signal and makes every later ctx call throw CancelledError', async () => {
    const sandbox = await sandboxOf(
      hook(`
    const seen = [];
    try { await ctx.generate('long'); } catch (e) { seen.push('generate:' + e.name); }
    seen.push('aborted:' + ctx.signal.aborted);
    try { ctx.step('after'); } catch (e) { seen.push('step:' + e.name + ':' + e.code); }
    try { await ctx.tokenize('x'); } catch (e) { seen.push('tokenize:' + e.name); }
    throw new Error(JSON.stringify(seen));`),
    );
    const controller = new AbortController();
    let generateSignal: AbortSignal | undefined;
    let generating!: () => void;
    const called = new Promise<void>((resolve) => (generating = resolve));
    const { host, calls } = recordingHost(
      (_prompt, _options, signal) =>
        new Promise((_resolve, reject) => {
          generateSignal = signal;
          signal.addEventListener('abort', () => reject(new Error('aborted by host')));
          generating();
        }),
    );
    const pending = sandbox.run('processModelInput', 'x', callWith(host, { signal: controller.signal }));
    await called;
    controller.abort();
    const { error } = await rejection(pending);
    expect(generateSignal!.aborted).to.equal(true);
    expect(error.code).to.equal('LH_ERR_CANCELLED');
    expect(JSON.parse((error.cause as Error).message)).to.deep.equal([
      'generate:CancelledError',
      'aborted:true',
      'step:CancelledError:LH_ERR_CANCELLED',
      'tokenize:CancelledError',
    ]);
    expect(calls.filter((c) => c.op !== 'generate')).to.deep.equal([]);
  });

  it('bounds a workflow that ignores the cancel by its limits', async () => {
    const sandbox = await sandboxOf(
      hook(`
    if (text === 'ok') return 'fine';
    try { await ctx.generate('x'); } catch {}
    for (;;) {}`),
    );
    const controller = new AbortController();
    // The cancel comes while the workflow awaits its generate (not after a delay that a busy machine may outlast).
    const { host } = recordingHost((_p, _o, signal) => {
      const pending = new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('stop'))));
      controller.abort();
      return pending;
    });
    const { value: { error }, cpuMs } = await withCpuOf(() => sandbox.pid, () => rejection(sandbox.run('processModelInput', 'x', callWith(host, { signal: controller.signal }))));
    expect(error.code).to.equal('LH_ERR_SANDBOX_TIMEOUT');
    expect(error.message).to.match(/CPU time limit/);
    expect(cpuMs).to.be.below(LIMITS.cpuTimeMs + CPU_MARGIN_MS);
    await expectRecovery(sandbox, 1);
  });

  describe('faults: coded error within the limit, then a fresh isolate', () => {
    const cases: Array<{ what: string; body: string; code: string; alt?: string; message: RegExp; limits?: Partial<SandboxLimits>; extra?: string }> = [
      { what: 'a sync infinite loop', body: 'for (;;) {}', code: 'LH_ERR_SANDBOX_TIMEOUT', message: /CPU time limit \(200 ms\)/ },
      {
        what: 'an infinite loop after an await on the host',
        body: `await ctx.generate('x'); for (;;) {}`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        message: /CPU time limit/,
      },
      {
        what: 'an infinite loop inside .then',
        body: `return ctx.tokenize('x').then(() => { for (;;) {} });`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        message: /CPU time limit/,
      },
      {
        what: 'a microtask storm',
        body: `const storm = () => Promise.resolve().then(storm); storm(); return new Promise(() => {});`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        alt: 'LH_ERR_SANDBOX_MEMORY', // each link holds a promise: on a slow machine memory runs out first
        message: /CPU time limit|memory limit/,
      },
      {
        what: 'catastrophic regex backtracking',
        body: `return String(/^(a+)+$/.test('a'.repeat(40) + 'b'));`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        message: /CPU time limit/,
      },
      {
        what: 'a toJSON loop in the returned value',
        body: `return { toJSON() { for (;;) {} } };`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        message: /CPU time limit/,
      },
      {
        what: 'a getter loop in the returned value',
        body: `return { get answer() { for (;;) {} } };`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        message: /CPU time limit/,
      },
      {
        what: 'a looping message getter on an unhandled rejection (copied by isolated-vm outside the timeout)',
        body: `Promise.reject({ get message() { for (;;) {} } }); return 'x';`,
        code: 'LH_ERR_SANDBOX_TIMEOUT',
        message: /CPU time limit/,
      },
      {
        what: 'memory growth',
        body: `const keep = []; for (;;) keep.push(new Array(100000).fill(keep.length));`,
        code: 'LH_ERR_SANDBOX_MEMORY',
        message: /memory limit \(32 MB\)/,
        limits: { cpuTimeMs: 5_000 },
      },
      {
        what: 'a host-call flood',
        body: `for (;;) { try { ctx.step('s'); } catch {} }`,
        code: 'LH_ERR_SANDBOX_HOST_CALLS',
        message: /limit of 200 host calls/,
      },
      {
        what: 'an oversized emit',
        body: `ctx.json('big', 'x'.repeat(100 * 1024)); return 'sent';`,
        code: 'LH_ERR_SANDBOX_EMIT',
        message: /limit of 65536 bytes of messages/,
      },
      {
        what: 'many small emits over the byte budget',
        body: `for (let i = 0; i < 100; i++) ctx.info('y'.repeat(1000)); return 'sent';`,
        code: 'LH_ERR_SANDBOX_EMIT',
        message: /bytes of messages/,
      },
      {
        what: 'an oversized tokenize argument',
        body: `await ctx.tokenize('z'.repeat(1024 * 1024)); return 'tokenized';`,
        code: 'LH_ERR_SANDBOX_PAYLOAD',
        message: /ctx.tokenize argument larger than its limit of 65536 bytes/,
      },
      {
        what: 'a promise that can never settle',
        body: `await new Promise(() => {}).then(() => 1, () => 2); return 'never';`,
        code: 'LH_ERR_SANDBOX_SCRIPT',
        message: /can never settle/,
      },
    ];
    for (const c of cases) {
      it(`${c.what} → ${c.code}`, async () => {
        const sandbox = await sandboxOf(hook(`    if (text === 'ok') return 'fine';\n    ${c.body}`, c.extra), c.limits);
        const { host } = recordingHost();
        const { value: { error }, cpuMs } = await withCpuOf(() => sandbox.pid, () => rejection(sandbox.run('processModelInput', 'x', callWith(host))));
        expect([c.code, c.alt], error.message).to.include(error.code);
        expect(error.message).to.match(/^personality "tester": /);
        expect(error.message).to.match(c.message);
        // Whatever ended it, the call never ran past the CPU limit: measured on the sandbox process, not the clock.
        expect(cpuMs, 'the sandbox process ended').to.be.a('number');
        expect(cpuMs).to.be.below((c.limits?.cpuTimeMs ?? LIMITS.cpuTimeMs) + CPU_MARGIN_MS);
        if (c.code === 'LH_ERR_SANDBOX_SCRIPT') {
          // A guest failure does not cost the isolate.
          expect(await sandbox.run('processModelInput', 'ok', callWith(host))).to.equal('fine');
          expect(sandbox.isolatesCreated).to.equal(1);
        } else {
          await expectRecovery(sandbox, 1);
        }
      });
    }

    it('a thrown error → LH_ERR_SANDBOX_SCRIPT, keeping the isolate', async () => {
      const sandbox = await sandboxOf(hook(`    if (text === 'ok') return 'fine';\n    throw new RangeError('bad input');`));
      const { error } = await rejection(sandbox.run('processModelInput', 'x', callWith(recordingHost().host)));
      expect(error.code).to.equal('LH_ERR_SANDBOX_SCRIPT');
      expect(error.message).to.equal('personality "tester": processor threw in processModelInput at scripts/processor.ts:6:11: RangeError: bad input');
      expect((error.cause as Error).stack).to.equal('RangeError: bad input\n    at Object.processModelInput (scripts/processor.ts:6:11)');
      expect(await sandbox.run('processModelInput', 'ok', callWith(recordingHost().host))).to.equal('fine');
      expect(sandbox.isolatesCreated).to.equal(1);
    });

    it('an unhandled rejection → LH_ERR_SANDBOX_SCRIPT even when the hook returned', async () => {
      const sandbox = await sandboxOf(hook(`    if (text === 'ok') return 'fine';\n    Promise.reject(new Error('floating'));\n    return 'returned';`));
      const { error } = await rejection(sandbox.run('processModelInput', 'x', callWith(recordingHost().host)));
      expect(error.code).to.equal('LH_ERR_SANDBOX_SCRIPT');
      expect(error.message).to.equal('personality "tester": processor had an unhandled promise rejection in processModelInput at scripts/processor.ts:6:20: Error: floating');
      // isolated-vm's error carries the host's frames after the guest's: none of them is left.
      expect((error.cause as Error).stack).to.equal('Error: floating\n    at Object.processModelInput (scripts/processor.ts:6:20)');
      expect(await sandbox.run('processModelInput', 'ok', callWith(recordingHost().host))).to.equal('fine');
    });

    it('a host generate that never answers → wall time limit', async () => {
      const sandbox = await sandboxOf(hook(`    if (text === 'ok') return 'fine';\n    return await ctx.generate('x');`), { wallTimeMs: 300 });
      const { host } = recordingHost(() => new Promise(() => {}));
      const { error, ms } = await rejection(sandbox.run('processModelInput', 'x', callWith(host)));
      expect(error.code).to.equal('LH_ERR_SANDBOX_TIMEOUT');
      expect(error.message).to.equal('personality "tester": processor exceeded its wall time limit (300 ms)');
      expect(ms).to.be.within(290, 300 + MARGIN_MS);
      await expectRecovery(sandbox, 1);
    });

    it('builtins that ignore termination are refused by length instead of hanging the host', async () => {
      const sandbox = await sandboxOf(
        hook(`
    const tries = [
      () => new Array(1e8).fill(0),
      () => Array.from({ length: 1e8 }),
      () => { const a = []; a.length = 2 ** 32 - 1; return a.indexOf(1); },
      () => { const a = []; a.length = 2 ** 32 - 1; return a.reverse(); },
      () => Array.prototype.fill.call({ length: 1e8 }, 1),
      () => 'x'.repeat(2 ** 28),
      () => ''.padEnd(2 ** 28),
    ];
    return tries.map((f) => { try { f(); return 'ran'; } catch (e) { return e.name; } }).join(',');`),
      );
      const out = await sandbox.run('processModelInput', 'x', callWith(recordingHost().host));
      expect(out).to.equal('RangeError,RangeError,RangeError,RangeError,RangeError,RangeError,RangeError');
    });
  });

  it('keeps the guest away from process, require, ivm objects and the removed globals', async () => {
    const sandbox = await sandboxOf(
      hook(`
    const report = {};
    const probe = (name, f) => { try { const v = f(); report[name] = v === undefined ? 'undefined' : typeof v; } catch (e) { report[name] = 'threw ' + e.name; } };
    probe('process', () => process);
    const fsName = ['f', 's'].join('');
    probe('require', () => require(fsName)); // esbuild's shim for a dynamic require, which only throws
    probe('module', () => module);
    for (const g of ['require', 'process', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry', 'eval', 'global', '$0', '$1', '__lh_processor', 'ivm'])
      report['globalThis.' + g] = typeof globalThis[g];
    probe('Function()', () => Function('return this')());
    probe('new Function', () => new Function('return 1'));
    probe('ctor chain', () => this.constructor.constructor('return process')());
    probe('ctx ctor chain', () => ctx.generate.constructor('return process')());
    probe('ctx result chain', () => ctx.tokenize('a').constructor.constructor('return process')());
    probe('async ctor', () => (async () => {}).constructor('return 1'));
    probe('generator ctor', () => (function* () {}).constructor('return 1'));
    probe('error ctor', () => { try { ctx.json('t', 1n); } catch (e) { return e.constructor.constructor('return process')(); } });
    probe('Reflect SAB', () => Reflect.get(globalThis, 'SharedArrayBuffer'));
    report.import = await import(fsName).then(() => 'loaded', (e) => 'rejected ' + e.name);
    report.globals = Object.getOwnPropertyNames(globalThis).sort().join(',');
    // Capability audit: nothing reachable from ctx or the globals has isolated-vm methods.
    const seen = new Set(); const found = [];
    const walk = (v, path, depth) => {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 6) return;
      seen.add(v);
      for (const k of Reflect.ownKeys(v)) {
        if (['getSync', 'applySync', 'derefInto', 'copyInto', 'applySyncPromise', 'copySync'].includes(String(k))) found.push(path + '.' + String(k));
        let d; try { d = Object.getOwnPropertyDescriptor(v, k); } catch { continue; }
        if (d && 'value' in d) walk(d.value, path + '.' + String(k), depth + 1);
      }
      walk(Object.getPrototypeOf(v), path + '.__proto__', depth + 1);
    };
    walk(ctx, 'ctx', 0); walk(globalThis, 'globalThis', 0);
    report.ivmMethods = found.join(',');
    return JSON.stringify(report);`),
    );
    const report = JSON.parse(await sandbox.run('processModelInput', 'x', callWith(recordingHost().host))) as Record<string, string>;
    expect(report).to.include({
      process: 'threw ReferenceError',
      require: 'threw Error',
      module: 'threw ReferenceError',
      'globalThis.require': 'undefined',
      'globalThis.process': 'undefined',
      'globalThis.SharedArrayBuffer': 'undefined',
      'globalThis.Atomics': 'undefined',
      'globalThis.WebAssembly': 'undefined',
      'globalThis.WeakRef': 'undefined',
      'globalThis.FinalizationRegistry': 'undefined',
      'globalThis.eval': 'undefined',
      'globalThis.global': 'undefined',
      'globalThis.$0': 'undefined',
      'globalThis.$1': 'undefined',
      'globalThis.__lh_processor': 'undefined',
      'globalThis.ivm': 'undefined',
      'Function()': 'threw EvalError',
      'new Function': 'threw EvalError',
      'ctor chain': 'threw EvalError', // `this` is the processor definition
      'ctx ctor chain': 'threw EvalError',
      'ctx result chain': 'threw EvalError',
      'async ctor': 'threw EvalError',
      'generator ctor': 'threw EvalError',
      'Reflect SAB': 'undefined',
      import: 'rejected Error',
      ivmMethods: '',
    });
    expect(report['error ctor']).to.equal('threw EvalError');
    expect(report['globals']?.split(',')).to.deep.equal(
      [
        'AggregateError', 'Array', 'ArrayBuffer', 'AsyncDisposableStack', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'Boolean',
        'DataView', 'Date', 'DisposableStack', 'Error', 'EvalError', 'Float16Array', 'Float32Array', 'Float64Array', 'Function',
        'Infinity', 'Int16Array', 'Int32Array', 'Int8Array', 'Intl', 'Iterator', 'JSON', 'Map', 'Math', 'NaN', 'Number', 'Object',
        'Promise', 'Proxy', 'RangeError', 'ReferenceError', 'Reflect', 'RegExp', 'Set', 'String', 'SuppressedError', 'Symbol',
        'SyntaxError', 'TypeError', 'URIError', 'Uint16Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray', 'WeakMap',
        'WeakSet', 'console', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'globalThis',
        'isFinite', 'isNaN', 'parseFloat', 'parseInt', 'undefined', 'unescape',
      ].sort(),
    );
  });

  it('runs every call in a context of its own, also when it was made before the call', async () => {
    // The next call's context is made while the isolate is idle (bootstrap only): globals set by a call are
    // never seen by the next, and a context is never used twice.
    const sandbox = await sandboxOf(hook(`    globalThis.seen = (globalThis.seen ?? 0) + 1; Object.prototype.mark = text; return String(globalThis.seen) + ':' + ({}).mark;`));
    const { host } = recordingHost();
    const outs: string[] = [];
    for (const text of ['a', 'b', 'c']) outs.push(await sandbox.run('processModelInput', text, callWith(host)));
    expect(outs).to.deep.equal(['1:a', '1:b', '1:c']);
    expect(sandbox.isolatesCreated).to.equal(1);
  });

  it('keeps prototype pollution inside the isolate', async () => {
    const sandbox = await sandboxOf(
      hook(`
    Object.prototype.polluted = 'yes';
    Array.prototype.polluted = 'yes';
    Object.defineProperty(Object.prototype, 'toJSON', { value() { return 'hijacked'; }, configurable: true, writable: true });
    ctx.stepProgress('p', 10);
    ctx.json('payload', JSON.parse('{"__proto__": {"polluted": "host"}, "constructor": {"prototype": {"polluted": "host"}}}'));
    const tokens = await ctx.tokenize('ab');
    return JSON.parse('{"__proto__": {"polluted": "host"}}').polluted + ':' + tokens.length;`),
    );
    const { host, emits } = recordingHost();
    const out = await sandbox.run('processModelInput', 'x', callWith(host));
    expect(out).to.match(/:2$/);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
    expect(([] as unknown as Record<string, unknown>)['polluted']).to.equal(undefined);
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'toJSON')).to.equal(false);
    for (const e of emits()) {
      expect(Object.getPrototypeOf(e.metadata)).to.equal(Object.prototype);
      expect(Object.keys(e.metadata).every((k) => ['progress', 'title'].includes(k))).to.equal(true);
    }
  });

  it('serves concurrent calls one at a time, each with its own ctx, settings and module state', async () => {
    const sandbox = await sandboxOf(
      hook(
        `
    counter++;
    const before = ctx.settings.who;
    await ctx.generate(before);
    return before + ':' + ctx.settings.who + ':' + counter + ':' + ctx.signal.aborted;`,
        'let counter = 0;',
      ),
    );
    let running = 0;
    let maxRunning = 0;
    const { host } = recordingHost(async (prompt) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return prompt;
    });
    const results = await Promise.all(
      ['a', 'b', 'c'].map((who) => sandbox.run('processModelInput', 'x', callWith(host, { settings: { who } }))),
    );
    // Module state (counter) starts afresh on every call: nothing leaks from one client's call to the next.
    expect(results).to.deep.equal(['a:a:1:false', 'b:b:1:false', 'c:c:1:false']);
    expect(maxRunning).to.equal(1);
  });

  it('drops a queued call whose signal aborts before its turn', async () => {
    const sandbox = await sandboxOf(hook(`    return await ctx.generate(text);`));
    // The first call's host operation ends only when the test says so: the second waits behind it.
    let finishFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (finishFirst = resolve));
    const { host } = recordingHost(async (prompt) => {
      if (prompt === 'first') await firstHeld;
      return prompt;
    });
    const controller = new AbortController();
    let firstDone = false;
    const first = sandbox.run('processModelInput', 'first', callWith(host)).finally(() => (firstDone = true));
    const second = sandbox.run('processModelInput', 'second', callWith(host, { signal: controller.signal }));
    const third = sandbox.run('processModelInput', 'third', callWith(host));
    controller.abort();
    const { error } = await rejection(second);
    expect(error.code).to.equal('LH_ERR_CANCELLED');
    // Dropped while it waited, not when its turn came: the first call still holds the sandbox.
    expect(firstDone).to.equal(false);
    finishFirst();
    expect(await first).to.equal('first');
    expect(await third).to.equal('third');
  });

  it('dispose fails the running call and refuses later ones', async () => {
    const sandbox = await sandboxOf(hook(`    return await ctx.generate(text);`));
    let running!: () => void;
    const inCall = new Promise<void>((resolve) => (running = resolve));
    const { host } = recordingHost(() => {
      running();
      return new Promise(() => {});
    });
    const pending = sandbox.run('processModelInput', 'x', callWith(host));
    await inCall;
    const pid = sandbox.pid!;
    // dispose() resolves once the sandbox process has exited.
    await sandbox.dispose();
    expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
    expect((await rejection(pending)).error.code).to.equal('LH_ERR_SANDBOX_DISPOSED');
    expect((await rejection(sandbox.run('processModelInput', 'x', callWith(host)))).error.code).to.equal('LH_ERR_SANDBOX_DISPOSED');
  });
});

describe('sandbox: the spare sandbox process', () => {
  it('warms up before it serves, on host code only, and the personality starts on an isolate of its own that holds nothing of it', async () => {
    await sandboxOf(hook(`    return 'first';`));
    expect(await whenSpareReady(), 'the spare started and ran its warm-up').to.equal(true);
    const sandbox = await sandboxOf(
      `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({
  async runWorkflow(input, ctx) {
    return JSON.stringify({ state: ctx.state, seen: typeof globalThis.seen, prompt: input.prompt });
  },
});
`,
    );
    expect(sandbox.startedWarm).to.equal(true);
    expect(sandbox.isolatesCreated).to.equal(1);
    const { host, calls } = recordingHost();
    const out = await sandbox.run('runWorkflow', { prompt: 'mine', previousDiscussion: '' }, callWith(host));
    // The warm-up's processor set ctx.state.tokens, sent a step and tokenized its prompt: none of it shows here.
    expect(JSON.parse(out)).to.deep.equal({ state: {}, seen: 'undefined', prompt: 'mine' });
    expect(calls).to.deep.equal([]);
  });
});

describe('sandbox: errors point at the author\'s code', () => {
  const UTIL = [
    'export interface Doc { meta?: { title: string } }',
    '',
    'export function titleOf(doc: Doc): string {',
    '  return doc.meta!.title.toUpperCase();',
    '}',
  ].join('\n');
  const WORKFLOW = (body: string) => `import { defineProcessor } from 'lollms-host/plugin-api';
import { titleOf } from './lib/util.ts';

export default defineProcessor({
  async runWorkflow(input, ctx) {
${body}
  },
});
`;
  const input = { prompt: 'p', previousDiscussion: 'd' };

  it('maps an exception through the source map to the file, line and column, with only the author\'s frames', async () => {
    const sandbox = await sandboxOf(WORKFLOW(`    await ctx.tokenize('x');\n    return titleOf({});`), {}, { 'scripts/lib/util.ts': UTIL });
    const { error } = await rejection(sandbox.run('runWorkflow', input, callWith(recordingHost().host)));
    expect(error.code).to.equal('LH_ERR_SANDBOX_SCRIPT');
    expect(error.message).to.equal(
      `personality "tester": processor threw in runWorkflow at scripts/lib/util.ts:4:20: TypeError: Cannot read properties of undefined (reading 'title')`,
    );
    expect(error).to.include({ file: 'scripts/lib/util.ts', line: 4, column: 20 });
    expect((error.cause as Error).stack).to.equal(
      [
        "TypeError: Cannot read properties of undefined (reading 'title')",
        '    at titleOf (scripts/lib/util.ts:4:20)',
        '    at Object.runWorkflow (scripts/processor.ts:7:12)',
      ].join('\n'),
    );
  });

  it('refuses a progress that is not a number instead of sending 0, at the author\'s line', async () => {
    const sandbox = await sandboxOf(WORKFLOW(`    ctx.stepProgress('Counting', 50);\n    ctx.stepProgress('Counting', 'half' as unknown as number);\n    return 'done';`), {}, { 'scripts/lib/util.ts': UTIL });
    const { host, emits } = recordingHost();
    const { error } = await rejection(sandbox.run('runWorkflow', input, callWith(host)));
    expect(error.message).to.equal(
      'personality "tester": processor threw in runWorkflow at scripts/processor.ts:7:9: TypeError: ctx.stepProgress: progress must be a number from 0 to 100, got "half"',
    );
    expect(emits().map((e) => [e.type, e.metadata])).to.deep.equal([[9, { progress: 50 }]]);
    for (const bad of ['NaN', 'Infinity', 'undefined', '{}']) {
      const other = await sandboxOf(hook(`    ctx.stepProgress('x', ${bad} as unknown as number);\n    return 'sent';`));
      const failed = await rejection(other.run('processModelInput', 'x', callWith(recordingHost().host)));
      expect(failed.error.message, bad).to.match(/ctx\.stepProgress: progress must be a number from 0 to 100/);
    }
  });

  it('places nothing when the stack names no frame of the bundle (a thrown string, a cleared stack)', async () => {
    const thrown = await sandboxOf(hook(`    throw 'plain string';`));
    const first = await rejection(thrown.run('processModelInput', 'x', callWith(recordingHost().host)));
    expect(first.error.message).to.equal('personality "tester": processor threw in processModelInput: Thrown: plain string');
    expect((first.error as { file?: string }).file).to.equal(undefined);
    const cleared = await sandboxOf(hook(`    const e = new Error('no trace'); e.stack = ''; throw e;`));
    const second = await rejection(cleared.run('processModelInput', 'x', callWith(recordingHost().host)));
    expect(second.error.message).to.equal('personality "tester": processor threw in processModelInput: Error: no trace');
    expect((second.error.cause as Error).stack).to.equal('Error: no trace');
  });
});

describe('sandbox: process guards', () => {
  it('refuses to run without --no-node-snapshot', () => {
    expect(() => assertNoNodeSnapshot(['--import', 'tsx'], '')).to.throw().with.property('code', 'LH_ERR_SANDBOX_NODE_SNAPSHOT');
    expect(() => assertNoNodeSnapshot(['--no-node-snapshot'], '')).not.to.throw();
    expect(() => assertNoNodeSnapshot([], '--max-old-space-size=100 --no-node-snapshot')).not.to.throw();
    // This test process itself runs with the flag (.mocharc.json), or no sandbox above could have been created.
    expect(() => assertNoNodeSnapshot()).not.to.throw();
  });

  it('logs an isolated-vm catastrophic error and exits non-zero', () => {
    const lines: Array<[object, string | undefined]> = [];
    const exits: number[] = [];
    const log = (obj: object, msg?: string) => lines.push([obj, msg]);
    const handler = installCatastrophicErrorHandler({ debug: log, info: log, warn: log, error: log, fatal: log }, (code) => exits.push(code));
    handler('Script failed to terminate', 'evil');
    expect(exits).to.deep.equal([CATASTROPHIC_EXIT_CODE]);
    expect(lines[0]?.[1]).to.match(/catastrophic error in personality "evil": Script failed to terminate/);
    // Put a real handler back for the rest of the run.
    const stderr = (obj: object, msg?: string) => process.stderr.write(`${msg ?? ''} ${JSON.stringify(obj)}\n`);
    installCatastrophicErrorHandler({ debug: stderr, info: stderr, warn: stderr, error: stderr });
  });
});
