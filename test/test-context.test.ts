/**
 * `createTestContext` of `lollms-host/testing`: the built-in workflows run on it as an author's unit tests
 * would run theirs, and it behaves as the sandbox does where a test can tell (the tool loop and its steps, the
 * round limit, copies, the store's keys and quota, questions, cancel).
 */
import { expect } from 'chai';
import { createTestContext, type TestChatRound } from '../core/testing.js';
import type { ChatMessage } from '../plugin-api/index.js';
import agent from '../personalities/english/tools/calculator_agent/scripts/processor.js';
import clarifier from '../personalities/english/generic/clarifier/scripts/processor.js';

const code = async (promise: Promise<unknown>) => promise.then(() => 'ok', (e: { code?: string; name: string }) => e.code ?? e.name);

describe('lollms-host/testing createTestContext', () => {
  it('runs a tool loop as the sandbox does: the handler runs, its result goes back, each call is a step, state keeps the turn', async () => {
    const rounds: Array<{ messages: ChatMessage[]; round: TestChatRound }> = [];
    const ctx = createTestContext({
      settings: { tool_choice: 'required', max_rounds: 4, history_turns: 6 },
      chat: (messages, round) => {
        rounds.push({ messages, round });
        return round.round === 1 ? { toolCalls: [{ id: 'call_1', name: 'calculate', arguments: { a: 6, op: '*', b: 7 } }] } : 'It is 42.';
      },
    });
    const answer = await agent.runWorkflow!({ prompt: 'six times seven?', previousDiscussion: '' }, ctx);
    expect(answer).to.equal('It is 42.');
    expect(rounds.map((r) => [r.round.round, r.round.toolChoice, r.round.tools.map((t) => t.name)])).to.deep.equal([
      [1, 'required', ['calculate', 'convert_units']],
      [2, undefined, ['calculate', 'convert_units']],
    ]);
    expect(rounds[1]!.messages.at(-1)).to.deep.equal({ role: 'tool', content: '{"result":42}', toolCallId: 'call_1', name: 'calculate' });
    const call = { id: 'call_1', name: 'calculate', arguments: { a: 6, op: '*', b: 7 } };
    expect(ctx.messages).to.deep.equal([
      { type: 8, typeName: 'MSG_TYPE_STEP_START', content: 'Calling calculate', metadata: { tool_call: call } },
      { type: 10, typeName: 'MSG_TYPE_STEP_END', content: 'Calling calculate', metadata: { status: true, tool_call: call, result: '{"result":42}' } },
    ]);
    expect(ctx.state['history']).to.deep.equal([{ role: 'user', content: 'six times seven?' }, { role: 'assistant', content: 'It is 42.' }]);
  });

  it('a handler that throws answers {"error"} and fails its step; a model that never stops calling ends with LH_ERR_TOOL_ROUNDS', async () => {
    const ctx = createTestContext({ settings: { max_rounds: 2 }, chat: () => ({ toolCalls: [{ name: 'calculate', arguments: { a: 1, op: '/', b: 0 } }] }) });
    expect(await code(agent.runWorkflow!({ prompt: '1/0', previousDiscussion: '' }, ctx))).to.equal('LH_ERR_TOOL_ROUNDS');
    const end = ctx.messages.find((m) => m.typeName === 'MSG_TYPE_STEP_END')!;
    expect(end.metadata['status']).to.equal(false);
    expect(JSON.parse(end.metadata['result'] as string)).to.have.property('error');
  });

  it('ctx.ask: answered from the script, or LH_ERR_ASK_UNAVAILABLE without one (the Clarifier then assumes)', async () => {
    const unclear = { clear: false, question: 'Which language?', options: ['Python', 'Rust'] };
    const asked = createTestContext({
      settings: { ask: 'when unclear', answer_tokens: 64, timeout_s: 60 },
      generate: (prompt, options) => (options.schema ? unclear : `answer to: ${prompt.includes('The user answered: Rust') ? 'Rust' : '?'}`),
      ask: (_question, options) => options.choices![1]!,
    });
    expect(await clarifier.runWorkflow!({ prompt: 'Write a sort.', previousDiscussion: '' }, asked)).to.equal('answer to: Rust');
    expect(asked.questions).to.deep.equal([{ question: 'Which language?', choices: ['Python', 'Rust'] }]);

    const nobody = createTestContext({ settings: { ask: 'when unclear', answer_tokens: 64, timeout_s: 60 }, generate: (_p, o) => (o.schema ? unclear : 'assumed') });
    expect(await clarifier.runWorkflow!({ prompt: 'Write a sort.', previousDiscussion: '' }, nobody)).to.equal('assumed');
    expect(nobody.messages.map((m) => m.typeName)).to.include('MSG_TYPE_INFO');
  });

  it('the store keeps JSON copies, checks keys and the quota; values cross as copies; cancel makes every call throw', async () => {
    const ctx = createTestContext({ store: { kept: 1 }, storeMaxBytes: 64 });
    const value = { list: [1, 2] };
    await ctx.store.set('v', value);
    value.list.push(3);
    expect(await ctx.store.get('v')).to.deep.equal({ list: [1, 2] });
    expect(await ctx.store.keys()).to.deep.equal(['kept', 'v']);
    expect(await code(ctx.store.set('', 1))).to.equal('LH_ERR_STORE_KEY');
    expect(await code(ctx.store.set('big', 'x'.repeat(100)))).to.equal('LH_ERR_STORE_QUOTA');
    expect(ctx.storeContents()).to.deep.equal({ kept: 1, v: { list: [1, 2] } });
    expect(await ctx.generate('x', { schema: { type: 'object' } })).to.deep.equal({});
    const [a, b] = await ctx.embed(['same', 'same']);
    expect(a).to.deep.equal(b);
    ctx.cancel();
    expect(ctx.signal.aborted).to.equal(true);
    expect(await code(ctx.generate('x'))).to.equal('LH_ERR_CANCELLED');
    expect(() => ctx.step('late')).to.throw('cancelled');
  });
});
