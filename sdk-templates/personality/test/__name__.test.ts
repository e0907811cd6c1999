/**
 * Tests of the {{name}} personality, on a real lollms-host started by `lollms-host/testing` with a tiny random
 * test model. Its answers are gibberish: test their shape (chunks, steps, settings, text your processor writes
 * itself), not their words.
 *
 * Run it from the folder that has lollms-host in its node_modules (Node 24 runs TypeScript as is):
 *   node --no-node-snapshot --test <this file>
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, relative, resolve, sep } from 'node:path';
import { startTestHost, type TestHost } from 'lollms-host/testing';
// {{#processor}}
// createTestContext: a ProcessorContext whose model and user answer from the test's script, for unit tests.
import { createTestContext } from 'lollms-host/testing';
import type processorModule from '../scripts/processor.js';
// {{/processor}}

/** This personality's folder, and the zoo folder that holds it as language/category/name. */
const folder = dirname(import.meta.dirname);
const zoo = resolve(folder, '..', '..', '..');
const [language = '', category = '', name = ''] = relative(zoo, folder).split(sep);

describe(`the ${name} personality`, () => {
  let host: TestHost;
  let id: number;

  before(async () => {
    host = await startTestHost({ personalitiesPaths: [zoo] });
    // Mounts it as a client's add_personality does; throws with the reason when it fails to load.
    ({ id } = await host.addPersonality(folder));
  });
  after(() => host?.close());

  it('is listed under its language and category', async () => {
    const listed = await host.listPersonalities();
    assert.ok(listed[language]?.[category]?.some((p) => p.folder === name));
  });

  it('answers, streaming chunks that join into the text', async () => {
    const result = await host.generate('Hello!', { personality: id, nPredicts: 8 });
    assert.equal(result.error, undefined);
    assert.equal(result.chunks.join(''), result.text);
  });
  // {{#processor}}

  it('runs its workflow in two steps and streams the improved answer', async () => {
    const result = await host.generate('What does a binding do?', { personality: id });
    assert.equal(result.error, undefined);
    const steps = result.messages
      .filter((m) => m.type_name === 'MSG_TYPE_STEP_START' || m.type_name === 'MSG_TYPE_STEP_END')
      .map((m) => `${m.type_name} ${m.content}`);
    assert.deepEqual(steps, [
      'MSG_TYPE_STEP_START Drafting an answer',
      'MSG_TYPE_STEP_END Drafting an answer',
      'MSG_TYPE_STEP_START Improving the draft',
      'MSG_TYPE_STEP_END Improving the draft',
    ]);
    assert.equal(result.chunks.join(''), result.text);
  });

  it('answers in one step-less call when the review setting is off', async () => {
    assert.equal((await host.getSettings(id))['review'], true);
    await host.setSettings(id, { review: false });
    try {
      const result = await host.generate('What does a binding do?', { personality: id });
      assert.equal(result.error, undefined);
      assert.deepEqual(result.messages.filter((m) => m.type_name.startsWith('MSG_TYPE_STEP')), []);
    } finally {
      await host.setSettings(id, { review: true });
    }
  });

  it('without review, answers in one streamed call after the AI prefix (a unit test: no host, no model)', async () => {
    const prompts: string[] = [];
    const ctx = createTestContext({
      settings: { review: false, max_tokens: 16 },
      personality: { link_text: '\n', ai_message_prefix: '!@> Helper:\n' },
      generate: (prompt) => {
        prompts.push(prompt);
        return 'the answer';
      },
    });
    // Loaded by URL, so that plain node (which runs .ts files as they are) finds the .ts file.
    const { default: processor } = (await import(new URL('../scripts/processor.ts', import.meta.url).href)) as { default: typeof processorModule };
    const answer = await processor.runWorkflow!({ prompt: 'Hi', previousDiscussion: 'conditioning\n!@> User:\nHi' }, ctx);
    assert.equal(answer, 'the answer');
    assert.deepEqual(prompts, ['conditioning\n!@> User:\nHi\n!@> Helper:\n']);
    assert.deepEqual(ctx.chunks, ['the answer']);
  });
  // {{/processor}}
});
