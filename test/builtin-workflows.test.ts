/**
 * The three built-in personalities that show the plugin API 1.1 primitives, each through a real host from
 * `lollms-host/testing` on the tiny random test model (as a personality author would test theirs), plus their
 * pure parts: Planner (a plan forced into a schema, then one step per part), Calculator Agent (tools whose
 * handlers run in the sandbox, each call a step) and Clarifier (a question to the user before the answer).
 */
import { expect } from 'chai';
import { startTestHost, type TestHost } from '../core/testing.js';
import type { GenerationSink, WorkflowMessage } from '../core/generation/types.js';
import { checkJsonSchema, type ProcessorContext } from '../plugin-api/index.js';
import planner, { document, planSchema, type Plan } from '../personalities/english/thinking/planner/scripts/processor.js';
import { calculate, convertUnits } from '../personalities/english/tools/calculator_agent/scripts/tools.js';
import { keptHistory } from '../personalities/english/tools/calculator_agent/scripts/processor.js';
import { choicesOf, questionOf } from '../personalities/english/generic/clarifier/scripts/processor.js';

const PLANNER = 'english/thinking/planner';
const AGENT = 'english/tools/calculator_agent';
const CLARIFIER = 'english/generic/clarifier';

describe('built-in workflows of plugin API 1.1 (lollms-host/testing, test model)', function () {
  this.timeout(120_000);
  let host: TestHost;

  before(async () => {
    // A fixed seed: the random model's choices (and so these runs) are the same every time.
    host = await startTestHost({ config: { seed: 7, sandbox_ask_timeout_ms: 60_000 } });
  });
  after(() => host?.close());

  describe('Planner', () => {
    it('plans in the schema, writes each part in its own step, and answers with the document', async () => {
      const { id } = await host.addPersonality(PLANNER);
      await host.setSettings(id, { max_parts: 2, plan_tokens: 600, part_tokens: 16 });
      const result = await host.generate('Write a short guide to tea.', { personality: id, nPredicts: 64 });
      expect(result.error, result.error).to.equal(undefined);
      const names = result.messages.map((m) => [m.type_name, m.content.split(':')[0]]);
      expect(names.slice(0, 2)).to.deep.equal([['MSG_TYPE_STEP_START', 'Planning'], ['MSG_TYPE_STEP_END', 'Planning']]);
      expect(result.messages[1]!.metadata).to.deep.equal({ status: true });
      const planMessage = result.messages.find((m) => m.type_name === 'MSG_TYPE_JSON_INFOS')!;
      expect(planMessage.metadata).to.deep.equal({ title: 'Plan' });
      const plan = JSON.parse(planMessage.content) as Plan;
      // The grammar forced the shape, the host validated it: 1 or 2 parts, each with a heading and a goal.
      expect(plan.parts.length).to.be.within(1, 2);
      for (const part of plan.parts) expect(Object.keys(part).sort()).to.deep.equal(['goal', 'heading']);
      const writing = result.messages.filter((m) => m.content.startsWith('Writing part '));
      expect(writing.map((m) => m.type_name)).to.deep.equal(plan.parts.flatMap(() => ['MSG_TYPE_STEP_START', 'MSG_TYPE_STEP_END']));
      // The parts streamed as drafts; the answer is the whole document, sent as FULL too.
      expect(result.chunks.length).to.be.greaterThan(0);
      expect(result.messages.at(-1)).to.include({ type_name: 'MSG_TYPE_FULL', content: result.text });
      expect(result.text.startsWith(`# ${plan.title.trim()}`)).to.equal(true);
      expect(result.text.split('\n## ')).to.have.length(plan.parts.length + 1);
    });

    it('its schema is within the host bounds; without a plan it writes one part and says why', async () => {
      checkJsonSchema(planSchema(8));
      const messages: Array<{ type: string; content: string }> = [];
      const ctx = {
        settings: { max_parts: 3, plan_tokens: 100, part_tokens: 10 },
        model: { name: 'm', contextSize: 512 },
        generate: async (_prompt: string, options: { schema?: unknown }) => {
          if (options.schema) throw Object.assign(new Error('cut'), { code: 'LH_ERR_OUTPUT_INVALID' });
          return 'text';
        },
        stepStart: (c: string) => messages.push({ type: 'start', content: c }),
        stepEnd: (c: string, ok = true) => messages.push({ type: ok ? 'end' : 'failed', content: c }),
        warning: (c: string) => messages.push({ type: 'warning', content: c }),
        json: () => {},
        full: () => {},
      } as unknown as ProcessorContext;
      const answer = await planner.runWorkflow!({ prompt: 'tea', previousDiscussion: '' }, ctx);
      expect(answer).to.equal(document({ title: 'tea', parts: [{ heading: 'Answer', goal: '' }] }, ['text']));
      expect(messages.slice(0, 2)).to.deep.equal([{ type: 'start', content: 'Planning' }, { type: 'failed', content: 'Planning' }]);
      expect(messages[2]!.content).to.match(/LH_ERR_OUTPUT_INVALID/);
    });
  });

  describe('Calculator Agent', () => {
    it('its tools are exact pure functions that refuse what they cannot do', () => {
      expect(calculate(2, '^', 10)).to.equal(1024);
      expect(calculate(7, '%', 4)).to.equal(3);
      expect(() => calculate(1, '/', 0)).to.throw(RangeError, 'division by zero');
      expect(convertUnits(100, 'C', 'F')).to.be.closeTo(212, 1e-9);
      expect(convertUnits(1, 'mi', 'km')).to.be.closeTo(1.609344, 1e-12);
      expect(convertUnits(1, 'lb', 'g')).to.be.closeTo(453.59237, 1e-9);
      expect(() => convertUnits(1, 'kg', 'm')).to.throw(RangeError, 'cannot convert kg (mass) to m');
      expect(() => convertUnits(-300, 'C', 'K')).to.throw(RangeError, 'below absolute zero');
      expect(keptHistory({ history: [{ role: 'user', content: 'a' }, { role: 'tool', content: 'x' }, 'junk', { role: 'assistant', content: 'b' }] }, 5))
        .to.deep.equal([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]);
    });

    it('a required tool call runs in the sandbox: the step carries the name, the arguments and the exact result', async () => {
      const { id } = await host.addPersonality(AGENT);
      await host.setSettings(id, { tool_choice: 'required', max_rounds: 4 });
      const result = await host.generate('How many feet are 3 metres?', { personality: id });
      expect(result.error, result.error).to.equal(undefined);
      const starts = result.messages.filter((m) => m.type_name === 'MSG_TYPE_STEP_START' && m.metadata['tool_call']);
      const ends = result.messages.filter((m) => m.type_name === 'MSG_TYPE_STEP_END' && m.metadata['tool_call']);
      expect(starts.length).to.be.at.least(1);
      expect(ends).to.have.length(starts.length);
      const call = starts[0]!.metadata['tool_call'] as { name: string; arguments: Record<string, unknown> };
      expect(starts[0]!.content).to.equal(`Calling ${call.name}`);
      const end = ends[0]!.metadata as { status: boolean; result: string };
      // The handler's answer, recomputed here from the arguments the model chose.
      const args = call.arguments as { a: number; op: '+'; b: number; value: number; from: string; to: string };
      let expected: string;
      try {
        expected = JSON.stringify(call.name === 'calculate' ? { result: calculate(args.a, args.op, args.b) } : { result: convertUnits(args.value, args.from, args.to), unit: args.to });
        expect(end.status).to.equal(true);
      } catch (error) {
        expected = JSON.stringify({ error: (error as Error).message });
        expect(end.status).to.equal(false);
      }
      expect(end.result).to.equal(expected);
      expect(result.text).to.be.a('string');
    });
  });

  describe('Clarifier', () => {
    it('asks before it answers: the question arrives as generation_ask, the answer resumes the workflow', async () => {
      const { id } = await host.addPersonality(CLARIFIER);
      await host.setSettings(id, { ask: 'always', answer_tokens: 16 });
      const result = await host.generate('Convert the temperature.', {
        personality: id,
        onAsk: (question) => question.choices?.[0] ?? 'Celsius to Fahrenheit, please',
      });
      expect(result.error, result.error).to.equal(undefined);
      expect(result.questions).to.have.length(1);
      const [question] = result.questions;
      expect(question!.question.length).to.be.greaterThan(0);
      if (question!.choices) expect(new Set(question!.choices).size).to.equal(question!.choices.length);
      expect(result.messages.map((m) => m.type_name)).to.deep.equal(['MSG_TYPE_STEP_START', 'MSG_TYPE_STEP_END', 'MSG_TYPE_FULL']);
      expect(result.messages.at(-1)!.content).to.equal(result.text);
    });

    it('with nobody to ask (the HTTP path), it answers anyway and says it assumed', async () => {
      const { id } = await host.addPersonality(CLARIFIER);
      await host.setSettings(id, { ask: 'always', answer_tokens: 16 });
      const seen: WorkflowMessage[] = [];
      const sink: GenerationSink = { answer: () => {}, draft: () => {}, message: (m) => seen.push(m) };
      const outcome = await host.host.generation.run(
        { client: { id: 'http-clarifier', transport: 'http' }, kind: 'personality', personality: { path: CLARIFIER }, prompt: 'Convert it.', queue: 'wait', signal: new AbortController().signal },
        sink,
      );
      expect(seen.map((m) => [m.typeName, m.content])).to.deep.include(['MSG_TYPE_INFO', 'Nobody can be asked here; answering with an assumption.']);
      expect(seen.at(-1)).to.include({ typeName: 'MSG_TYPE_FULL', content: outcome.text });
    });

    it('ask: never goes straight to the answer; its helpers keep choices usable', async () => {
      const { id } = await host.addPersonality(CLARIFIER);
      await host.setSettings(id, { ask: 'never', answer_tokens: 16 });
      const result = await host.generate('Hello', { personality: id });
      expect(result.questions).to.deep.equal([]);
      expect(result.messages.map((m) => m.type_name)).to.deep.equal(['MSG_TYPE_FULL']);
      expect(choicesOf([' a ', 'a', '', 'b', 'c', 'd', 'e'])).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(choicesOf(['only'])).to.equal(undefined);
      expect(questionOf({ clear: false, question: '  ', options: [] })).to.equal('Could you tell me a little more about what you need?');
    });
  });
});
