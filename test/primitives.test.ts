/**
 * The workflow primitives of plugin API 1.1 (issues 14 and 15) through a real host on the real engine and the
 * tiny random test model: structured output forced by a grammar and validated in the host, chat with the
 * model's template, tool calls as steps, embeddings, questions to the user over the socket (and their absence
 * over the HTTP path), personality calls, `ctx.state` with the client's discussion, `ctx.store` in the data dir,
 * the model's facts, and settings bounds that follow the context size. The model's text is gibberish: the
 * assertions are about shapes, events and what the workflow received.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cosineSimilarity } from '../plugin-api/index.js';
import type { GenerationAsk, GenerationMessage } from '../core/protocol/index.js';
import type { GenerationSink, WorkflowMessage } from '../core/generation/types.js';
import { startTestHost, request, type TestHost, type TestSocket } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';
import { LollmsClient, LollmsRequestError } from '../client/index.js';

const CONFIG = (name: string, extra = '') => `name: ${name}
author: tests
version: 1.0.0
host_api: "^1.1.0"
personality_conditioning: ""
include_welcome_message_in_disucssion: false
anti_prompts: []
model_n_predicts: 24
processor_cfg:
  custom_workflow: true
${extra}`;

/** A processor whose runWorkflow is `body` (`input`, `ctx` in scope; `defineTool`, `rankBySimilarity` imported). */
const processor = (body: string, top = '') => `import { defineProcessor, defineTool, rankBySimilarity } from 'lollms-host/plugin-api';
void defineTool; void rankBySimilarity;
${top}
export default defineProcessor({
  settings: { size: { type: 'int', value: 100000, min: 1, max: 'ctx_size' }, half: { type: 'float', value: 1, min: 0, max: 'ctx_size / 2' } },
  async runWorkflow(input, ctx) {
${body}
  },
});
`;

const FIXTURES: Record<string, { body: string; config?: string; top?: string }> = {
  schema: {
    body: `
    const schema = { type: 'object', properties: { mood: { enum: ['happy', 'sad'] }, word: { type: 'string', maxLength: 8 }, n: { type: 'integer' } }, required: ['mood', 'word', 'n'], additionalProperties: false };
    const fromGenerate = await ctx.generate<{ mood: string; word: string; n: number }>('Describe your mood: ', { schema, maxTokens: 64, seed: 3, temperature: 1 });
    const fromChat = await ctx.chat<{ mood: string; word: string; n: number }>([{ role: 'user', content: 'Your mood?' }], { schema, maxTokens: 64, seed: 4 });
    const yesNo = await ctx.generate('Yes or no? ', { grammar: 'root ::= "yes" | "no"', seed: 5 });
    const plain = await ctx.chat([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], { maxTokens: 8, seed: 6 });
    return JSON.stringify({ fromGenerate, fromChat, yesNo, plain: typeof plain });`,
  },
  tools: {
    top: `const add = defineTool<{ a: number; b: number }>({
  name: 'add',
  description: 'Adds two numbers',
  parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'], additionalProperties: false },
  handler: ({ a, b }) => ({ sum: a + b }),
});`,
    body: `
    const seen: unknown[] = [];
    const answer = await ctx.chat([{ role: 'user', content: 'What is 2 + 3?' }], { tools: [add], toolChoice: { name: 'add' }, maxTokens: 40, seed: 2, onMessage: (m) => seen.push(m) });
    return JSON.stringify({ answer, seen });`,
  },
  embed: {
    body: `
    const passages = ['the cat sat', 'a dog ran', 'the cat sat'];
    const [query, ...docs] = await ctx.embed(['the cat sat', ...passages]);
    const ranked = rankBySimilarity(query!, docs, { topK: 2 });
    return JSON.stringify({ dims: query!.length, count: docs.length, ranked, vectors: [query, docs[0]] });`,
  },
  ask: {
    body: `
    const units = await ctx.ask('Metric or imperial?', { choices: ['metric', 'imperial'] });
    let timedOut = '';
    if (input.prompt === 'also time out') {
      try { await ctx.ask('Anyone there?', { timeoutMs: 300 }); } catch (e) { timedOut = (e as { code?: string }).code ?? String(e); }
    }
    return JSON.stringify({ units, timedOut });`,
  },
  offline: {
    body: `
    try { return 'answered: ' + (await ctx.ask('Still there?')); }
    catch (e) { return 'no channel: ' + (e as { code?: string }).code; }`,
  },
  state: {
    body: `
    const turns = ((ctx.state.turns as number | undefined) ?? 0) + 1;
    ctx.state.turns = turns;
    ctx.state.last = input.prompt;
    return JSON.stringify({ turns, model: ctx.model, size: ctx.settings.size, half: ctx.settings.half });`,
  },
  store: {
    body: `
    if (input.prompt === 'big') {
      try { await ctx.store.set('big', 'x'.repeat(5000)); return 'stored'; } catch (e) { return (e as { code?: string }).code ?? String(e); }
    }
    const count = ((await ctx.store.get<number>('count')) ?? 0) + 1;
    await ctx.store.set('count', count);
    return JSON.stringify({ count, keys: await ctx.store.keys() });`,
  },
  caller: {
    body: `
    const target = input.prompt;
    try { return 'got: ' + (await ctx.callPersonality(target, 'ping')); }
    catch (e) { return 'refused: ' + (e as { code?: string }).code + ': ' + (e as Error).message; }`,
  },
  echo: {
    body: `
    ctx.step('echo step (not for the client)');
    ctx.state.called = true;
    return 'echo of ' + input.prompt;`,
  },
  private: { body: `return 'private';`, config: 'callable_by: false\n' },
  only_caller: { body: `return 'only for prim/caller';`, config: 'callable_by: ["prim/caller"]\n' },
};

type WireEvent = [string, unknown];

/** `generate_text` on `socket`, recording every event until the answer or the error; `onAsk` answers questions. */
async function turn(socket: TestSocket, payload: Record<string, unknown>, onAsk?: (ask: GenerationAsk) => void): Promise<{ events: WireEvent[]; text?: string; error?: string; code?: string }> {
  const events: WireEvent[] = [];
  const onAny = (event: string, data: unknown) => {
    events.push([event, data]);
    if (event === 'generation_ask') onAsk?.(data as GenerationAsk);
  };
  socket.onAny(onAny);
  try {
    const done = await new Promise<WireEvent>((resolve) => {
      const check = (event: string, data: unknown) => {
        if (event === 'text_generated' || event === 'generation_error' || event === 'generation_canceled') {
          socket.offAny(check);
          resolve([event, data]);
        }
      };
      socket.onAny(check);
      socket.emit('generate_text', payload as never);
    });
    const [event, data] = done;
    const d = data as { text?: string; error?: string; code?: string };
    return { events, ...(event === 'text_generated' ? { text: d.text } : { error: d.error ?? event, ...(d.code ? { code: d.code } : {}) }) };
  } finally {
    socket.offAny(onAny);
  }
}

const messages = (events: WireEvent[]) => events.filter(([e]) => e === 'generation_message').map(([, m]) => m as GenerationMessage);

describe('workflow primitives through the host (real engine, test model)', function () {
  this.timeout(120_000);
  let zoo: string;
  let host: TestHost;
  let socket: TestSocket;
  const ids = new Map<string, number>();

  const mount = async (name: string, client = socket): Promise<number> => {
    const known = ids.get(name);
    if (known !== undefined) return known;
    const reply = (await request(client, 'add_personality', { path: `prim/${name}` }, 'personality_added', 30_000)) as { id: number };
    ids.set(name, reply.id);
    return reply.id;
  };

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lh-primitives-zoo-'));
    for (const [name, f] of Object.entries(FIXTURES)) {
      await writePersonality(zoo, `prim/${name}`, CONFIG(name, f.config ?? ''), { 'scripts/processor.ts': processor(f.body, f.top ?? '') });
    }
    host = await startTestHost({ config: { personalities_paths: [zoo], personality_store_max_bytes: 4096, sandbox_ask_timeout_ms: 60_000 } });
    socket = await host.connect();
  });

  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  it('structured output: generate and chat with a schema resolve to schema-valid values; a grammar forces the text', async () => {
    const result = await turn(socket, { prompt: 'go', personality: await mount('schema') });
    expect(result.error, result.error).to.equal(undefined);
    const out = JSON.parse(result.text!) as Record<string, { mood: string; word: string; n: number } | string>;
    for (const value of [out.fromGenerate, out.fromChat] as Array<{ mood: string; word: string; n: number }>) {
      expect(Object.keys(value).sort()).to.deep.equal(['mood', 'n', 'word']);
      expect(['happy', 'sad']).to.include(value.mood);
      // JSON Schema counts characters (code points), not UTF-16 units.
      expect([...value.word].length).to.be.at.most(8);
      expect(Number.isInteger(value.n)).to.equal(true);
    }
    expect(['yes', 'no']).to.include(out.yesNo);
    expect(out.plain).to.equal('string');
  });

  it('tools: a forced call runs the handler in the sandbox; the client sees the call as a step with its name, arguments and result', async () => {
    const result = await turn(socket, { prompt: 'go', personality: await mount('tools') });
    expect(result.error, result.error).to.equal(undefined);
    const out = JSON.parse(result.text!) as { answer: string; seen: Array<{ role: string; toolCalls?: Array<{ id: string; name: string; arguments: { a: number; b: number } }>; content: string; toolCallId?: string }> };
    const call = out.seen[0]!.toolCalls![0]!;
    expect(call.name).to.equal('add');
    expect(Number.isInteger(call.arguments.a) && Number.isInteger(call.arguments.b)).to.equal(true);
    expect(out.seen[1]).to.deep.equal({ role: 'tool', content: JSON.stringify({ sum: call.arguments.a + call.arguments.b }), toolCallId: call.id, name: 'add' });
    expect(out.seen.at(-1)!.role).to.equal('assistant');
    const steps = messages(result.events).filter((m) => m.metadata['tool_call'] !== undefined);
    expect(steps.map((m) => [m.type_name, m.content])).to.deep.equal([['MSG_TYPE_STEP_START', 'Calling add'], ['MSG_TYPE_STEP_END', 'Calling add']]);
    expect(steps[0]!.metadata).to.deep.equal({ tool_call: { id: call.id, name: 'add', arguments: call.arguments } });
    expect(steps[1]!.metadata).to.deep.equal({ status: true, tool_call: { id: call.id, name: 'add', arguments: call.arguments }, result: out.seen[1]!.content });
  });

  it('embed: one vector per text, equal texts embed equally, and rankBySimilarity ranks the same text first', async () => {
    const result = await turn(socket, { prompt: 'go', personality: await mount('embed') });
    expect(result.error, result.error).to.equal(undefined);
    const out = JSON.parse(result.text!) as { dims: number; count: number; ranked: Array<{ index: number; score: number }>; vectors: number[][] };
    expect(out.count).to.equal(3);
    expect(out.dims).to.be.greaterThan(0);
    expect(out.vectors[0]).to.have.length(out.dims);
    expect(cosineSimilarity(out.vectors[0]!, out.vectors[1]!)).to.be.above(0.999);
    expect(out.ranked).to.have.length(2);
    expect([0, 2]).to.include(out.ranked[0]!.index);
    expect(out.ranked[0]!.score).to.be.above(0.999);
  });

  describe('ctx.ask', () => {
    it('the client gets generation_ask; a wrong id or an answer outside the choices is refused; the right answer resumes the workflow', async () => {
      const id = await mount('ask');
      const replies: unknown[] = [];
      const result = await turn(socket, { prompt: 'go', personality: id }, (ask) => {
        void (async () => {
          replies.push(await request(socket, 'generation_answer', { request_id: 'ask_made_up', answer: 'metric' }, 'generation_answer'));
          replies.push(await request(socket, 'generation_answer', { request_id: ask.request_id, answer: 'kelvin' }, 'generation_answer'));
          replies.push(await request(socket, 'generation_answer', { request_id: ask.request_id, answer: 'imperial' }, 'generation_answer'));
        })();
      });
      expect(result.error, result.error).to.equal(undefined);
      expect(JSON.parse(result.text!)).to.deep.equal({ units: 'imperial', timedOut: '' });
      const ask = result.events.find(([e]) => e === 'generation_ask')![1] as GenerationAsk;
      expect(ask).to.deep.equal({ request_id: ask.request_id, question: 'Metric or imperial?', choices: ['metric', 'imperial'], timeout_ms: 60_000 });
      expect(ask.request_id).to.match(/^ask_[A-Za-z0-9_-]{16}$/);
      expect(replies).to.deep.equal([
        { success: false, request_id: 'ask_made_up', error: 'no question with this request_id is waiting for an answer from this client' },
        { success: false, request_id: ask.request_id, error: 'the answer must be one of the choices of the question' },
        { success: true, request_id: ask.request_id },
      ]);
      // Answered once: a second answer finds nothing waiting.
      const late = await request(socket, 'generation_answer', { request_id: ask.request_id, answer: 'metric' }, 'generation_answer');
      expect(late).to.include({ success: false });
    });

    it('another client cannot answer a question that is not its own', async () => {
      const id = await mount('ask');
      const other = await host.connect();
      const stolen: unknown[] = [];
      const result = await turn(socket, { prompt: 'go', personality: id }, (ask) => {
        void (async () => {
          stolen.push(await request(other, 'generation_answer', { request_id: ask.request_id, answer: 'metric' }, 'generation_answer'));
          await request(socket, 'generation_answer', { request_id: ask.request_id, answer: 'imperial' }, 'generation_answer');
        })();
      });
      expect(JSON.parse(result.text!)).to.deep.include({ units: 'imperial' });
      expect(stolen[0]).to.include({ success: false });
      other.close();
    });

    it('an unanswered question times out with LH_ERR_ASK_TIMEOUT, which the processor can catch', async () => {
      const id = await mount('ask');
      let asked = 0;
      const result = await turn(socket, { prompt: 'also time out', personality: id }, (ask) => {
        if (asked++ === 0) void request(socket, 'generation_answer', { request_id: ask.request_id, answer: 'metric' }, 'generation_answer');
      });
      expect(result.error, result.error).to.equal(undefined);
      expect(JSON.parse(result.text!)).to.deep.equal({ units: 'metric', timedOut: 'LH_ERR_ASK_TIMEOUT' });
      expect(asked).to.equal(2);
    });

    it('cancel_generation while the question waits ends the generation; the question is dropped', async () => {
      const id = await mount('ask');
      let requestId = '';
      const result = await turn(socket, { prompt: 'go', personality: id }, (ask) => {
        requestId = ask.request_id;
        socket.emit('cancel_generation', {});
      });
      expect(result.error).to.equal('generation_canceled');
      const late = await request(socket, 'generation_answer', { request_id: requestId, answer: 'metric' }, 'generation_answer');
      expect(late).to.include({ success: false });
    });

    it('the typed client: onAsk answers, generation.questions lists the question, a refused answer rejects', async () => {
      const id = await mount('ask');
      const client = new LollmsClient({ url: host.url, transports: ['websocket'], socketOptions: { reconnection: false } });
      try {
        let refused: unknown;
        const generation = client.generate('go', {
          personality: id,
          onAsk: async (question) => {
            refused = await client.answer(question.request_id, 'kelvin').catch((error: unknown) => error);
            return question.choices![0]!;
          },
        });
        expect(JSON.parse(await generation.text)).to.deep.equal({ units: 'metric', timedOut: '' });
        expect(generation.questions.map((q) => q.question)).to.deep.equal(['Metric or imperial?']);
        expect(refused).to.be.instanceOf(LollmsRequestError);
        expect((refused as Error).message).to.match(/one of the choices/);
      } finally {
        await client.close();
      }
    });

    it('without a channel back (a sink without ask, as over HTTP), ctx.ask fails with LH_ERR_ASK_UNAVAILABLE', async () => {
      const seen: WorkflowMessage[] = [];
      const sink: GenerationSink = { answer: () => {}, draft: () => {}, message: (m) => seen.push(m) };
      const outcome = await host.host.generation.run(
        { client: { id: 'http-1', transport: 'http' }, kind: 'personality', personality: { path: 'prim/offline' }, prompt: 'hi', queue: 'wait', signal: new AbortController().signal },
        sink,
      );
      expect(outcome.text).to.equal('no channel: LH_ERR_ASK_UNAVAILABLE');
    });
  });

  describe('ctx.callPersonality', () => {
    it("runs the other personality's turn in its own sandbox and returns its answer; only the caller's steps reach the client", async () => {
      const result = await turn(socket, { prompt: 'prim/echo', personality: await mount('caller') });
      expect(result.text).to.equal('got: echo of ping');
      const steps = messages(result.events);
      expect(steps.map((m) => [m.type_name, m.content, m.metadata])).to.deep.equal([
        ['MSG_TYPE_STEP_START', 'Asking prim/echo', { personality_call: { path: 'prim/echo' } }],
        ['MSG_TYPE_STEP_END', 'Asking prim/echo', { status: true, personality_call: { path: 'prim/echo' } }],
      ]);
    });

    it('callable_by: false refuses every caller; a list admits the personalities it names', async () => {
      await mount('caller');
      const denied = await turn(socket, { prompt: 'prim/private', personality: await mount('caller') });
      expect(denied.text).to.match(/^refused: LH_ERR_PERSONALITY_CALL_DENIED: /);
      const listed = await turn(socket, { prompt: 'prim/only_caller', personality: await mount('caller') });
      expect(listed.text).to.equal('got: only for prim/caller');
      // The same list refuses another caller.
      const other = await turn(socket, { prompt: 'prim/only_caller', personality: await mount('echo') });
      expect(other.text).to.equal('echo of prim/only_caller');
    });

    it('a personality calling itself is a cycle: LH_ERR_PERSONALITY_CALL_LOOP, at once', async () => {
      const result = await turn(socket, { prompt: 'prim/caller', personality: await mount('caller') });
      expect(result.text).to.match(/^refused: LH_ERR_PERSONALITY_CALL_LOOP: .*already running in this call chain/);
    });
  });

  describe('ctx.state, ctx.store, ctx.model, context-size bounds', () => {
    it('ctx.state lasts across the turns of one discussion, per client; over the HTTP path it starts empty each time', async () => {
      const id = await mount('state');
      const first = JSON.parse((await turn(socket, { prompt: 'a', personality: id })).text!) as { turns: number };
      const second = JSON.parse((await turn(socket, { prompt: 'b', personality: id })).text!) as { turns: number };
      expect(second.turns).to.equal(first.turns + 1);
      const other = await host.connect();
      expect(JSON.parse((await turn(other, { prompt: 'c', personality: id })).text!)).to.include({ turns: 1 });
      other.close();
      const sink: GenerationSink = { answer: () => {}, draft: () => {}, message: () => {} };
      for (let i = 0; i < 2; i++) {
        const outcome = await host.host.generation.run({ client: { id: 'http-state', transport: 'http' }, kind: 'personality', personality: { path: 'prim/state' }, prompt: 'h', queue: 'wait', signal: new AbortController().signal }, sink);
        expect(JSON.parse(outcome.text)).to.include({ turns: 1 });
      }
    });

    it('ctx.model is the loaded model; settings bounds "ctx_size" follow its context (values above are lowered, writes above refused)', async () => {
      const id = await mount('state');
      const out = JSON.parse((await turn(socket, { prompt: 'a', personality: id })).text!) as { model: { name: string; contextSize: number }; size: number; half: number };
      const model = host.host.bindings.model!.model;
      const contextSize = model.contextSize;
      expect(out.model).to.deep.equal({ name: model.name, contextSize });
      // The default (100000) is above the bound: the workflow sees the bound.
      expect(out.size).to.equal(contextSize);
      const settings = (await request(socket, 'get_personality_settings', { id }, 'personality_settings')) as { template: Record<string, { max?: unknown }> };
      expect(settings.template['size']!.max).to.equal(contextSize);
      expect(settings.template['half']!.max).to.equal(contextSize / 2);
      const refused = (await request(socket, 'set_personality_settings', { id, settings: { size: contextSize + 1 } }, 'personality_settings')) as { success: boolean; error?: string };
      expect(refused.success).to.equal(false);
      expect(refused.error).to.match(new RegExp(`above the maximum ${contextSize}`));
      const ok = (await request(socket, 'set_personality_settings', { id, settings: { size: 7 } }, 'personality_settings')) as { success: boolean };
      expect(ok.success).to.equal(true);
      expect(JSON.parse((await turn(socket, { prompt: 'a', personality: id })).text!)).to.include({ size: 7 });
    });

    it('ctx.store is kept per personality in the data dir, shared by clients, bounded by its quota', async () => {
      const id = await mount('store');
      const a = JSON.parse((await turn(socket, { prompt: 'x', personality: id })).text!) as { count: number; keys: string[] };
      const other = await host.connect();
      const b = JSON.parse((await turn(other, { prompt: 'y', personality: id })).text!) as { count: number; keys: string[] };
      other.close();
      expect(b.count).to.equal(a.count + 1);
      expect(b.keys).to.deep.equal(['count']);
      const file = JSON.parse(await readFile(join(host.dataDir, 'store', 'personalities', 'prim%2Fstore.json'), 'utf8')) as Record<string, unknown>;
      expect(file).to.deep.equal({ count: b.count });
      expect((await turn(socket, { prompt: 'big', personality: id })).text).to.equal('LH_ERR_STORE_QUOTA');
      expect(JSON.parse(await readFile(join(host.dataDir, 'store', 'personalities', 'prim%2Fstore.json'), 'utf8'))).to.deep.equal({ count: b.count });
    });
  });
});


