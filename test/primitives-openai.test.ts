/**
 * Issue 15: every workflow primitive but `ctx.ask` works through the OpenAI-compatible API, and `ctx.ask` fails
 * there with a coded error the processor can catch (no channel back). One personality model uses them all in
 * one workflow, driven by the official `openai` client against a real host on the test model; the answers are
 * gibberish, so the assertions are about shapes, the steps the client sees, and what the workflow received.
 */
import { expect } from 'chai';
import OpenAI from 'openai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestHost, type TestHost } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';

const CONFIG = (name: string) => `name: ${name}
author: tests
version: 1.0.0
host_api: "^1.1.0"
personality_conditioning: ""
include_welcome_message_in_disucssion: false
anti_prompts: []
model_n_predicts: 24
processor_cfg:
  custom_workflow: true
`;

const ALL_PRIMITIVES = `import { defineProcessor, defineTool, rankBySimilarity } from 'lollms-host/plugin-api';

const add = defineTool<{ a: number; b: number }>({
  name: 'add',
  description: 'Adds two numbers',
  parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'], additionalProperties: false },
  handler: ({ a, b }) => ({ sum: a + b }),
});

export default defineProcessor({
  async runWorkflow(input, ctx) {
    const schema = { type: 'object', properties: { mood: { enum: ['happy', 'sad'] }, n: { type: 'integer' } }, required: ['mood', 'n'], additionalProperties: false };
    const structured = await ctx.generate<{ mood: string; n: number }>('Your mood: ', { schema, maxTokens: 48, seed: 3 });
    const yesNo = await ctx.generate('Yes or no? ', { grammar: 'root ::= "yes" | "no"', seed: 5 });
    const toolAnswer = await ctx.chat([{ role: 'user', content: 'What is 2 + 3?' }], { tools: [add], toolChoice: { name: 'add' }, maxTokens: 40, seed: 2 });
    const [query, ...docs] = await ctx.embed(['the cat sat', 'a dog ran', 'the cat sat']);
    const ranked = rankBySimilarity(query!, docs, { topK: 1 });
    const called = await ctx.callPersonality('english/prim/echo', 'ping');
    ctx.state.turns = ((ctx.state.turns as number | undefined) ?? 0) + 1;
    const count = ((await ctx.store.get<number>('count')) ?? 0) + 1;
    await ctx.store.set('count', count);
    let ask = '';
    try { ask = 'answered: ' + (await ctx.ask('Metric or imperial?', { choices: ['metric', 'imperial'] })); }
    catch (e) { ask = (e as { code?: string }).code ?? String(e); }
    return JSON.stringify({ structured, yesNo, toolAnswer: typeof toolAnswer, rankedFirst: ranked[0]?.index, called, turns: ctx.state.turns, count, model: ctx.model, ask });
  },
});
`;

const ECHO = `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({ async runWorkflow(input) { return 'echo of ' + input.prompt; } });
`;

interface Report {
  structured: { mood: string; n: number };
  yesNo: string;
  toolAnswer: string;
  rankedFirst: number;
  called: string;
  turns: number;
  count: number;
  model: { name: string; contextSize: number };
  ask: string;
}

type LollmsMessage = { type: number; type_name: string; content: string; metadata: Record<string, unknown> };

describe('workflow primitives through the OpenAI-compatible API (issue 15)', function () {
  this.timeout(120_000);
  let zoo: string;
  let host: TestHost;
  let client: OpenAI;
  const model = 'personality/english/prim/all';

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lh-primitives-openai-'));
    await writePersonality(zoo, 'english/prim/all', CONFIG('all'), { 'scripts/processor.ts': ALL_PRIMITIVES });
    await writePersonality(zoo, 'english/prim/echo', CONFIG('echo'), { 'scripts/processor.ts': ECHO });
    host = await startTestHost({ config: { personalities_paths: [zoo] } });
    client = new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });

  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  it('schema and grammar output, a tool call, embeddings, a personality call, state, store and the model all work; ctx.ask fails with LH_ERR_ASK_UNAVAILABLE', async () => {
    const completion = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'go' }] });
    const report = JSON.parse(completion.choices[0]!.message.content!) as Report;
    expect(['happy', 'sad']).to.include(report.structured.mood);
    expect(Number.isInteger(report.structured.n)).to.equal(true);
    expect(['yes', 'no']).to.include(report.yesNo);
    expect(report.toolAnswer).to.equal('string');
    // Equal texts embed equally: the query's twin (index 1) ranks first.
    expect(report.rankedFirst).to.equal(1);
    expect(report.called).to.equal('echo of ping');
    // Nothing is kept per connection: the state starts empty for every request.
    expect(report.turns).to.equal(1);
    expect(report.model).to.deep.equal({ name: host.host.bindings.model!.name, contextSize: host.host.bindings.model!.model.contextSize });
    expect(report.ask).to.equal('LH_ERR_ASK_UNAVAILABLE');

    // The tool call and the personality call reach the client as steps, in the lollms_messages extension.
    const steps = (completion.choices[0]!.message as { lollms_messages?: LollmsMessage[] }).lollms_messages ?? [];
    const toolEnd = steps.find((m) => m.type_name === 'MSG_TYPE_STEP_END' && m.content === 'Calling add');
    expect(toolEnd, JSON.stringify(steps)).to.not.equal(undefined);
    const { a, b } = (toolEnd!.metadata.tool_call as { arguments: { a: number; b: number } }).arguments;
    expect(toolEnd!.metadata).to.deep.include({ status: true, result: JSON.stringify({ sum: a + b }) });
    expect(steps.map((m) => m.content)).to.include('Asking english/prim/echo');
  });

  it('ctx.store persists between API requests (per personality), while ctx.state does not', async () => {
    const first = JSON.parse((await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'again' }] })).choices[0]!.message.content!) as Report;
    const second = JSON.parse((await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'again' }] })).choices[0]!.message.content!) as Report;
    expect(second.count).to.equal(first.count + 1);
    expect([first.turns, second.turns]).to.deep.equal([1, 1]);
  });

  it('streamed, the content deltas join into the workflow answer and the steps arrive as reasoning', async () => {
    const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'stream' }], stream: true });
    let content = '';
    let reasoning = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
      content += delta?.content ?? '';
      reasoning += delta?.reasoning_content ?? '';
    }
    const report = JSON.parse(content) as Report;
    expect(report.ask).to.equal('LH_ERR_ASK_UNAVAILABLE');
    expect(reasoning).to.contain('Calling add');
  });
});
