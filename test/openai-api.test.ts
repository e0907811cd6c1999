/**
 * The OpenAI-compatible API through the official `openai` client (a real client, as Open WebUI, LibreChat or
 * Continue are), on the real engine with the tiny test model. Raw `fetch` only where the SDK cannot send the
 * request (a wrong content type, a CORS preflight).
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { OutputValidator } from '../core/generation/output-validator.js';
import type { PromptEvent } from '../core/generation/service.js';
import type { GenerationOutcome, GenerationSink } from '../core/generation/types.js';
import { httpClientId } from '../core/transports/http/openai/client.js';
import { startTestHost, type TestHost } from './helpers/host.js';

const FIXTURE_ZOO = fileURLToPath(new URL('./fixtures/personalities/', import.meta.url));
const REPORTER = 'personality/english/openai/step_reporter';
const LOLLMS = 'personality/english/generic/lollms';
const ADD_TOOL = {
  type: 'function' as const,
  function: {
    name: 'add',
    description: 'Add two integers.',
    parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'] },
  },
};

/** What a streamed chat gave: the chunks, and the joined content and reasoning. */
async function collect(stream: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  let content = '';
  let reasoning = '';
  for await (const chunk of stream) {
    chunks.push(chunk);
    const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
    content += delta?.content ?? '';
    reasoning += delta?.reasoning_content ?? '';
  }
  return { chunks, content, reasoning };
}

/** The status and OpenAI error body of a rejected SDK call. */
async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  }
  expect.fail('expected the API to answer an error');
}

describe('OpenAI-compatible API (official openai client, real engine)', function () {
  this.timeout(120_000);
  let host: TestHost;
  let client: OpenAI;
  let model: string;

  before(async () => {
    host = await startTestHost({ config: { seed: 1, personalities_paths: [FIXTURE_ZOO], allowed_origins: ['http://app.example'] } });
    client = new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
    model = host.host.bindings.model!.name;
  });
  after(() => host?.stop());

  describe('models', () => {
    it('lists the loaded model (owned by its binding) and every personality under personality/<language>/<category>/<name>', async () => {
      const list = await client.models.list();
      const ids = list.data.map((m) => m.id);
      expect(list.data[0]).to.include({ id: model, object: 'model', owned_by: 'llama_cpp' });
      expect(ids).to.include.members([LOLLMS, REPORTER, 'personality/english/thinking/chain_of_thoughts']);
      for (const m of list.data.filter((m) => m.id.startsWith('personality/'))) expect(m.owned_by).to.equal('lollms-personality');
      expect(list.data.every((m) => Number.isInteger(m.created) && m.created > 0)).to.equal(true);
    });

    it('retrieves one model by id, slashes and all; an unknown id is 404 LH_ERR_MODEL_UNKNOWN', async () => {
      expect(await client.models.retrieve(REPORTER)).to.include({ id: REPORTER, owned_by: 'lollms-personality' });
      expect(await client.models.retrieve(model)).to.include({ id: model, owned_by: 'llama_cpp' });
      const missing = await apiError(client.models.retrieve('personality/english/openai/nobody'));
      expect(missing.status).to.equal(404);
      expect(missing.error).to.include({ code: 'LH_ERR_MODEL_UNKNOWN', type: 'invalid_request_error' });
    });
  });

  describe('chat completions on the model', () => {
    it('answers without streaming: content, finish reason, usage', async () => {
      const answer = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 12, seed: 3 });
      expect(answer.id).to.match(/^chatcmpl-/);
      expect(answer.object).to.equal('chat.completion');
      expect(answer.model).to.equal(model);
      const choice = answer.choices[0]!;
      expect(choice.message.role).to.equal('assistant');
      expect(choice.message.content).to.be.a('string').and.not.equal('');
      expect(['stop', 'length']).to.include(choice.finish_reason);
      expect(answer.usage!.prompt_tokens).to.be.greaterThan(0);
      expect(answer.usage!.completion_tokens).to.be.within(1, 12);
      expect(answer.usage!.total_tokens).to.equal(answer.usage!.prompt_tokens + answer.usage!.completion_tokens);
    });

    it('streams chunks of the documented shapes, with a usage chunk before [DONE] when asked', async () => {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Tell me' }, { type: 'text', text: 'a story' }] }],
        max_tokens: 16,
        seed: 4,
        stream: true,
        stream_options: { include_usage: true },
      });
      const { chunks, content } = await collect(stream);
      expect(chunks[0]!.choices[0]!.delta).to.deep.equal({ role: 'assistant', content: '' });
      expect(content).to.not.equal('');
      const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
      expect(finish).to.have.length(1);
      expect(['stop', 'length']).to.include(finish[0]!.choices[0]!.finish_reason);
      const last = chunks.at(-1)!;
      expect(last.choices).to.deep.equal([]);
      expect(last.usage!.completion_tokens).to.be.within(1, 16);
      expect(chunks.slice(0, -1).every((c) => c.usage === null && c.object === 'chat.completion.chunk' && c.id === last.id)).to.equal(true);
    });

    it('response_format json_schema: the content parses and follows the schema', async () => {
      const schema = { type: 'object', properties: { answer: { type: 'integer' }, unit: { enum: ['m', 'kg'] } }, required: ['answer', 'unit'], additionalProperties: false };
      const validator = new OutputValidator();
      for (const seed of [1, 2, 3]) {
        const answer = await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'How far?' }],
          max_tokens: 64,
          seed,
          response_format: { type: 'json_schema', json_schema: { name: 'distance', schema, strict: true } },
        });
        const content = answer.choices[0]!.message.content!;
        const value = validator.parse({ type: 'json_schema', schema }, content) as { answer: number; unit: string };
        expect(Number.isInteger(value.answer)).to.equal(true);
        expect(['m', 'kg']).to.include(value.unit);
      }
      // Fixed seed, fresh cache session (its own user): the random model closes this object at once.
      const object = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'JSON please' }], max_tokens: 300, seed: 1, user: 'json-object', response_format: { type: 'json_object' } });
      expect(object.choices[0]!.finish_reason).to.equal('stop');
      expect(JSON.parse(object.choices[0]!.message.content!)).to.be.an('object');
    });

    it('a forced tool call comes back as tool_calls with valid arguments; the tool result is answered', async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is 2 + 3?' }];
      const call = await client.chat.completions.create({ model, messages, max_tokens: 96, seed: 5, tools: [ADD_TOOL], tool_choice: { type: 'function', function: { name: 'add' } } });
      const choice = call.choices[0]!;
      expect(choice.finish_reason).to.equal('tool_calls');
      expect(choice.message.tool_calls).to.have.length.greaterThan(0);
      const toolCall = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
      expect(toolCall.type).to.equal('function');
      expect(toolCall.id).to.match(/^call_/);
      expect(toolCall.function.name).to.equal('add');
      const args = JSON.parse(toolCall.function.arguments) as { a: unknown; b: unknown };
      expect(Number.isInteger(args.a) && Number.isInteger(args.b)).to.equal(true);

      const followUp = await client.chat.completions.create({
        model,
        messages: [...messages, choice.message, { role: 'tool', tool_call_id: toolCall.id, content: JSON.stringify({ sum: 5 }) }],
        tools: [ADD_TOOL],
        tool_choice: 'none',
        max_tokens: 16,
        seed: 6,
      });
      expect(['stop', 'length']).to.include(followUp.choices[0]!.finish_reason);
      expect(followUp.choices[0]!.message.content).to.be.a('string').and.not.equal('');
      expect(followUp.choices[0]!.message.tool_calls).to.equal(undefined);
    });

    it('a forced tool call streams as a tool_calls delta and finish_reason tool_calls', async () => {
      const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Add 1 and 2' }], max_tokens: 96, seed: 7, tools: [ADD_TOOL], tool_choice: 'required', stream: true });
      const { chunks } = await collect(stream);
      const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      expect(calls).to.have.length.greaterThan(0);
      expect(calls[0]).to.include({ index: 0, type: 'function' });
      expect(calls[0]!.function!.name).to.equal('add');
      expect(JSON.parse(calls[0]!.function!.arguments!)).to.have.all.keys('a', 'b');
      expect(chunks.at(-1)!.choices[0]!.finish_reason).to.equal('tool_calls');
    });
  });

  describe('completions and embeddings', () => {
    it('completions: text, streamed and not, with echo', async () => {
      const answer = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, seed: 1, echo: true });
      expect(answer.object).to.equal('text_completion');
      expect(answer.id).to.match(/^cmpl-/);
      expect(answer.choices[0]!.text.startsWith('Once upon a time')).to.equal(true);
      expect(answer.usage!.completion_tokens).to.be.within(1, 8);

      const stream = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, seed: 1, stream: true, stream_options: { include_usage: true } });
      let text = '';
      let finish: string | null | undefined;
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? '';
        finish ??= chunk.choices[0]?.finish_reason;
        usage ??= chunk.usage;
      }
      expect(text).to.not.equal('');
      expect(['stop', 'length']).to.include(finish);
      expect(usage!.completion_tokens).to.be.within(1, 8);
    });

    it('without max_tokens a completion stops at OpenAI\'s default of 16 tokens', async () => {
      const answer = await client.completions.create({ model, prompt: 'the world is', seed: 2 });
      expect(answer.usage!.completion_tokens).to.be.at.most(16);
    });

    it('embeddings: one vector per input, as floats or base64 (the SDK default), the same either way', async () => {
      const floats = await client.embeddings.create({ model, input: ['hello world', 'the world'], encoding_format: 'float' });
      expect(floats.object).to.equal('list');
      expect(floats.data.map((d) => d.index)).to.deep.equal([0, 1]);
      const size = floats.data[0]!.embedding.length;
      expect(size).to.be.greaterThan(0);
      expect(floats.usage.prompt_tokens).to.be.greaterThan(0);
      const decoded = await client.embeddings.create({ model, input: 'hello world' });
      const [a, b] = [floats.data[0]!.embedding, Array.from(decoded.data[0]!.embedding)];
      expect(b).to.have.length(size);
      // base64 carries float32: equal to float32 precision.
      a.forEach((x, i) => expect(b[i]).to.be.closeTo(x, Math.abs(x) * 1e-6 + 1e-12));
    });

    it('embeddings refuse a personality, token ids, dimensions and empty input', async () => {
      expect((await apiError(client.embeddings.create({ model: LOLLMS, input: 'x' }))).error).to.include({ code: 'LH_ERR_EMBEDDING_UNSUPPORTED' });
      expect((await apiError(client.embeddings.create({ model, input: [1, 2, 3] }))).error).to.include({ code: 'LH_ERR_UNSUPPORTED_PARAMETER', param: 'input' });
      expect((await apiError(client.embeddings.create({ model, input: 'x', dimensions: 8 }))).error).to.include({ code: 'LH_ERR_UNSUPPORTED_PARAMETER', param: 'dimensions' });
      expect((await apiError(client.embeddings.create({ model, input: ['a', ''] }))).error).to.include({ code: 'LH_ERR_BAD_REQUEST', param: 'input[1]' });
    });
  });

  describe('personality models', () => {
    it('a workflow\'s steps arrive as reasoning_content and lollms_message; the content deltas join into the non-streamed content', async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is new?' }];
      const whole = await client.chat.completions.create({ model: REPORTER, messages });
      const message = whole.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string; lollms_messages?: Array<{ type: number; type_name: string; content: string; metadata: Record<string, unknown> }> };
      expect(message.content).to.match(/^Answer to "What is new\?" after a discussion of \d+ characters\.$/);
      expect(message.lollms_messages!.map((m) => m.type_name)).to.deep.equal([
        'MSG_TYPE_STEP_START', 'MSG_TYPE_STEP_PROGRESS', 'MSG_TYPE_INFO', 'MSG_TYPE_JSON_INFOS', 'MSG_TYPE_STEP_END', 'MSG_TYPE_STEP',
      ]);
      expect(message.lollms_messages![1]).to.deep.include({ type: 9, content: 'Reading the chat', metadata: { progress: 50 } });
      expect(message.reasoning_content).to.contain('Reading the chat…\nReading the chat (50%)\nInfo: the prompt has 12 characters\n```json\n');
      expect(message.reasoning_content).to.contain('Reading the chat: done\nDrafting\n');
      // The streamed ctx.generate text is reasoning too, after the last step.
      expect(message.reasoning_content!.length).to.be.greaterThan(message.reasoning_content!.indexOf('Drafting\n') + 'Drafting\n'.length);
      expect(whole.usage!.completion_tokens).to.be.within(1, 8);

      const { chunks, content, reasoning } = await collect(await client.chat.completions.create({ model: REPORTER, messages, stream: true }));
      expect(content).to.equal(message.content);
      const streamedMessages = chunks.flatMap((c) => {
        const extension = (c.choices[0]?.delta as { lollms_message?: { type_name: string } } | undefined)?.lollms_message;
        return extension ? [extension.type_name] : [];
      });
      expect(streamedMessages).to.deep.equal(message.lollms_messages!.map((m) => m.type_name));
      expect(reasoning.startsWith('Reading the chat…\n')).to.equal(true);
      expect(reasoning).to.contain('Drafting\n');
      // Every reasoning delta comes before the answer, which is sent whole at the end.
      const firstContent = chunks.findIndex((c) => (c.choices[0]?.delta.content ?? '') !== '');
      expect(chunks.slice(firstContent + 1).every((c) => !(c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content)).to.equal(true);
    });

    it('runs as in personality mode: the system message joins the conditioning, earlier messages become the discussion, nothing is kept', async () => {
      const prompts: PromptEvent[] = [];
      const onPrompt = (event: PromptEvent) => prompts.push(event);
      host.host.events.on('prompt', onPrompt);
      try {
        await client.chat.completions.create({
          model: LOLLMS,
          messages: [
            { role: 'system', content: 'Answer in one word.' },
            { role: 'user', content: 'Hi there' },
            { role: 'assistant', content: 'Hello! ' },
            { role: 'user', content: 'How are you?' },
          ],
          max_tokens: 4,
        });
        await client.chat.completions.create({ model: LOLLMS, messages: [{ role: 'user', content: 'Second chat' }], max_tokens: 4 });
      } finally {
        host.host.events.off('prompt', onPrompt);
      }
      expect(prompts).to.have.length(2);
      const [first, second] = prompts.map((p) => p.prompt) as [string, string];
      // The conditioning, then the client's system text on its own line, then the discussion.
      const conditioning = first.indexOf('!@>instructions:');
      const system = first.indexOf('\nAnswer in one word.\n');
      const welcome = first.indexOf('!@> Assistant:\nWelcome!');
      expect(conditioning).to.be.greaterThan(-1);
      expect(system).to.be.greaterThan(conditioning);
      expect(welcome).to.be.greaterThan(system);
      expect(first.endsWith('!@> Human:\nHi there\n!@> Assistant:\nHello!\n!@> Human:\nHow are you?\n!@> Assistant:\n')).to.equal(true);
      // A new chat starts afresh: nothing of the first one was kept for this client.
      expect(second).to.not.contain('Hi there');
      expect(second).to.not.contain('Answer in one word.');
      expect(second.endsWith('!@> Human:\nSecond chat\n!@> Assistant:\n')).to.equal(true);
    });

    it('a workflow error answers an OpenAI error naming the cause; after the stream started, as an error event', async () => {
      const failed = await apiError(client.chat.completions.create({ model: REPORTER, messages: [{ role: 'user', content: 'fail' }] }));
      expect(failed.status).to.equal(500);
      expect(failed.error).to.include({ code: 'LH_ERR_SANDBOX_SCRIPT', type: 'server_error' });
      expect(failed.error).to.have.property('message').that.matches(/runWorkflow at scripts\/processor\.ts:\d+:\d+: Error: the step reporter failed on purpose$/);

      const stream = await client.chat.completions.create({ model: REPORTER, messages: [{ role: 'user', content: 'fail after a step' }], stream: true });
      const seen: ChatCompletionChunk[] = [];
      const midStream = await apiError((async () => {
        for await (const chunk of stream) seen.push(chunk);
      })());
      expect(seen.some((c) => (c.choices[0]?.delta as { lollms_message?: { content: string } }).lollms_message?.content === 'About to fail')).to.equal(true);
      expect(midStream.error).to.include({ code: 'LH_ERR_SANDBOX_SCRIPT' });
      expect(midStream.message).to.contain('failed on purpose, after a step');
    });

    it('a personality refuses a forced tool call and an output format; tools it may ignore are fine', async () => {
      const forced = await apiError(client.chat.completions.create({ model: LOLLMS, messages: [{ role: 'user', content: 'x' }], tools: [ADD_TOOL], tool_choice: 'required' }));
      expect(forced.status).to.equal(400);
      const format = await apiError(client.chat.completions.create({ model: LOLLMS, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }));
      expect(format.status).to.equal(400);
      const auto = await client.chat.completions.create({ model: REPORTER, messages: [{ role: 'user', content: 'tools?' }], tools: [ADD_TOOL] });
      expect(auto.choices[0]!.finish_reason).to.equal('stop');
    });
  });

  describe('serving', () => {
    it('a closed connection stops the generation within a token and frees the slot at once; the next request runs', async () => {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model, messages: [{ role: 'user', content: 'Go on' }], max_tokens: 1500, seed: 8, stream: true, user: 'aborting' },
        { signal: controller.signal },
      );
      // The client id hashes the key sent, the address and the user (core/transports/http/openai/client.ts).
      const id = httpClientId('not-needed', '127.0.0.1', 'aborting');
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) break; // leaving the loop aborts the request
      }
      await host.host.generation.whenIdle(id);
      expect(host.host.scheduler.running).to.equal(0);
      const last = host.host.generation.status().recent.at(-1)!;
      expect(last).to.include({ mode: 'chat', transport: 'http', outcome: 'cancelled' });
      expect(last.completionTokens).to.be.below(1500);
      const next = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Next' }], max_tokens: 4 });
      expect(next.choices[0]!.message.content).to.be.a('string');
    });

    it('with the default config, two overlapping requests both complete: the second waits for the slot', async () => {
      expect(host.host.config.values).to.include({ parallel: 1, max_queue: 0 });
      const first = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'First' }], max_tokens: 1500, seed: 9, stream: true });
      const firstIterator = first[Symbol.asyncIterator]();
      // The first request holds the slot once its first chunk arrives.
      expect((await firstIterator.next()).done).to.equal(false);
      // A streamed request that has to wait gets its headers at once (the stream is open while it is queued).
      const second = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Second' }], max_tokens: 8, seed: 10, stream: true });
      expect(host.host.scheduler.queued).to.equal(1);
      let firstText = '';
      let firstFinish: string | null | undefined;
      for (let step = await firstIterator.next(); !step.done; step = await firstIterator.next()) {
        firstText += step.value.choices[0]?.delta.content ?? '';
        firstFinish ??= step.value.choices[0]?.finish_reason;
      }
      const { content: secondText, chunks } = await collect(second);
      expect(firstText).to.not.equal('');
      expect(firstFinish).to.be.oneOf(['stop', 'length']);
      expect(secondText).to.not.equal('');
      expect(chunks.at(-1)!.choices[0]!.finish_reason).to.be.oneOf(['stop', 'length']);
    });
  });

  describe('errors: OpenAI\'s body with honest statuses', () => {
    it('400: unsupported fields, malformed messages, a tool result without its call, non-text content', async () => {
      const n = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], n: 2 }));
      expect(n.status).to.equal(400);
      expect(n.error).to.deep.equal({ message: 'n: only 1 choice per request is supported (got 2); send several requests', type: 'invalid_request_error', param: 'n', code: 'LH_ERR_UNSUPPORTED_PARAMETER' });
      const role = await apiError(client.chat.completions.create({ model, messages: [{ role: 'robot', content: 'x' } as never] }));
      expect(role.error).to.include({ code: 'LH_ERR_BAD_REQUEST', param: 'messages[0].role' });
      const orphan = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_1', content: '3' }] }));
      expect(orphan.status).to.equal(400);
      expect(orphan.error).to.include({ code: 'LH_ERR_BAD_REQUEST' });
      const image = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }));
      expect(image.error).to.include({ code: 'LH_ERR_UNSUPPORTED_PARAMETER', param: 'messages[0].content[0].type' });
      const logprobs = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], logprobs: true }));
      expect(logprobs.error).to.include({ code: 'LH_ERR_UNSUPPORTED_PARAMETER', param: 'logprobs' });
      const tooBig = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'deep', schema: nest(80) } } }));
      expect(tooBig.error).to.include({ code: 'LH_ERR_SCHEMA_TOO_LARGE' });
    });

    it('404 for an unknown model and an unknown route; 413 for a body too large; 415 for a body that is not JSON', async () => {
      const unknown = await apiError(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
      expect(unknown.status).to.equal(404);
      expect(unknown.error).to.include({ code: 'LH_ERR_MODEL_UNKNOWN', param: 'model' });
      expect(unknown.message).to.contain(model);
      const route = await apiError(client.post('/responses', { body: {} }));
      expect(route.status).to.equal(404);
      expect(route.error).to.include({ code: 'LH_ERR_ROUTE_NOT_FOUND' });
      const huge = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x'.repeat(7 * 1024 * 1024) }] }));
      expect(huge.status).to.equal(413);
      expect(huge.error).to.include({ code: 'LH_ERR_BODY_TOO_LARGE' });
      const form = await fetch(`${host.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
      expect(form.status).to.equal(415);
      expect(((await form.json()) as { error: { code: string } }).error.code).to.equal('LH_ERR_UNSUPPORTED_MEDIA_TYPE');
    });

    it('503 with Retry-After when the queue is full (HTTP and socket requests share the scheduler)', async () => {
      const service = host.host.generation;
      const quiet: GenerationSink = { answer: () => {}, draft: () => {}, message: () => {} };
      let started!: () => void;
      const first = new Promise<void>((resolve) => (started = resolve));
      const hog = new AbortController();
      const running = service.run(
        { client: { id: 'hog', transport: 'socket' }, kind: 'raw', prompt: 'x', sampling: { maxTokens: 1500 }, queue: 'wait', signal: hog.signal },
        { ...quiet, answer: () => started() },
      );
      await first;
      const waiting: Array<Promise<GenerationOutcome>> = [];
      // 64 clients (each is allowed max_queue_per_client waiting requests) fill http_max_queue.
      for (let i = 0; i < 64; i++) waiting.push(service.run({ client: { id: `crowd-${i}`, transport: 'http' }, kind: 'raw', prompt: 'x', queue: 'wait', signal: new AbortController().signal }, quiet));
      try {
        const full = await apiError(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }));
        expect(full.status, full.message).to.equal(503);
        expect(full.error).to.include({ code: 'LH_ERR_QUEUE_FULL', type: 'server_error' });
        expect(full.headers?.get('retry-after')).to.equal('1');
      } finally {
        for (let i = 0; i < 64; i++) service.cancel(`crowd-${i}`);
        hog.abort();
        await Promise.all([running, ...waiting]);
      }
    });

    it('CORS: an allowed origin\'s preflight may send the SDK\'s own headers; a foreign origin is 403 in OpenAI\'s shape', async () => {
      const preflight = await fetch(`${host.url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os' },
      });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal('http://app.example');
      expect(preflight.headers.get('access-control-allow-headers')).to.equal('authorization, content-type, x-stainless-os');
      const foreign = await fetch(`${host.url}/v1/models`, { headers: { origin: 'http://evil.example' } });
      expect(foreign.status).to.equal(403);
      expect(((await foreign.json()) as { error: { code: string } }).error.code).to.equal('LH_ERR_FORBIDDEN');
    });
  });
});

describe('OpenAI-compatible API: 401 and 503 without a model', function () {
  this.timeout(60_000);

  it('401 without the API key (Authorization: Bearer), 200 with it', async () => {
    const host = await startTestHost({ config: { api_key: 'secret-key', binding_name: null } });
    try {
      const wrong = await apiError(new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'other', maxRetries: 0 }).models.list());
      expect(wrong.status).to.equal(401);
      expect(wrong.error).to.include({ code: 'LH_ERR_UNAUTHORIZED', type: 'authentication_error' });
      const right = await new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'secret-key', maxRetries: 0 }).models.list();
      expect(right.data.map((m) => m.id)).to.include(LOLLMS);
    } finally {
      await host.stop();
    }
  });

  it('503 LH_ERR_NO_MODEL when no model is loaded', async () => {
    const host = await startTestHost({ config: { binding_name: null } });
    try {
      const client = new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const none = await apiError(client.chat.completions.create({ model: 'any.gguf', messages: [{ role: 'user', content: 'x' }] }));
      expect(none.status).to.equal(503);
      expect(none.error).to.include({ code: 'LH_ERR_NO_MODEL' });
      // A personality exists, but has no model to run on.
      const personality = await apiError(client.chat.completions.create({ model: LOLLMS, messages: [{ role: 'user', content: 'x' }] }));
      expect(personality.status).to.equal(503);
      expect(personality.error).to.include({ code: 'LH_ERR_NO_MODEL' });
    } finally {
      await host.stop();
    }
  });
});

describe('OpenAI-compatible API: shutdown', function () {
  this.timeout(60_000);

  it('a stream open when the host shuts down ends with an LH_ERR_CLOSED error event', async () => {
    const host = await startTestHost();
    let stopped: Promise<void> | undefined;
    try {
      const client = new OpenAI({ baseURL: `${host.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: host.host.bindings.model!.name, messages: [{ role: 'user', content: 'Go on' }], max_tokens: 1500, stream: true });
      const error = await apiError((async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content && !stopped) stopped = host.stop();
        }
      })());
      expect(error.error).to.include({ code: 'LH_ERR_CLOSED', type: 'server_error' });
    } finally {
      await (stopped ?? host.stop());
    }
  });
});

/** A schema nested `depth` objects deep. */
function nest(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { x: schema } };
  return schema;
}
