/**
 * The guest half of the plugin API 1.1 primitives, through a real `ProcessorSandbox` (its own sandbox process and
 * isolate) with a scripted host API: what each `ctx` member sends the host, what the guest gets back, the tool
 * loop's rounds and steps, `ctx.state`'s hand-over, `ctx.store` semantics, the coded refusals, and the wall clock
 * that stands still while a question waits. The host side (a real model, the socket) is covered by
 * test/primitives.test.ts.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage, PersonalityView } from '../plugin-api/index.js';
import {
  compileProcessor,
  createSandboxBudget,
  ProcessorSandbox,
  type SandboxCall,
  type SandboxChatOptions,
  type SandboxChatReply,
  type SandboxGenerateOptions,
  type SandboxHostApi,
  type SandboxLimits,
  type SandboxStoreRequest,
} from '../core/sandbox/index.js';

const LIMITS: SandboxLimits = {
  memoryLimitMb: 32,
  cpuTimeMs: 500,
  wallTimeMs: 3_000,
  maxHostCalls: 200,
  maxEmitBytes: 64 * 1024,
  maxPayloadBytes: 256 * 1024,
  maxStateBytes: 1024,
  maxToolRounds: 4,
};

const PERSONALITY = { name: 'tester' } as PersonalityView;

type Emit = { type: number; content: string; metadata: Record<string, unknown> };

/** A host API that records what reaches it; the 1.1 members answer from the given scripts. */
function scriptedHost(script: Partial<SandboxHostApi> = {}) {
  const emits: Emit[] = [];
  const chats: Array<{ messages: ChatMessage[]; options: SandboxChatOptions }> = [];
  const generates: Array<{ prompt: string; options: SandboxGenerateOptions }> = [];
  const stores: SandboxStoreRequest[] = [];
  const kept = new Map<string, string>();
  const host: SandboxHostApi = {
    async generate(prompt, options, signal) {
      generates.push({ prompt, options });
      return script.generate ? script.generate(prompt, options, signal) : `gen:${prompt}`;
    },
    tokenize: async (text) => [...text].map((c) => c.charCodeAt(0)),
    detokenize: async (tokens) => String.fromCharCode(...tokens),
    async chat(messages, options, signal) {
      // A copy: the sandbox's next round must not be able to change what this one recorded.
      chats.push(structuredClone({ messages, options }));
      if (!script.chat) return { text: 'answer' };
      return script.chat(messages, options, signal);
    },
    embed: script.embed ?? (async (texts) => texts.map((t) => [t.length, 0.5])),
    ask: script.ask ?? (async (request) => `answer to ${request.question}`),
    callPersonality: script.callPersonality ?? (async (path, prompt) => `${path} says ${prompt}`),
    async store(request) {
      stores.push(request);
      switch (request.action) {
        case 'get':
          return kept.has(request.key) ? { found: true, value: JSON.parse(kept.get(request.key)!) } : { found: false };
        case 'set':
          kept.set(request.key, request.json);
          return null;
        case 'delete':
          return kept.delete(request.key);
        case 'keys':
          return [...kept.keys()].filter((k) => k.startsWith(request.prefix)).sort();
      }
    },
    emit: (type, content, metadata) => void emits.push({ type, content, metadata }),
    log: () => {},
  };
  return { host, emits, chats, generates, stores };
}

const roots: string[] = [];
const sandboxes: ProcessorSandbox[] = [];

/** A sandbox whose `runWorkflow` runs `body` (guest code; `input` and `ctx` in scope, `defineTool` imported). */
async function workflow(body: string, limits: Partial<SandboxLimits> = {}): Promise<ProcessorSandbox> {
  const root = await mkdtemp(join(tmpdir(), 'lh-primitives-'));
  roots.push(root);
  await mkdir(join(root, 'scripts'), { recursive: true });
  await writeFile(
    join(root, 'scripts', 'processor.ts'),
    `import { defineProcessor, defineTool } from 'lollms-host/plugin-api';\nvoid defineTool;\nexport default defineProcessor({\n  async runWorkflow(input, ctx) {\n${body}\n  },\n});\n`,
  );
  const { code, sourceMap } = await compileProcessor(root);
  const sandbox = await ProcessorSandbox.create({ name: 'tester', code, sourceMap, limits: { ...LIMITS, ...limits } });
  sandboxes.push(sandbox);
  return sandbox;
}

function run(sandbox: ProcessorSandbox, host: SandboxHostApi, extra: Partial<SandboxCall> = {}): Promise<string> {
  return sandbox.run('runWorkflow', { prompt: 'p', previousDiscussion: '' }, { host, settings: {}, personality: PERSONALITY, signal: new AbortController().signal, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error & { code?: string };
  }
}

/** The JSON a workflow returned. */
const parsed = async <T>(promise: Promise<string>): Promise<T> => JSON.parse(await promise) as T;

afterEach(() => {
  for (const sandbox of sandboxes.splice(0)) void sandbox.dispose();
});

after(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

describe('sandbox primitives (plugin API 1.1)', function () {
  this.timeout(30_000);

  describe('structured output', () => {
    it('ctx.generate({schema}) sends a json_schema format and resolves to the value the host returns', async () => {
      const { host, generates } = scriptedHost({ generate: async () => ({ title: 'T', parts: ['a', 'b'] }) });
      const sandbox = await workflow(`
        const plan = await ctx.generate<{ title: string; parts: string[] }>('plan', { schema: { type: 'object', properties: { title: { type: 'string' } } }, maxTokens: 20 });
        return JSON.stringify({ title: plan.title, parts: plan.parts.length, type: typeof plan });`);
      expect(await parsed(run(sandbox, host))).to.deep.equal({ title: 'T', parts: 2, type: 'object' });
      expect(generates[0]!.options).to.deep.equal({ maxTokens: 20, format: { type: 'json_schema', schema: { type: 'object', properties: { title: { type: 'string' } } } } });
    });

    it('ctx.generate({grammar}) sends a gbnf format; schema with grammar is a TypeError', async () => {
      const { host, generates } = scriptedHost();
      const sandbox = await workflow(`
        const text = await ctx.generate('g', { grammar: 'root ::= "yes" | "no"' });
        let both = '';
        try { await ctx.generate('g', { grammar: 'root ::= "a"', schema: {} }); } catch (e) { both = e.name + ': ' + e.message; }
        return JSON.stringify({ text, both });`);
      const out = await parsed<{ text: string; both: string }>(run(sandbox, host));
      expect(out.text).to.equal('gen:g');
      expect(out.both).to.equal('TypeError: ctx.generate: the options schema and grammar cannot be combined');
      expect(generates).to.have.length(1);
      expect(generates[0]!.options.format).to.deep.equal({ type: 'gbnf', grammar: 'root ::= "yes" | "no"' });
    });

    it('a schema nested deeper than the bounds is refused before the host sees it, with a code the processor can catch', async () => {
      const { host, generates } = scriptedHost();
      const sandbox = await workflow(`
        let schema: Record<string, unknown> = { type: 'string' };
        for (let i = 0; i < 200; i++) schema = { type: 'array', items: schema };
        try { await ctx.generate('x', { schema }); return 'accepted'; } catch (e) { return (e as { code?: string }).code + ' ' + (e as Error).message; }`);
      const out = await run(sandbox, host);
      expect(out).to.match(/^LH_ERR_SCHEMA_TOO_LARGE ctx.generate: the JSON schema is too large: nested deeper than 64/);
      expect(generates).to.have.length(0);
    });
  });

  describe('ctx.chat and its tool loop', () => {
    const addTool = `defineTool<{ a: number; b: number }>({ name: 'add', description: 'adds', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } }, handler: ({ a, b }) => a + b })`;

    it('runs the handler in the sandbox, feeds its result back, closes the step, and resolves to the answer', async () => {
      let round = 0;
      const { host, chats, emits } = scriptedHost({
        chat: async (): Promise<SandboxChatReply> => (++round === 1 ? { text: '', toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 2, b: 3 } }] } : { text: 'five' }),
      });
      const sandbox = await workflow(`
        const seen: unknown[] = [];
        const text = await ctx.chat([{ role: 'user', content: 'add 2 and 3' }], { tools: [${addTool}], toolChoice: { name: 'add' }, onMessage: (m) => seen.push(m) });
        return JSON.stringify({ text, seen });`);
      const out = await parsed<{ text: string; seen: ChatMessage[] }>(run(sandbox, host));
      expect(out.text).to.equal('five');
      expect(chats).to.have.length(2);
      // The definitions cross without their handler; a forcing choice applies to the first round only.
      expect(chats[0]!.options.tools).to.deep.equal([{ name: 'add', description: 'adds', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } }]);
      expect(chats[0]!.options.toolChoice).to.deep.equal({ name: 'add' });
      expect(chats[1]!.options.toolChoice).to.equal(undefined);
      expect(chats[1]!.messages).to.deep.equal([
        { role: 'user', content: 'add 2 and 3' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 2, b: 3 } }] },
        { role: 'tool', content: '5', toolCallId: 'c1', name: 'add' },
      ]);
      expect(out.seen).to.deep.equal([...chats[1]!.messages.slice(1), { role: 'assistant', content: 'five' }]);
      expect(emits).to.deep.equal([{ type: 10, content: '', metadata: { status: true, tool_call_id: 'c1', result: '5' } }]);
    });

    it('a handler that throws: the model gets {"error"} and the step ends with status false; the loop goes on', async () => {
      let round = 0;
      const { host, chats, emits } = scriptedHost({
        chat: async () => (++round === 1 ? { text: '', toolCalls: [{ id: 'c1', name: 'boom', arguments: {} }] } : { text: 'recovered' }),
      });
      const sandbox = await workflow(`
        return ctx.chat([{ role: 'user', content: 'go' }], { tools: [{ name: 'boom', handler: () => { throw new RangeError('no way'); } }] });`);
      expect(await run(sandbox, host)).to.equal('recovered');
      expect(chats[1]!.messages.at(-1)).to.deep.equal({ role: 'tool', content: '{"error":"no way"}', toolCallId: 'c1', name: 'boom' });
      expect(emits[0]!.metadata).to.deep.equal({ status: false, tool_call_id: 'c1', result: '{"error":"no way"}' });
    });

    it('a model that keeps calling tools ends with LH_ERR_TOOL_ROUNDS after maxToolRounds (never past the limit)', async () => {
      let n = 0;
      const { host, chats } = scriptedHost({ chat: async () => ({ text: '', toolCalls: [{ id: `c${++n}`, name: 'add', arguments: { a: 1, b: 1 } }] }) });
      const sandbox = await workflow(`
        const rounds = async (maxToolRounds?: number) => {
          try { await ctx.chat([{ role: 'user', content: 'loop' }], { tools: [${addTool}], ...(maxToolRounds ? { maxToolRounds } : {}) }); return 'answered'; }
          catch (e) { return (e as { code?: string }).code; }
        };
        return JSON.stringify([await rounds(2), await rounds(), await rounds(99)]);`);
      expect(await parsed(run(sandbox, host))).to.deep.equal(['LH_ERR_TOOL_ROUNDS', 'LH_ERR_TOOL_ROUNDS', 'LH_ERR_TOOL_ROUNDS']);
      // 2 rounds, then the limit (4) twice: a processor cannot ask for more than the host allows.
      expect(chats).to.have.length(2 + 4 + 4);
    });

    it('with a schema and tools: the tool rounds run without the format, then one round without tools gives the value', async () => {
      let round = 0;
      const { host, chats } = scriptedHost({
        chat: async (_m, options) => {
          round++;
          if (round === 1) return { text: '', toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 1, b: 2 } }] };
          if (round === 2) return { text: 'it is 3' };
          return { text: '{"sum":3}', value: { sum: 3, via: options.toolChoice } };
        },
      });
      const sandbox = await workflow(`
        const value = await ctx.chat<{ sum: number }>([{ role: 'user', content: 'sum?' }], { tools: [${addTool}], schema: { type: 'object' } });
        return JSON.stringify(value);`);
      expect(await parsed(run(sandbox, host))).to.deep.equal({ sum: 3, via: 'none' });
      expect(chats.map((c) => [c.options.format?.type, c.options.toolChoice])).to.deep.equal([[undefined, undefined], [undefined, undefined], ['json_schema', 'none']]);
    });

    it('bad messages and tools are refused in the sandbox with a clear error', async () => {
      const { host, chats } = scriptedHost();
      const sandbox = await workflow(`
        const tries: Array<() => Promise<unknown>> = [
          () => ctx.chat('hello' as never),
          () => ctx.chat([{ role: 'user', content: 'x' }], { tools: [{ name: 'x' } as never] }),
          () => ctx.chat([{ role: 'wizard' as never, content: 'x' }]),
          () => ctx.chat([{ role: 'user', content: 'x' }], { tools: [{ name: 'bad name!', handler: () => 1 }] }),
        ];
        const out: string[] = [];
        for (const t of tries) { try { await t(); out.push('ok'); } catch (e) { out.push(((e as { code?: string }).code ?? (e as Error).name) + ': ' + (e as Error).message); } }
        return JSON.stringify(out);`);
      const out = await parsed<string[]>(run(sandbox, host));
      expect(out[0]).to.equal('TypeError: ctx.chat expects an array of messages');
      expect(out[1]).to.equal('TypeError: ctx.chat: tool x has no handler function');
      expect(out[2]).to.match(/^LH_ERR_BAD_REQUEST: ctx.chat: message 0: role must be/);
      expect(out[3]).to.match(/^TypeError: ctx.chat: tool 0: the name must be/);
      expect(chats).to.have.length(0);
    });
  });

  describe('embed, ask, callPersonality, store, model', () => {
    it('each crosses as a copy and resolves to what the host answered', async () => {
      const { host, stores } = scriptedHost();
      const sandbox = await workflow(`
        const vectors = await ctx.embed(['ab', 'abcd']);
        const answer = await ctx.ask('Which one?', { choices: ['a', 'b'], timeoutMs: 1000 });
        const called = await ctx.callPersonality('english/generic/lollms', 'hi');
        const missing = await ctx.store.get('k');
        await ctx.store.set('k', { n: 1 });
        const got = await ctx.store.get<{ n: number }>('k');
        got!.n = 2; // a copy: the store keeps 1
        const again = await ctx.store.get<{ n: number }>('k');
        await ctx.store.set('k2', null);
        const keys = await ctx.store.keys('k');
        const deleted = [await ctx.store.delete('k'), await ctx.store.delete('k')];
        return JSON.stringify({ vectors, answer, called, missing: missing === undefined, again, nullKept: await ctx.store.get('k2'), keys, deleted, model: ctx.model });`);
      const out = await parsed<Record<string, unknown>>(run(sandbox, host, { model: { name: 'tiny', contextSize: 2048 } }));
      expect(out).to.deep.equal({
        vectors: [[2, 0.5], [4, 0.5]],
        answer: 'answer to Which one?',
        called: 'english/generic/lollms says hi',
        missing: true,
        again: { n: 1 },
        nullKept: null,
        keys: ['k', 'k2'],
        deleted: [true, false],
        model: { name: 'tiny', contextSize: 2048 },
      });
      expect(stores[1]).to.deep.equal({ action: 'set', key: 'k', json: '{"n":1}' });
    });

    it('refuses bad arguments with codes or TypeErrors, before the host', async () => {
      const { host, stores } = scriptedHost();
      const sandbox = await workflow(`
        const tries: Array<() => Promise<unknown>> = [
          () => ctx.store.set('', 1),
          () => ctx.store.set('k\\u0000', 1),
          () => ctx.store.set('k', undefined),
          () => ctx.store.get('x'.repeat(257)),
          () => ctx.ask(''),
          () => ctx.ask('q', { choices: ['a', 'a'] }),
          () => ctx.ask('q', { timeoutMs: -1 }),
          () => ctx.embed(new Array(65).fill('t')),
          () => ctx.callPersonality('', 'x'),
        ];
        const out: string[] = [];
        for (const t of tries) { try { await t(); out.push('ok'); } catch (e) { out.push((e as { code?: string }).code ?? (e as Error).name); } }
        return JSON.stringify(out);`);
      expect(await parsed(run(sandbox, host))).to.deep.equal([
        'LH_ERR_STORE_KEY', 'LH_ERR_STORE_KEY', 'TypeError', 'LH_ERR_STORE_KEY', 'TypeError', 'TypeError', 'RangeError', 'RangeError', 'TypeError',
      ]);
      expect(stores).to.have.length(0);
    });
  });

  describe('ctx.state', () => {
    it('is handed from hook to hook through the slot; a hook that throws leaves it as it was', async () => {
      const { host } = scriptedHost();
      const sandbox = await workflow(`
        ctx.state.count = ((ctx.state.count as number | undefined) ?? 0) + 1;
        if (input.prompt === 'fail') throw new Error('after changing the state');
        return String(ctx.state.count);`);
      const slot = { json: '{}' };
      expect(await run(sandbox, host, { state: slot })).to.equal('1');
      expect(await run(sandbox, host, { state: slot })).to.equal('2');
      expect(slot.json).to.equal('{"count":2}');
      const error = await failure(sandbox.run('runWorkflow', { prompt: 'fail', previousDiscussion: '' }, { host, settings: {}, personality: PERSONALITY, signal: new AbortController().signal, state: slot }));
      expect(error.code).to.equal('LH_ERR_SANDBOX_SCRIPT');
      expect(slot.json).to.equal('{"count":2}');
    });

    it('a state over sandbox_max_state_bytes fails the hook with LH_ERR_STATE_TOO_LARGE and is not kept', async () => {
      const { host } = scriptedHost();
      const sandbox = await workflow(`ctx.state.big = 'x'.repeat(2000); return 'done';`);
      const slot = { json: '{"kept":true}' };
      const error = await failure(run(sandbox, host, { state: slot }));
      expect(error.code).to.equal('LH_ERR_STATE_TOO_LARGE');
      expect(error.message).to.match(/ctx.state is 2\d\d\d characters of JSON, more than the sandbox limit of 1024 bytes/);
      expect(slot.json).to.equal('{"kept":true}');
    });

    it('only JSON data: a cycle fails the hook with a clear TypeError', async () => {
      const { host } = scriptedHost();
      const sandbox = await workflow(`const o: Record<string, unknown> = {}; o.self = o; ctx.state.o = o; return 'done';`);
      const error = await failure(run(sandbox, host, { state: { json: '{}' } }));
      expect(error.message).to.match(/ctx.state must hold JSON data only/);
    });
  });

  describe('budgets', () => {
    it('the wall clock stands still while a question waits: an answer slower than the wall limit does not fail the turn', async () => {
      const sandbox = await workflow(`return ctx.ask('still there?');`, { wallTimeMs: 400 });
      // The turn starts now (its wall clock with it), after the sandbox is up.
      const budget = createSandboxBudget();
      const slowAnswer = (ms: number) => async () => {
        const resume = budget.clock!.hold();
        await new Promise((r) => setTimeout(r, ms));
        resume();
        return 'late';
      };
      const { host } = scriptedHost({ ask: slowAnswer(900) });
      expect(await run(sandbox, host, { budget })).to.equal('late');
      expect(budget.clock!.pausedMs).to.be.at.least(900);

      // The same wait without the pause is a wall time breach.
      const { host: unpaused } = scriptedHost({ ask: async () => new Promise((r) => setTimeout(() => r('late'), 900)) });
      const error = await failure(run(sandbox, unpaused, { budget: createSandboxBudget() }));
      expect(error.code).to.equal('LH_ERR_SANDBOX_TIMEOUT');
      expect(error.message).to.match(/wall time limit/);
    });

    it('a personality call hands its host calls back: the caller continues from the called turn\'s counters', async () => {
      const { host } = scriptedHost({
        callPersonality: async (_path, _prompt, counts) => {
          counts.hostCalls += 15;
          return 'called';
        },
      });
      const sandbox = await workflow(`
        await ctx.callPersonality('a/b/c', 'x');
        for (let i = 0; i < 10; i++) ctx.step('s' + i);
        return 'done';`, { maxHostCalls: 20 });
      const error = await failure(run(sandbox, host));
      expect(error.code).to.equal('LH_ERR_SANDBOX_HOST_CALLS');
    });
  });
});
