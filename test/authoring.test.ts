/**
 * Issue 14 through a real host: what a processor author sees of their own bugs (generation_error, the host
 * log), the personality view, and what a client sees of a workflow's chunks versus its answer.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LollmsClient } from '../client/index.js';
import { createLogger } from '../core/logger.js';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { request, startTestHost, type TestHost, type TestSocket } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';
import type { GenerationError } from '../core/protocol/index.js';

const API = "import { defineProcessor } from 'lollms-host/plugin-api';";
const CONFIG = (name: string) => `name: ${name}\nhost_api: "^1.0.0"\npersonality_conditioning: "test"\nanti_prompts: []\nmodel_n_predicts: 8\nprocessor_cfg:\n  custom_workflow: true\n`;

/** A processor whose runWorkflow runs `body`, importing `titleOf` from scripts/lib/util.ts. */
const WORKFLOW = (body: string) => `${API}
import { titleOf } from './lib/util.ts';

export default defineProcessor({
  async runWorkflow(input, ctx) {
${body}
  },
});
`;
const UTIL = 'export function titleOf(doc: { meta?: { title: string } }): string {\n  return doc.meta!.title.toUpperCase();\n}\n';

/** Log lines captured as parsed JSON, with their raw text. */
interface LogLine {
  raw: string;
  level: number;
  msg: string;
  [key: string]: unknown;
}

describe('authoring: errors that point at the author\'s code', function () {
  this.timeout(120_000);
  let zoo: string;
  let host: TestHost;
  let socket: TestSocket;
  const logs: LogLine[] = [];
  const ids = new Map<string, number>();

  const cases: Record<string, string> = {
    bug: WORKFLOW(`    ctx.log('working');\n    return titleOf({});`),
    progress: WORKFLOW(`    const label = 'Counting';\n    ctx.stepProgress(label, 'half' as unknown as number);\n    return titleOf({ meta: { title: 'x' } });`),
    loop: WORKFLOW('    for (;;) {}'),
    memory: WORKFLOW('    const keep = [];\n    for (;;) keep.push(new Array(1 << 18).fill(keep.length));'),
    stall: WORKFLOW('    await new Promise(() => {});\n    return titleOf({});'),
    floating: WORKFLOW("    Promise.reject(new RangeError('floating'));\n    return 'returned';"),
  };

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-authoring-'));
    for (const [name, source] of Object.entries(cases)) {
      await writePersonality(zoo, `misc/${name}`, CONFIG(name), { 'scripts/processor.ts': source, 'scripts/lib/util.ts': UTIL });
    }
    const sink = new PassThrough();
    sink.setEncoding('utf8');
    let pending = '';
    sink.on('data', (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const raw = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (raw.trim()) logs.push({ ...(JSON.parse(raw) as Omit<LogLine, 'raw'>), raw } as LogLine);
      }
    });
    host = await startTestHost({
      logger: createLogger({ level: 'debug', pretty: false, destination: sink }),
      config: { personalities_paths: [zoo], sandbox_cpu_time_ms: 400, sandbox_memory_limit_mb: 32, sandbox_wall_time_ms: 10_000 },
    });
    socket = await host.connect();
    for (const name of Object.keys(cases)) {
      ids.set(name, ((await request(socket, 'add_personality', { path: `misc/${name}` }, 'personality_added')) as { id: number }).id);
    }
  });
  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  /** Run `name`'s workflow; resolves with its generation_error and the log lines it caused. */
  async function fail(name: string): Promise<{ error: GenerationError; lines: LogLine[] }> {
    const from = logs.length;
    const error = await request(socket, 'generate_text', { prompt: 'go', personality: ids.get(name) }, 'generation_error', 30_000);
    // The sandbox's lines come over IPC from its process: wait for the failure's own line.
    for (let i = 0; i < 200 && !logs.slice(from).some((l) => l.msg.startsWith('generation failed')); i++) await new Promise((r) => setImmediate(r));
    return { error, lines: logs.slice(from) };
  }

  /** Nothing of the host's file system in `text`. */
  function expectNoHostPath(text: string): void {
    for (const path of [zoo, host.dataDir, PACKAGE_ROOT, tmpdir()]) expect(text, `names ${path}`).not.to.contain(path);
  }

  it('a runtime exception reaches the client with file, line, column and the author\'s stack', async () => {
    const { error } = await fail('bug');
    expect(error).to.deep.equal({
      error: `personality "bug": processor threw in runWorkflow at scripts/lib/util.ts:2:20: TypeError: Cannot read properties of undefined (reading 'title')`,
      code: 'LH_ERR_SANDBOX_SCRIPT',
      file: 'scripts/lib/util.ts',
      line: 2,
      column: 20,
      stack: [
        "TypeError: Cannot read properties of undefined (reading 'title')",
        '    at titleOf (scripts/lib/util.ts:2:20)',
        '    at Object.runWorkflow (scripts/processor.ts:7:12)',
      ].join('\n'),
    });
    expectNoHostPath(JSON.stringify(error));
  });

  it('and reaches the host log at warn, once per key, with the hook, the place and the stack; the failed generation at info', async () => {
    const { lines } = await fail('bug');
    const fault = lines.find((l) => l.msg.includes('processor threw in runWorkflow'));
    expect(fault, JSON.stringify(lines.map((l) => l.raw))).to.not.equal(undefined);
    expect(fault).to.deep.include({ level: 40, personality: 'bug', hook: 'runWorkflow', code: 'LH_ERR_SANDBOX_SCRIPT', file: 'scripts/lib/util.ts', line: 2, column: 20 });
    expect(fault!['error']).to.deep.equal({
      type: 'TypeError',
      message: "Cannot read properties of undefined (reading 'title')",
      stack: "TypeError: Cannot read properties of undefined (reading 'title')\n    at titleOf (scripts/lib/util.ts:2:20)\n    at Object.runWorkflow (scripts/processor.ts:7:12)",
    });
    const failed = lines.find((l) => l.msg.startsWith('generation failed'));
    expect(failed).to.deep.include({ level: 30, code: 'LH_ERR_SANDBOX_SCRIPT' });
    for (const line of lines) {
      expect(line.raw.split('"personality":').length, `a key repeats in ${line.raw}`).to.be.at.most(2);
      expectNoHostPath(line.raw);
    }
  });

  it('a non-number progress is refused at the author\'s line, not sent as 0', async () => {
    const { error } = await fail('progress');
    expect(error.error).to.equal(
      'personality "progress": processor threw in runWorkflow at scripts/processor.ts:7:9: TypeError: ctx.stepProgress: progress must be a number from 0 to 100, got "half"',
    );
  });

  const limits: Array<[string, string, RegExp]> = [
    ['loop', 'LH_ERR_SANDBOX_TIMEOUT', /exceeded its CPU time limit \(400 ms\)/],
    ['memory', 'LH_ERR_SANDBOX_MEMORY', /exceeded its memory limit \(32 MB\)/],
    ['stall', 'LH_ERR_SANDBOX_SCRIPT', /never finished runWorkflow: Error: the hook awaits a promise that can never settle/],
    ['floating', 'LH_ERR_SANDBOX_SCRIPT', /had an unhandled promise rejection in runWorkflow at scripts\/processor\.ts:6:20: RangeError: floating/],
  ];
  for (const [name, code, message] of limits) {
    it(`${name}: logged at warn with the personality and the hook`, async () => {
      const { error, lines } = await fail(name);
      expect(error.code).to.equal(code);
      expect(error.error).to.match(message);
      const fault = lines.find((l) => l.level === 40 && l['hook'] === 'runWorkflow');
      expect(fault, JSON.stringify(lines.map((l) => l.raw))).to.deep.include({ personality: name, code });
      expect(fault!.msg).to.match(message);
      for (const line of lines) expectNoHostPath(line.raw);
    });
  }
});

describe('authoring: the personality view and the client\'s answer', function () {
  this.timeout(120_000);
  let zoo: string;
  let host: TestHost;
  let client: LollmsClient;

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-authoring-view-'));
    // The config says "General" (its default); the folder says misc.
    await writePersonality(zoo, 'misc/viewer', CONFIG('viewer'), {
      'scripts/processor.ts': `${API}
export default defineProcessor({
  async runWorkflow(input, ctx) {
    return ctx.personality.category + '/' + ctx.personality.folder;
  },
});
`,
    });
    // Streams a draft, replaces it with MSG_TYPE_FULL, streams more, then answers with another text.
    await writePersonality(zoo, 'misc/drafter', CONFIG('drafter'), {
      'scripts/processor.ts': `${API}
export default defineProcessor({
  async runWorkflow(input, ctx) {
    ctx.chunk('draft one. ');
    ctx.full('Outline: ');
    ctx.chunk('point A');
    return 'The final answer.';
  },
});
`,
    });
    host = await startTestHost({ config: { personalities_paths: [zoo] } });
    client = new LollmsClient({ url: host.url, transports: ['websocket'], socketOptions: { reconnection: false } });
  });
  after(async () => {
    await client?.close();
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  it('ctx.personality.category is the folder\'s category', async () => {
    const { id } = await client.addPersonality('misc/viewer');
    expect(await client.generate('x', { personality: id }).text).to.equal('misc/viewer');
  });

  it('the typed client keeps the answer apart from the streamed pieces, and previews as the protocol says', async () => {
    const { id } = await client.addPersonality('misc/drafter');
    const previews: string[] = [];
    const generation = client.generate('x', {
      personality: id,
      onChunk: () => previews.push(generation.preview),
      onMessage: () => previews.push(generation.preview),
    });
    expect(await generation.text).to.equal('The final answer.');
    expect(generation.chunks).to.deep.equal(['draft one. ', 'point A']);
    expect(generation.streamed).to.equal('draft one. point A');
    expect(previews).to.deep.equal(['draft one. ', 'Outline: ', 'Outline: point A']);
    expect(generation.preview).to.equal('The final answer.');
  });
});
