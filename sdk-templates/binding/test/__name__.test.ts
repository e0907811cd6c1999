/**
 * Tests of the {{name}} binding, on a real lollms-host started by `lollms-host/testing` with the tiny random
 * test model written into this binding's models folder. The model's text is gibberish: test the contract
 * (streaming, stop strings, abort, timings), not the words.
 *
 * Run it from the folder that has lollms-host in its node_modules (Node 24 runs TypeScript as is):
 *   node --no-node-snapshot --test <this file>
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { foldCase } from 'lollms-host/plugin-api';
import { startTestHost, type TestHost } from 'lollms-host/testing';

/** This binding's folder: its name is the binding's id, and the folder above it a bindings path. */
const folder = dirname(import.meta.dirname);
const name = basename(folder);

describe(`the ${name} binding`, () => {
  let host: TestHost;

  before(async () => {
    // Selects this binding and loads the tiny model with it; throws with the reason if either fails.
    host = await startTestHost({ bindingsPaths: [dirname(folder)], binding: name });
  });
  after(() => host?.close());

  it('is listed with its card', async () => {
    const binding = (await host.listBindings()).find((b) => b.name === name);
    assert.ok(binding, `${name} is in list_available_bindings`);
    assert.equal((binding.card as Record<string, unknown>)['host_api'], '^1.1.0');
  });

  it('streams a generation whose chunks join into the text', async () => {
    // Greedy sampling, so that the tiny model gives the same (non-empty) text on every run.
    const result = await host.generate('Once upon a time', { nPredicts: 12, parameters: { temperature: 0 } });
    assert.equal(result.error, undefined);
    assert.ok(result.chunks.length > 0);
    assert.equal(result.chunks.join(''), result.text);
  });

  it('reports why it stopped, and timings in nanoseconds', async () => {
    const result = await host.model().generate('Once upon a time', { maxTokens: 8, temperature: 0 });
    assert.ok(['eos', 'maxTokens'].includes(result.stopReason), result.stopReason);
    if (result.stopReason === 'maxTokens') assert.equal(result.timings.eval_count, 8);
    assert.ok(result.timings.eval_count <= 8);
    assert.ok(result.timings.prompt_eval_count > 0);
    assert.ok(result.timings.prompt_eval_duration > 0 && result.timings.eval_duration >= 0);
  });

  it('never emits a stop string (matched case-insensitively)', async (t) => {
    const model = host.model();
    const options = { maxTokens: 24, temperature: 0 }; // greedy: the same text every time
    const { text } = await model.generate('Once upon a time', options);
    if (text.length < 4) return t.skip('the model stopped too early to pick a stop string');
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2).toUpperCase();
    const chunks: string[] = [];
    const result = await model.generate('Once upon a time', { ...options, stop: [stop], onChunk: (c) => chunks.push(c) });
    assert.equal(result.stopReason, 'stop');
    assert.equal(result.text, text.slice(0, foldCase(text).indexOf(foldCase(stop))));
    assert.equal(chunks.join(''), result.text);
  });

  it('stops within a token when the signal is aborted', async () => {
    const controller = new AbortController();
    const result = await host.model().generate('Once upon a time', {
      maxTokens: 200,
      signal: controller.signal,
      onChunk: () => controller.abort(),
    });
    assert.equal(result.stopReason, 'abort');
    assert.ok(result.timings.eval_count < 8, `${result.timings.eval_count} tokens after the abort`);
  });

  it('chats with the model\'s template, streaming chunks that join into the text', async () => {
    const chunks: string[] = [];
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hello!' }];
    const result = await host.model().chat!(messages, { maxTokens: 12, temperature: 0, session: 'a', onChunk: (c) => chunks.push(c) });
    assert.ok(['eos', 'maxTokens'].includes(result.stopReason), result.stopReason);
    assert.equal(chunks.join(''), result.text);
    assert.ok(result.timings.eval_count > 0 && result.timings.eval_count <= 12);
  });

  it('constrains the output to a JSON schema', async () => {
    const schema = { type: 'object', properties: { answer: { enum: ['yes', 'no'] }, sure: { type: 'boolean' } } };
    const result = await host.model().chat!([{ role: 'user', content: 'Is it raining?' }], { temperature: 0, format: { type: 'json_schema', schema } });
    assert.equal(result.stopReason, 'eos');
    const value = JSON.parse(result.text) as { answer: string; sure: boolean };
    assert.ok(['yes', 'no'].includes(value.answer));
    assert.equal(typeof value.sure, 'boolean');
  });

  it('tokenizes, detokenizes and embeds', async () => {
    const tokens = await host.tokenize('hello world');
    assert.ok(tokens.length > 0);
    assert.equal(await host.detokenize(tokens), 'hello world');
    const vector = await host.embed('hello world');
    assert.ok(vector.length > 0 && vector.every((x) => Number.isFinite(x)));
  });
});
