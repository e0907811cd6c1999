import { expect } from 'chai';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BindingContext, ChatMessage, LoadedModel, PluginLogger, ToolDefinition } from 'lollms-host/plugin-api';
import { chatRound, type ChatModel } from '../core/generation/chat.js';
import binding from '../plugins/llama_cpp/index.js';
import { testEngine, tinyModel } from './helpers/models.js';

const silent: PluginLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

const TOOLS: ToolDefinition[] = [
  { name: 'add', description: 'Add two numbers.', parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'] } },
];
const ASK: ChatMessage[] = [{ role: 'user', content: 'What is 2 + 3?' }];
const SCHEMA = { type: 'object', properties: { answer: { type: 'integer' }, unit: { enum: ['m', 'kg'] } }, required: ['answer', 'unit'] };

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.have.property('code', code);
    return;
  }
  expect.fail(`expected a rejection with ${code}`);
}

/** The shared chat round, on the real engine: through llama_cpp's chat, and through the fallback over generate. */
describe('generation: one chat round for every caller (chatRound)', function () {
  this.timeout(120_000);
  const engine = testEngine();
  let dir: string;
  let model: LoadedModel;
  /** The same model seen as a binding without `chat`: the fallback template over `generate`. */
  let generateOnly: ChatModel;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-chat-round-'));
    await copyFile(await tinyModel(), join(dir, 'tiny.gguf'));
    const ctx: BindingContext = { name: 'llama_cpp', folder: resolve('plugins/llama_cpp'), modelsDir: dir, settings: {}, logger: silent, getLlama: () => engine.getLlama(), gpu: false };
    model = await binding.loadModel(ctx, { model: 'tiny.gguf', contextSize: 1024, sequences: 1, threads: 1 });
    generateOnly = { generate: (prompt, options) => model.generate(prompt, options) };
  });

  after(async () => {
    await model?.dispose();
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  for (const [label, pick] of [['the binding\'s chat', () => model], ['the fallback over generate', () => generateOnly]] as const) {
    describe(label, () => {
      it('streams chunks that join into the answer', async () => {
        const chunks: string[] = [];
        const result = await chatRound(pick(), ASK, { maxTokens: 12, seed: 3, temperature: 0, onChunk: (c) => chunks.push(c) });
        expect(result.text.length).to.be.greaterThan(0);
        expect(chunks.join('')).to.equal(result.text);
      });

      it('a json_schema answer is parsed and follows the schema', async () => {
        for (const seed of [1, 2, 3, 4]) {
          const result = await chatRound(pick(), ASK, { maxTokens: 64, seed, format: { type: 'json_schema', schema: SCHEMA } });
          expect(result.value, result.text).to.be.an('object');
          const value = result.value as { answer: unknown; unit: unknown };
          expect(Number.isInteger(value.answer)).to.equal(true);
          expect(['m', 'kg']).to.include(value.unit);
        }
      });

      it('a forced tool call names the tool, with arguments valid against its schema; chunks stay silent', async () => {
        const chunks: string[] = [];
        const result = await chatRound(pick(), ASK, { maxTokens: 96, seed: 5, tools: TOOLS, toolChoice: 'required', onChunk: (c) => chunks.push(c) });
        expect(result.stopReason).to.equal('toolCalls');
        expect(result.toolCalls).to.have.length.greaterThan(0);
        const call = result.toolCalls![0]!;
        expect(call.name).to.equal('add');
        const args = call.arguments as { a: unknown; b: unknown };
        expect(Number.isInteger(args.a) && Number.isInteger(args.b)).to.equal(true);
        expect(chunks.join('')).to.not.contain('tool_calls');
      });

      it('answers after a tool result', async () => {
        const messages: ChatMessage[] = [
          ...ASK,
          { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 2, b: 3 } }] },
          { role: 'tool', content: '5', toolCallId: 'call_1' },
        ];
        const result = await chatRound(pick(), messages, { maxTokens: 8, seed: 1, tools: TOOLS, toolChoice: 'none' });
        expect(result.toolCalls ?? []).to.have.length(0);
        expect(result.stopReason).to.not.equal('toolCalls');
      });
    });
  }

  it('refuses a malformed request with LH_ERR_BAD_REQUEST before the model runs', async () => {
    await rejectsWithCode(chatRound(model, [{ role: 'tool', content: '5', toolCallId: 'nowhere' }], { maxTokens: 4 }), 'LH_ERR_BAD_REQUEST');
    await rejectsWithCode(chatRound(generateOnly, [], { maxTokens: 4 }), 'LH_ERR_BAD_REQUEST');
  });
});
