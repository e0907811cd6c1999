import { expect } from 'chai';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BindingContext, ChatMessage, ChatOptions, ChatResult, JsonSchema, LoadedModel, PluginLogger, ToolDefinition } from 'lollms-host/plugin-api';
import { OutputValidator } from '../core/generation/output-validator.js';
import binding from '../plugins/llama_cpp/index.js';
import { toChatHistory } from '../plugins/llama_cpp/chat-history.js';
import type { LlamaCppModel } from '../plugins/llama_cpp/model.js';
import { testEngine, tinyModel } from './helpers/models.js';

const silent: PluginLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const SEEDS = Array.from({ length: 16 }, (_, i) => i + 1);

/** Chat and collect the streamed chunks. */
async function chat(model: LoadedModel, messages: ChatMessage[], options: ChatOptions = {}) {
  const chunks: string[] = [];
  const result = await model.chat!(messages, { ...options, onChunk: (c) => chunks.push(c) });
  return { ...result, chunks };
}

/** Expect a promise to reject with an error carrying `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.have.property('code', code);
    return error as Error;
  }
  expect.fail(`expected a rejection with ${code}`);
}

const ASK: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
  { role: 'user', content: 'What is the weather in Paris today?' },
];

const TOOLS: ToolDefinition[] = [
  {
    name: 'get_weather',
    description: 'The current weather of a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', minLength: 1, maxLength: 24 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } },
      required: ['city', 'unit'],
    },
  },
  { name: 'add', description: 'Add two numbers.', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } },
  { name: 'now', description: 'The current time.' },
];

/** A schema of the shapes clients send: bounds, enums, nesting, nullable (anyOf), refs. */
const PERSON: JsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 12 },
    age: { type: 'integer' },
    score: { type: 'number' },
    role: { enum: ['admin', 'user', 'guest'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
    nickname: { anyOf: [{ type: 'string', maxLength: 8 }, { type: 'null' }] },
    address: { $ref: '#/$defs/address' },
  },
  required: ['name', 'age', 'role', 'tags', 'nickname', 'address'],
  additionalProperties: false,
  $defs: { address: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, zip: { type: 'integer' } }, required: ['city'] } },
};

describe('llama_cpp chat, formats, tools and sessions (real engine, tiny model)', function () {
  this.timeout(120_000);
  const engine = testEngine();
  const validator = new OutputValidator();
  let dir: string;
  let ctx: BindingContext;
  let model: LlamaCppModel;
  const loaded: LoadedModel[] = [];

  const load = async (sequences = 1, contextSize = 2048) => {
    const m = (await binding.loadModel(ctx, { model: 'tiny.gguf', contextSize, sequences, threads: 1 })) as LlamaCppModel;
    loaded.push(m);
    return m;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-chat-'));
    await copyFile(await tinyModel(), join(dir, 'tiny.gguf'));
    ctx = { name: 'llama_cpp', folder: resolve('plugins/llama_cpp'), modelsDir: dir, settings: {}, logger: silent, getLlama: () => engine.getLlama(), gpu: false };
    model = await load();
  });

  after(async () => {
    for (const m of loaded) await m.dispose();
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  describe('chat', () => {
    it('renders with the chat wrapper node-llama-cpp resolves for the test model (Llama2Chat)', () => {
      expect(model.chatWrapperName).to.equal('Llama2Chat');
    });

    it('streams chunks that join into the text, and gives the same text without streaming', async () => {
      const streamed = await chat(model, ASK, { seed: 7, maxTokens: 32, session: 's' });
      expect(streamed.stopReason).to.be.oneOf(['maxTokens', 'eos']);
      expect(streamed.chunks.length).to.be.greaterThan(1);
      expect(streamed.chunks.join('')).to.equal(streamed.text);
      expect(streamed.timings.prompt_eval_count).to.be.greaterThan(20);
      expect(streamed.timings.eval_count).to.be.within(1, 32);
      const plain = await model.chat(ASK, { seed: 7, maxTokens: 32, session: 's' });
      expect(plain.text).to.equal(streamed.text);
      expect(plain.toolCalls).to.equal(undefined);
    });

    it('cuts a stop string exactly and aborts within one token', async () => {
      const full = await chat(model, ASK, { seed: 3, temperature: 0.9, maxTokens: 60 });
      const lower = full.text.toLowerCase();
      // A two-letter stop string that first occurs after the first few characters.
      let at = -1;
      for (let i = 4; i + 2 <= lower.length && at === -1; i++) {
        const candidate = lower.slice(i, i + 2);
        if (/^[a-z]{2}$/.test(candidate) && lower.indexOf(candidate) === i) at = i;
      }
      expect(at, JSON.stringify(full.text)).to.be.greaterThan(0);
      const cut = await chat(model, ASK, { seed: 3, temperature: 0.9, maxTokens: 60, stop: ['NEVER', lower.slice(at, at + 2).toUpperCase()] });
      expect(cut.stopReason).to.equal('stop');
      expect(cut.text).to.equal(full.text.slice(0, at));
      expect(cut.chunks.join('')).to.equal(cut.text);

      const controller = new AbortController();
      let afterAbort = 0;
      let count = 0;
      const aborted = await model.chat(ASK, {
        seed: 4,
        maxTokens: 500,
        signal: controller.signal,
        onChunk: () => {
          if (controller.signal.aborted) afterAbort++;
          if (++count === 3) controller.abort();
        },
      });
      expect(aborted.stopReason).to.equal('abort');
      expect(afterAbort).to.equal(0);
      const early = new AbortController();
      early.abort();
      expect((await model.chat(ASK, { signal: early.signal })).stopReason).to.equal('abort');
    });

    it('refuses malformed requests and chats that do not fit the context, with coded errors', async () => {
      await rejectsWithCode(model.chat([]), 'LH_ERR_BAD_REQUEST');
      await rejectsWithCode(model.chat([{ role: 'user', content: 'x' }, { role: 'tool', content: '1', toolCallId: 'nope' }]), 'LH_ERR_BAD_REQUEST');
      await rejectsWithCode(model.chat(ASK, { tools: TOOLS, format: { type: 'json_object' } }), 'LH_ERR_BAD_REQUEST');
      await rejectsWithCode(model.chat([{ role: 'user', content: 'hello '.repeat(3000) }]), 'LH_ERR_CONTEXT_OVERFLOW');
      // Still serving.
      expect((await model.chat(ASK, { seed: 1, maxTokens: 4 })).timings.eval_count).to.be.within(1, 4);
    });
  });

  describe('output formats', () => {
    it('json_object: every answer is a JSON object (chat and generate)', async () => {
      // Free-form JSON from a random model runs long (a string ends with about one token in 250): no token
      // limit here, so the answer may use the whole context.
      for (const seed of SEEDS.slice(0, 8)) {
        const answer = await model.chat(ASK, { seed, temperature: 1, format: { type: 'json_object' } });
        expect(answer.stopReason, answer.text).to.equal('eos');
        expect(validator.parse({ type: 'json_object' }, answer.text)).to.be.an('object');
      }
      const generated = await model.generate('A JSON object:', { seed: 8, temperature: 1, maxTokens: 1500, format: { type: 'json_object' } });
      expect(generated.stopReason).to.equal('eos');
      expect(validator.parse({ type: 'json_object' }, generated.text)).to.be.an('object');
    });

    it('json_schema: every answer parses and follows the schema (chat and generate)', async () => {
      const format = { type: 'json_schema', schema: PERSON } as const;
      const chunks: string[] = [];
      for (const seed of SEEDS) {
        const answer = await model.chat(ASK, { seed, temperature: 1, maxTokens: 600, format, onChunk: (c) => chunks.push(c) });
        expect(answer.stopReason, answer.text).to.equal('eos');
        const value = validator.parse(format, answer.text) as Record<string, unknown>;
        expect(value).to.have.all.keys('name', 'age', 'score', 'role', 'tags', 'nickname', 'address');
        expect(answer.text).not.to.contain('\uFFFD');
        const generated = await model.generate('Describe a person as JSON:', { seed, temperature: 1, maxTokens: 600, format });
        expect(validator.parse(format, generated.text)).to.be.an('object');
      }
      expect(chunks.join('')).to.contain('"name"');
    });

    it('bounds node-llama-cpp\'s JSON number grammar: integers without exponent, other exponents of two digits', async () => {
      const llama = await engine.getLlama();
      const grammar = (await llama.createGrammarForJsonSchema({ type: 'object', properties: { i: { type: 'integer' }, n: { type: 'number' } } })).grammar;
      expect(grammar).to.contain('integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15})\n');
      expect(grammar).to.contain('fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?');
    });

    it('gbnf: the output follows the grammar; bad and oversized grammars are refused, and the process lives on', async () => {
      const grammar = 'root ::= ("yes" | "no") ", " [0-9]{1,3}';
      for (const seed of SEEDS.slice(0, 6)) {
        expect((await model.generate('Answer:', { seed, maxTokens: 20, format: { type: 'gbnf', grammar } })).text).to.match(/^(yes|no), [0-9]{1,3}$/);
        expect((await model.chat(ASK, { seed, maxTokens: 20, format: { type: 'gbnf', grammar } })).text).to.match(/^(yes|no), [0-9]{1,3}$/);
      }
      await rejectsWithCode(model.generate('x', { format: { type: 'gbnf', grammar: 'root ::= "a" | undefined-rule' } }), 'LH_ERR_GRAMMAR_INVALID');
      await rejectsWithCode(model.generate('x', { format: { type: 'gbnf', grammar: 'root ::= root "a"' } }), 'LH_ERR_GRAMMAR_INVALID');
      // 20000 nested parentheses segfault llama.cpp's parser: refused before it.
      await rejectsWithCode(model.generate('x', { format: { type: 'gbnf', grammar: `root ::= ${'('.repeat(20_000)}"a"${')'.repeat(20_000)}` } }), 'LH_ERR_GRAMMAR_TOO_LARGE');
      await rejectsWithCode(model.chat(ASK, { format: { type: 'json_schema', schema: { description: 'x'.repeat(70_000) } } }), 'LH_ERR_SCHEMA_TOO_LARGE');
      await rejectsWithCode(model.chat(ASK, { format: { type: 'yaml' } as never }), 'LH_ERR_FORMAT_INVALID');
      expect((await model.generate('hello', { seed: 1, maxTokens: 3 })).timings.eval_count).to.be.within(1, 3);
    });
  });

  describe('tools', () => {
    it('toolChoice "required" forces a call whose arguments follow the tool\'s schema', async () => {
      for (const seed of SEEDS) {
        const answer = await model.chat(ASK, { seed, temperature: 1, maxTokens: 300, tools: TOOLS, toolChoice: 'required' });
        expect(answer.stopReason, JSON.stringify(answer)).to.equal('toolCalls');
        expect(answer.toolCalls).to.have.length.of.at.least(1);
        validator.checkToolCalls(TOOLS, answer.toolCalls!);
        for (const call of answer.toolCalls!) expect(call.id).to.match(/^call_[A-Za-z0-9_-]{24}$/);
      }
    });

    it('a named toolChoice forces a call of that tool, with valid arguments', async () => {
      for (const name of ['get_weather', 'add', 'now']) {
        for (const seed of SEEDS.slice(0, 8)) {
          const answer = await model.chat(ASK, { seed, temperature: 1, maxTokens: 300, tools: TOOLS, toolChoice: { name } });
          expect(answer.stopReason).to.equal('toolCalls');
          expect(answer.toolCalls!.map((c) => c.name)).to.deep.equal([name]);
          validator.checkToolCalls(TOOLS, answer.toolCalls!);
        }
      }
    });

    it('feeds tool results back through the chat wrapper, and a following request is answered', async () => {
      const forced = await model.chat(ASK, { seed: 2, maxTokens: 300, tools: TOOLS, toolChoice: { name: 'get_weather' } });
      const call = forced.toolCalls![0]!;
      const followUp: ChatMessage[] = [...ASK, { role: 'assistant', content: '', toolCalls: [call] }, { role: 'tool', toolCallId: call.id, content: '{"temperature": 21, "sky": "clear"}' }];
      // The model turn holds the call with its result, as the wrapper renders function calling.
      const history = toChatHistory(followUp);
      expect(history.at(-1)).to.deep.equal({ type: 'model', response: [{ type: 'functionCall', name: 'get_weather', params: call.arguments, result: { temperature: 21, sky: 'clear' } }] });
      const withoutResult = await model.chat(ASK, { seed: 9, maxTokens: 1, tools: TOOLS, toolChoice: 'none' });
      const answer = await chat(model, followUp, { seed: 9, maxTokens: 24, tools: TOOLS, toolChoice: 'none' });
      expect(answer.stopReason).to.be.oneOf(['eos', 'maxTokens']);
      expect(answer.toolCalls).to.equal(undefined);
      expect(answer.text.length).to.be.greaterThan(0);
      expect(answer.chunks.join('')).to.equal(answer.text);
      // The call and its result are part of the prompt.
      expect(answer.timings.prompt_eval_count).to.be.greaterThan(withoutResult.timings.prompt_eval_count + 10);
      // With tools still offered (auto), the request is answered too.
      const auto = await model.chat(followUp, { seed: 9, maxTokens: 24, tools: TOOLS });
      expect(auto.stopReason).to.be.oneOf(['eos', 'maxTokens', 'toolCalls']);
      if (auto.toolCalls) validator.checkToolCalls(TOOLS, auto.toolCalls);
    });
  });

  describe('sessions (issue 11 §5)', () => {
    const DISCUSSION: ChatMessage[] = [
      { role: 'system', content: 'You are a helpful assistant. '.repeat(8) },
      { role: 'user', content: 'hello world, the end. '.repeat(10) },
    ];
    const opts = (session?: string): ChatOptions => ({ seed: 1, maxTokens: 2, ...(session !== undefined ? { session } : {}) });
    const cachedOf = (r: ChatResult) => r.timings.prompt_cached_count;

    it('reuses a session\'s own cache, and never another session\'s (one sequence)', async () => {
      const m = await load(1);
      const first = await m.chat(DISCUSSION, opts('alice'));
      const prompt = first.timings.prompt_eval_count;
      expect(prompt).to.be.greaterThan(100);
      expect(cachedOf(first)).to.equal(0);
      // Same session, same prompt: all but the last token come from the cache.
      expect(cachedOf(await m.chat(DISCUSSION, opts('alice')))).to.equal(prompt - 1);
      // Another session with the very prompt that is in the cache: evaluated in full.
      expect(cachedOf(await m.chat(DISCUSSION, opts('bob')))).to.equal(0);
      // Alice's cache was cleared for Bob: she evaluates in full too.
      expect(cachedOf(await m.chat(DISCUSSION, opts('alice')))).to.equal(0);
      // Without a session nothing is reused, in either direction.
      expect(cachedOf(await m.chat(DISCUSSION, opts()))).to.equal(0);
      expect(cachedOf(await m.chat(DISCUSSION, opts()))).to.equal(0);
      expect(cachedOf(await m.chat(DISCUSSION, opts('alice')))).to.equal(0);
      // generate follows the same rule.
      const text = 'hello world the end. '.repeat(20);
      const g1 = await m.generate(text, { seed: 1, maxTokens: 2, session: 'alice' });
      expect((await m.generate(text, { seed: 1, maxTokens: 2, session: 'alice' })).timings.prompt_cached_count).to.equal(g1.timings.prompt_eval_count - 1);
      expect((await m.generate(text, { seed: 1, maxTokens: 2, session: 'bob' })).timings.prompt_cached_count).to.equal(0);
      expect((await m.generate(text, { seed: 1, maxTokens: 2 })).timings.prompt_cached_count).to.equal(0);
    });

    it('with two sequences, each session gets its own cache back', async () => {
      const m = await load(2);
      const a = await m.chat(DISCUSSION, opts('alice'));
      await m.chat(DISCUSSION, opts('bob'));
      expect(cachedOf(await m.chat(DISCUSSION, opts('alice')))).to.equal(a.timings.prompt_eval_count - 1);
      expect(cachedOf(await m.chat(DISCUSSION, opts('bob')))).to.equal(a.timings.prompt_eval_count - 1);
      // A third session takes the least recently used sequence (Alice's), cleared.
      expect(cachedOf(await m.chat(DISCUSSION, opts('carol')))).to.equal(0);
      expect(cachedOf(await m.chat(DISCUSSION, opts('bob')))).to.equal(a.timings.prompt_eval_count - 1);
      expect(cachedOf(await m.chat(DISCUSSION, opts('alice')))).to.equal(0);
    });
  });
});
