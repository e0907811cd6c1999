import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHAT_FALLBACK_SEPARATOR,
  checkChatRequest,
  checkGbnfGrammar,
  checkJsonSchema,
  checkOutputFormat,
  cosineSimilarity,
  parseChatFallbackOutput,
  PLUGIN_API_VERSION,
  rankBySimilarity,
  renderChatFallback,
  toolCallsJsonSchema,
  type ChatMessage,
  type ToolDefinition,
} from '../plugin-api/index.js';
import { checkApiRange } from '../core/plugins/api-range.js';
import { loadBindingPlugin } from '../core/plugins/load-binding.js';
import { OutputValidator } from '../core/generation/output-validator.js';

/** The code of what `fn` throws (fails when it does not throw). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? `uncoded: ${String(error)}`;
  }
  expect.fail('expected a throw');
}

const WEATHER: ToolDefinition = {
  name: 'get_weather',
  description: 'The weather of a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } }, required: ['city'] },
};
const ADD: ToolDefinition = { name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } } } };

describe('plugin API 1.1', () => {
  describe('version and range rule', () => {
    let dir: string;
    before(async () => { dir = await mkdtemp(join(tmpdir(), 'lh-api-')); });
    after(() => rm(dir, { recursive: true, force: true }));

    const entry = `import { defineBinding } from 'lollms-host/plugin-api';
export default defineBinding({ async listModels() { return []; }, async loadModel() { throw new Error('none'); } });
`;
    async function bindingDeclaring(name: string, range: string): Promise<string> {
      const folder = join(dir, name);
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, 'binding_card.yaml'), `name: ${name}\nversion: 1.0.0\nhost_api: "${range}"\nentry: index.ts\n`);
      await writeFile(join(folder, 'models.yaml'), '[]\n');
      await writeFile(join(folder, 'index.ts'), entry);
      return folder;
    }
    const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

    it('is 1.1.0, and the loader accepts plugins declaring ^1.0.0 and ^1.1.0', async () => {
      expect(PLUGIN_API_VERSION).to.equal('1.1.0');
      const cacheDir = join(dir, 'cache');
      for (const [name, range] of [['old_style', '^1.0.0'], ['new_style', '^1.1.0']] as const) {
        const plugin = await loadBindingPlugin(await bindingDeclaring(name, range), { cacheDir, logger: quiet });
        expect(plugin.hostApi).to.equal(range);
      }
    });

    it('a 1.0 host refuses a plugin that needs 1.1, and a 2.0 host refuses both', () => {
      expect(codeOf(() => checkApiRange('^1.1.0', { folder: 'f', hostVersion: '1.0.0' }))).to.equal('LH_ERR_PLUGIN_API_MISMATCH');
      expect(() => checkApiRange('^1.0.0', { folder: 'f', hostVersion: '1.1.0' })).not.to.throw();
      expect(() => checkApiRange('^1.1.0', { folder: 'f' })).not.to.throw();
      for (const range of ['^1.0.0', '^1.1.0']) {
        expect(codeOf(() => checkApiRange(range, { folder: 'f', hostVersion: '2.0.0' }))).to.equal('LH_ERR_PLUGIN_API_MISMATCH');
      }
    });
  });

  describe('output format bounds', () => {
    it('accepts ordinary schemas and grammars', () => {
      expect(() => checkJsonSchema(WEATHER.parameters)).not.to.throw();
      expect(() => checkJsonSchema(true)).not.to.throw();
      expect(() => checkGbnfGrammar('root ::= ("yes" | "no") # a comment (with a paren\nx ::= [()] "("')).not.to.throw();
      expect(() => checkOutputFormat({ type: 'json_object' })).not.to.throw();
      expect(() => checkOutputFormat({ type: 'json_schema', schema: { type: 'string' }, name: 'x' })).not.to.throw();
    });

    it('refuses schemas over the size, depth and property bounds with coded errors', () => {
      let deep: Record<string, unknown> = { type: 'string' };
      for (let i = 0; i < 100; i++) deep = { type: 'array', items: deep };
      expect(codeOf(() => checkJsonSchema(deep))).to.equal('LH_ERR_SCHEMA_TOO_LARGE');
      // A nesting far beyond any stack: still a coded error, not a RangeError.
      let deeper: unknown[] = [];
      for (let i = 0; i < 200_000; i++) deeper = [deeper];
      expect(codeOf(() => checkJsonSchema({ enum: deeper }))).to.equal('LH_ERR_SCHEMA_TOO_LARGE');
      expect(codeOf(() => checkJsonSchema({ description: 'x'.repeat(70_000) }))).to.equal('LH_ERR_SCHEMA_TOO_LARGE');
      const properties = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`p${i}`, true]));
      expect(codeOf(() => checkJsonSchema({ type: 'object', properties }))).to.equal('LH_ERR_SCHEMA_TOO_LARGE');
      expect(() => checkJsonSchema({ type: 'object', properties }, { maxProperties: 5000 })).not.to.throw();
    });

    it('refuses what is not a JSON schema', () => {
      for (const bad of [null, 'string', 42, [], { x: undefined }, { x: () => 1 }, { x: Number.NaN }, { x: new Date() }]) {
        expect(codeOf(() => checkJsonSchema(bad)), String(bad)).to.equal('LH_ERR_SCHEMA_INVALID');
      }
    });

    it('refuses grammars that are too large, too deep or unbalanced', () => {
      expect(codeOf(() => checkGbnfGrammar(`root ::= ${'('.repeat(20_000)}"a"${')'.repeat(20_000)}`))).to.equal('LH_ERR_GRAMMAR_TOO_LARGE');
      expect(codeOf(() => checkGbnfGrammar(`root ::= "${'a'.repeat(70_000)}"`))).to.equal('LH_ERR_GRAMMAR_TOO_LARGE');
      expect(codeOf(() => checkGbnfGrammar('root ::= ("a"'))).to.equal('LH_ERR_GRAMMAR_INVALID');
      expect(codeOf(() => checkGbnfGrammar('root ::= "a")'))).to.equal('LH_ERR_GRAMMAR_INVALID');
      expect(codeOf(() => checkGbnfGrammar('root ::= "a'))).to.equal('LH_ERR_GRAMMAR_INVALID');
      expect(codeOf(() => checkGbnfGrammar(''))).to.equal('LH_ERR_GRAMMAR_INVALID');
      expect(codeOf(() => checkOutputFormat({ type: 'xml' }))).to.equal('LH_ERR_FORMAT_INVALID');
      expect(codeOf(() => checkOutputFormat({ type: 'gbnf', grammar: 5 }))).to.equal('LH_ERR_GRAMMAR_INVALID');
    });
  });

  describe('checkChatRequest', () => {
    const call = { id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } };
    const good: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Add 1 and 2.' },
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', toolCallId: 'call_1', content: '3' },
      { role: 'assistant', content: 'It is 3.' },
      { role: 'user', content: 'Thanks.' },
    ];

    it('accepts a well-formed tool round trip', () => {
      expect(() => checkChatRequest(good, { tools: [ADD, WEATHER], toolChoice: { name: 'add' }, format: { type: 'json_object' } })).not.to.throw();
    });

    it('refuses malformed messages, tools and choices with LH_ERR_BAD_REQUEST', () => {
      const cases: Array<[ChatMessage[], Parameters<typeof checkChatRequest>[1]]> = [
        [[], {}],
        [[{ role: 'robot', content: 'x' } as unknown as ChatMessage], {}],
        [[{ role: 'user', content: 5 } as unknown as ChatMessage], {}],
        [[{ role: 'user', content: 'x', toolCalls: [call] }], {}],
        [[{ role: 'tool', content: 'x', toolCallId: 'nope' }], {}],
        [good.slice(0, 3), {}], // a call never answered
        [[...good.slice(0, 3), { role: 'user', content: 'skip the tool' }, good[3]!], {}],
        [[...good.slice(0, 4), good[3]!], {}], // answered twice
        [[{ role: 'user', content: 'x' }], { tools: [{ name: 'has space' }] }],
        [[{ role: 'user', content: 'x' }], { tools: [ADD, ADD] }],
        [[{ role: 'user', content: 'x' }], { tools: [ADD], toolChoice: { name: 'other' } }],
        [[{ role: 'user', content: 'x' }], { toolChoice: 'required' }],
      ];
      for (const [messages, parts] of cases) expect(codeOf(() => checkChatRequest(messages, parts)), JSON.stringify(messages)).to.equal('LH_ERR_BAD_REQUEST');
      expect(codeOf(() => checkChatRequest([{ role: 'user', content: 'x' }], { tools: [{ name: 'deep', parameters: { description: 'x'.repeat(70_000) } }] }))).to.equal('LH_ERR_SCHEMA_TOO_LARGE');
    });
  });

  describe('the chat fallback template', () => {
    it('renders messages with !@> headers, system first, ending with the assistant header', () => {
      const { prompt, stop, format, toolsOffered } = renderChatFallback([
        { role: 'user', content: 'Hello' },
        { role: 'system', content: 'Be brief.' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Bye' },
      ]);
      expect(prompt).to.equal('!@>system:\nBe brief.\n!@>user:\nHello\n!@>assistant:\nHi.\n!@>user:\nBye\n!@>assistant:\n');
      expect(stop).to.deep.equal([CHAT_FALLBACK_SEPARATOR]);
      expect(format).to.equal(undefined);
      expect(toolsOffered).to.equal(false);
    });

    it('documents tools, renders calls and results, and forces a call with a JSON schema', () => {
      const messages: ChatMessage[] = [
        { role: 'user', content: 'Add 1 and 2.' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }] },
        { role: 'tool', toolCallId: 'call_1', content: '3' },
      ];
      const auto = renderChatFallback(messages, { tools: [ADD, WEATHER] });
      expect(auto.toolsOffered).to.equal(true);
      expect(auto.format).to.equal(undefined);
      expect(auto.prompt).to.contain('- get_weather: The weather of a city. Arguments (JSON schema): {"type":"object"');
      expect(auto.prompt).to.contain('!@>assistant:\n{"tool_calls":[{"name":"add","arguments":{"a":1,"b":2}}]}\n!@>tool:\nResult of add (call_1):\n3\n!@>assistant:\n');
      expect(renderChatFallback(messages, { tools: [ADD], toolChoice: 'none' }).prompt).not.to.contain('You can call');

      const named = renderChatFallback(messages, { tools: [ADD, WEATHER], toolChoice: { name: 'get_weather' } });
      expect(named.prompt).to.contain('Call the function get_weather now.');
      expect(named.format).to.deep.equal({ type: 'json_schema', name: 'tool_calls', schema: toolCallsJsonSchema([ADD, WEATHER], 'get_weather') });
      // The forcing schema admits exactly calls of the named tool with valid arguments.
      const validator = new OutputValidator();
      const schema = toolCallsJsonSchema([ADD, WEATHER], 'get_weather');
      expect(() => validator.validate(schema, { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] })).not.to.throw();
      expect(() => validator.validate(schema, { tool_calls: [{ name: 'add', arguments: { a: 1, b: 2 } }] })).to.throw();
      expect(() => validator.validate(schema, { tool_calls: [{ name: 'get_weather', arguments: { unit: 'k' } }] })).to.throw();
      expect(() => validator.validate(schema, { tool_calls: [] })).to.throw();
    });

    it('parses tool calls back, plain or fenced, and leaves anything else as text', () => {
      let n = 0;
      const newId = () => `call_${++n}`;
      const out = parseChatFallbackOutput(' ```json\n{"tool_calls": [{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]}\n``` ', [ADD, WEATHER], { newId });
      expect(out).to.deep.equal({ text: '', toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }, { id: 'call_2', name: 'get_weather', arguments: { city: 'Oslo' } }] });
      for (const text of ['Just an answer.', '{"tool_calls": [{"name": "rm_rf", "arguments": {}}]}', '{"tool_calls": []}', '{"tool_calls": [', '{"other": 1}']) {
        expect(parseChatFallbackOutput(text, [ADD, WEATHER])).to.deep.equal({ text });
      }
      expect(parseChatFallbackOutput('{"tool_calls":[{"name":"add","arguments":{}}]}', [ADD]).toolCalls![0]!.id).to.match(/^call_[A-Za-z0-9]{24}$/);
    });
  });

  describe('similarity', () => {
    it('computes the cosine and ranks best first, ties in order', () => {
      expect(cosineSimilarity([1, 0], [1, 0])).to.equal(1);
      expect(cosineSimilarity([1, 0], [0, 2])).to.equal(0);
      expect(cosineSimilarity([1, 1], [-1, -1])).to.be.closeTo(-1, 1e-12);
      expect(cosineSimilarity([0, 0], [1, 2])).to.equal(0);
      expect(() => cosineSimilarity([1, 2], [1])).to.throw(RangeError);
      expect(() => cosineSimilarity([1, Number.NaN], [1, 1])).to.throw(RangeError);
      const ranked = rankBySimilarity([1, 0], [[0, 1], [1, 0.1], [2, 0], [1, 0], [-1, 0]]);
      expect(ranked.map((r) => r.index)).to.deep.equal([2, 3, 1, 0, 4]);
      expect(rankBySimilarity([1, 0], [[0, 1], [1, 0.1], [2, 0]], { topK: 1 }).map((r) => r.index)).to.deep.equal([2]);
      expect(rankBySimilarity([1, 0], [[0, 1], [1, 0.1], [-1, 0]], { minScore: 0.5 }).map((r) => r.index)).to.deep.equal([1]);
    });
  });
});
