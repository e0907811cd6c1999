import { expect } from 'chai';
import { mkdtemp, rm, symlink, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectClient } from 'socket.io-client';
import { startTestHost, request, next, generate, barrier, type TestHost, type TestSocket } from './helpers/host.js';
import { writePersonality, PROMPT_FIXTURE_CONFIG, TINY_PNG } from './helpers/zoo.js';
import { REQUEST_SCHEMAS } from '../core/protocol/index.js';

/** Collect every event a socket receives, in order. */
function record(socket: TestSocket): Array<[string, unknown]> {
  const events: Array<[string, unknown]> = [];
  socket.onAny((event: string, payload: unknown) => events.push([event, payload]));
  return events;
}


describe('LoLLMs socket.io protocol', function () {
  this.timeout(60_000);
  let zoo: string;
  let host: TestHost;
  let socket: TestSocket;

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-zoo-'));
    // A three-level zoo, a two-level one (in the same path), spaces, YAML gotchas and a broken config.
    await writePersonality(zoo, 'english/fixtures/prompt_fixture', PROMPT_FIXTURE_CONFIG, { 'assets/logo.png': TINY_PNG });
    await writePersonality(zoo, 'english/coaching/mental health advisor', [
      'name: Mental Health Advisor',
      'user_name: Patient',
      'user_message_prefix: "!@>Patient:"',
      'ai_message_prefix: "!@> Mental Health Advisor:',
      '',
      '  "',
      "link_text: '\\n'",
      'disclaimer: "Not a doctor."',
      'recommended_binding: ""',
      '',
    ].join('\n'));
    await writePersonality(zoo, 'english/broken/bad', 'name: [unclosed\n');
    await writePersonality(zoo, 'twolevel/flat_one', 'name: Flat One\nlanguage: english\n');
    host = await startTestHost({ config: { personalities_paths: [zoo] } });
    socket = await host.connect();
  });
  after(async () => {
    await host?.stop();
    await rm(zoo, { recursive: true, force: true });
  });

  describe('listing', () => {
    it('list_available_bindings → bindings_list with the llama_cpp card and models, sent bare', async () => {
      const reply = await request(socket, 'list_available_bindings', undefined, 'bindings_list');
      expect(reply).to.have.property('success', true);
      const bindings = (reply as { bindings: Array<{ name: string; card: Record<string, unknown>; models: unknown[] }> }).bindings;
      const llama = bindings.find((b) => b.name === 'llama_cpp');
      expect(llama, 'llama_cpp listed').to.not.equal(undefined);
      expect(llama!.card).to.have.property('host_api');
      expect(llama!.models).to.be.an('array').that.is.not.empty;
    });

    it('list_available_personalities → personalities_list without success, both zoo depths, avatar URLs served', async () => {
      const reply = (await request(socket, 'list_available_personalities', {}, 'personalities_list')) as { personalities: Record<string, Record<string, Array<Record<string, unknown>>>> };
      expect(reply).not.to.have.property('success');
      const english = reply.personalities.english!;
      expect(english.generic!.map((p) => p.name)).to.include('lollms');
      const fixture = english.fixtures!.find((p) => p.folder === 'prompt_fixture')!;
      expect(fixture).to.deep.include({ name: 'Prompt Fixture', author: 'tests', version: '2.0.0', has_scripts: false, has_logo: true });
      expect(fixture.avatar).to.be.a('string').and.to.match(/^\/personalities\/.*logo\.png$/);
      const res = await fetch(`${host.url}${fixture.avatar as string}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('image/png');
      expect(Buffer.from(await res.arrayBuffer()).equals(TINY_PNG)).to.equal(true);
      const advisor = english.coaching!.find((p) => p.folder === 'mental health advisor')!;
      expect(advisor).to.deep.include({ name: 'Mental Health Advisor', has_logo: false, avatar: '' });
      expect(english.twolevel!.map((p) => p.folder)).to.include('flat_one');
      expect(english.broken ?? []).to.deep.equal([]);
    });

    it('languages, categories and names', async () => {
      const languages = await request(socket, 'list_available_personalities_languages', undefined, 'available_personalities_languages_list');
      expect(languages).to.deep.include({ success: true });
      expect((languages as { available_personalities_languages: string[] }).available_personalities_languages).to.include('english');
      const categories = await request(socket, 'list_available_personalities_categories', { language: 'english' }, 'available_personalities_categories_list');
      expect((categories as { available_personalities_categories: string[] }).available_personalities_categories).to.include.members(['generic', 'coaching', 'fixtures']);
      const names = await request(socket, 'list_available_personalities_names', { language: 'english', category: 'coaching' }, 'list_available_personalities_names_list');
      expect(names).to.deep.equal({ success: true, list_available_personalities_names: ['mental health advisor'] });
      const unknown = await request(socket, 'list_available_personalities_names', { language: 'english', category: 'nope' }, 'list_available_personalities_names_list');
      expect(unknown).to.have.property('success', false);
      expect((unknown as { error: string }).error).to.be.a('string').that.is.not.empty;
    });

    it('list_available_models → normalized entries of the active binding', async () => {
      const reply = (await request(socket, 'list_available_models', undefined, 'available_models_list')) as unknown as { success: boolean; available_models: Array<Record<string, unknown>> };
      expect(reply.success).to.equal(true);
      const first = reply.available_models[0]!;
      expect(first).to.have.all.keys('title', 'icon', 'license', 'owner', 'owner_link', 'description', 'isInstalled', 'path', 'filesize', 'model_type');
      expect(first.path).to.match(/^https?:\/\/.*\//);
      expect(String(first.path).endsWith(`/${String(first.title)}`)).to.equal(true);
      expect(first.isInstalled).to.equal(false);
      expect(first.filesize).to.be.a('number');
    });
  });

  describe('personalities', () => {
    it('add_personality mounts (3 and 2 segments) and persists; list and activate', async () => {
      const added = await request(socket, 'add_personality', { path: 'english/fixtures/prompt_fixture' }, 'personality_added');
      expect(added).to.deep.equal({ success: true, name: 'Prompt Fixture', id: 1 });
      const flat = await request(socket, 'add_personality', { path: 'twolevel/flat_one' }, 'personality_added');
      expect(flat).to.deep.equal({ success: true, name: 'Flat One', id: 2 });
      // Two adds of one path at once mount it once.
      const [a, b] = await Promise.all([
        request(socket, 'add_personality', { path: 'english/coaching/mental health advisor' }, 'personality_added'),
        new Promise((resolve) => (socket.emit as (e: string, p: unknown, cb: (r: unknown) => void) => void)('add_personality', { path: 'english/coaching/mental health advisor' }, resolve)),
      ]);
      expect(b).to.deep.equal(a);
      const spaces = a;
      expect(spaces).to.deep.include({ success: true, id: 3 });
      expect(host.host.config.values.personalities).to.deep.equal(['english/generic/lollms', 'english/fixtures/prompt_fixture', 'twolevel/flat_one', 'english/coaching/mental health advisor']);
      const active = await request(socket, 'list_active_personalities', undefined, 'active_personalities_list');
      expect(active).to.deep.equal({ success: true, personalities: ['lollms', 'Prompt Fixture', 'Flat One', 'Mental Health Advisor'] });
      const activated = await request(socket, 'activate_personality', { id: 1 }, 'activate_personality');
      expect(activated).to.deep.equal({ success: true, name: 'Prompt Fixture', id: 1 });
      expect(host.host.config.values.active_personality_id).to.equal(1);
      const invalid = await request(socket, 'activate_personality', { id: 99 }, 'personality_add_failed');
      expect(invalid).to.deep.equal({ success: false, error: 'Personality ID not valid' });
    });

    it('refuses paths that leave the personalities folders', async () => {
      const outside = await mkdtemp(join(tmpdir(), 'lollms-outside-'));
      await writePersonality(outside, 'evil', 'name: Evil\n');
      await mkdir(join(zoo, 'english', 'links'), { recursive: true });
      await symlink(join(outside, 'evil'), join(zoo, 'english', 'links', 'evil'));
      try {
        for (const path of ['../x/y', '/etc/passwd', 'english/../../etc', 'english/generic/lollms\0', 'english\\generic\\lollms', 'english/links/evil']) {
          const reply = await request(socket, 'add_personality', { path }, 'personality_add_failed');
          expect(reply, path).to.have.property('success', false);
          expect((reply as { error: string }).error, path).to.be.a('string').that.is.not.empty;
        }
        expect(host.host.config.values.personalities).not.to.include('english/links/evil');
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });
  });

  describe('tokens', () => {
    it('tokenize, detokenize and embed', async () => {
      const tokenized = (await request(socket, 'tokenize', { prompt: 'hello world' }, 'tokenized')) as { tokens: number[] };
      expect(tokenized.tokens).to.be.an('array').that.is.not.empty;
      const detokenized = await request(socket, 'detokenize', { prompt: tokenized.tokens }, 'detokenized');
      expect(detokenized).to.deep.equal({ text: 'hello world' });
      // The test model embeds: one finite number per embedding dimension (64), the same vector for the same text.
      const embedded = (await request(socket, 'embed', { prompt: 'hello' }, 'embeded')) as { text: number[] };
      expect(embedded).to.have.all.keys('text');
      expect(embedded.text).to.have.length(64);
      expect(embedded.text.every(Number.isFinite)).to.equal(true);
      expect(embedded.text.some((x) => x !== 0)).to.equal(true);
      expect(await request(socket, 'embed', { prompt: 'hello' }, 'embeded')).to.deep.equal(embedded);
      expect(await request(socket, 'embed', { prompt: 'other words' }, 'embeded')).not.to.deep.equal(embedded);
    });
  });

  describe('generation', () => {
    it('behaves like the original test page: chunks with type 0, then text_generated with their join', async () => {
      const events = record(socket);
      const result = await generate(socket, { prompt: 'Once upon a time', personality: -1, n_predicts: 16 });
      expect(result.error).to.equal(undefined);
      const chunks = events.filter(([e]) => e === 'text_chunk').map(([, p]) => p as { chunk: string; type: number });
      expect(chunks.length).to.be.greaterThan(0);
      for (const c of chunks) expect(c.type).to.equal(0);
      expect(chunks.map((c) => c.chunk).join('')).to.equal(result.text);
      expect(events.at(-1)![0]).to.equal('text_generated');
    });

    it('answers an ack callback with the reply payload', async () => {
      const ack = await new Promise<unknown>((resolve) => (socket.emit as (e: string, p: unknown, cb: (r: unknown) => void) => void)('tokenize', { prompt: 'hello' }, resolve));
      expect(ack).to.have.property('tokens').that.is.an('array').that.is.not.empty;
      const failed = await new Promise<unknown>((resolve) => (socket.emit as (e: string, p: unknown, cb: (r: unknown) => void) => void)('select_model', { model_name: 5 }, resolve));
      expect(failed).to.include({ success: false });
    });

    it('raw mode crops the prompt: n_crop keeps the last tokens, and the prompt always fits ctx_size - n_predicts', async () => {
      const prompts: string[] = [];
      const onPrompt = (e: { prompt: string }) => prompts.push(e.prompt);
      host.host.events.on('prompt', onPrompt);
      try {
        const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
        await generate(socket, { prompt: words, n_predicts: 2, n_crop: 10 });
        const tokens = (await request(socket, 'tokenize', { prompt: prompts[0]! }, 'tokenized')) as { tokens: number[] };
        expect(tokens.tokens.length).to.be.within(9, 11);
        expect(words.endsWith(prompts[0]!.trim())).to.equal(true);
        const long = Array.from({ length: 3000 }, (_, i) => `x${i % 10}`).join(' ');
        const result = await generate(socket, { prompt: long, n_predicts: 1000 });
        expect(result.error).to.equal(undefined);
        const kept = (await request(socket, 'tokenize', { prompt: prompts[1]! }, 'tokenized')) as { tokens: number[] };
        expect(kept.tokens.length).to.be.at.most(2048 - 1000 + 1);
        const tooMany = await generate(socket, { prompt: 'x', n_predicts: 5000 });
        expect(tooMany.error).to.contain('n_predicts');
      } finally {
        host.host.events.off('prompt', onPrompt);
      }
    });

    it('accepts parameters and top-level sampling keys; the same seed gives the same text', async () => {
      const a = await generate(socket, { prompt: 'abc', n_predicts: 12, parameters: { temperature: 0.8, top_k: 20, top_p: 0.9, repeat_penalty: 1.1, repeat_last_n: 16, seed: 42 } });
      const b = await generate(socket, { prompt: 'abc', n_predicts: 12, temperature: 0.8, top_k: 20, top_p: 0.9, repeat_penalty: 1.1, repeat_last_n: 16, seed: 42 });
      expect(a.text).to.equal(b.text);
    });

    it('a second client during a generation gets buzzy and busy; two back-to-back requests never both run', async () => {
      const other = await host.connect();
      const events = new Map([[socket, record(socket)], [other, record(other)]]);
      // Two sockets: which request the host handles first is not ours to assume. One runs, the other is refused.
      const settled = (s: TestSocket) => Promise.race([next(s, 'text_generated').then(() => 'done'), next(s, 'busy').then(() => 'busy')]);
      const outcomes = Promise.all([settled(socket), settled(other)]);
      socket.emit('generate_text', { prompt: 'one', n_predicts: 64 });
      other.emit('generate_text', { prompt: 'two', n_predicts: 64 });
      const [a, b] = await outcomes;
      expect([a, b].sort()).to.deep.equal(['busy', 'done']);
      const loser = a === 'busy' ? socket : other;
      const winner = loser === socket ? other : socket;
      await Promise.all([barrier(loser), barrier(winner)]);
      const refused = events.get(loser)!;
      expect(refused.filter(([e]) => e === 'buzzy').map(([, p]) => p)).to.deep.equal([{ message: 'I am buzzy. Come back later.' }]);
      expect(refused.filter(([e]) => e === 'busy').map(([, p]) => p)).to.deep.equal([{ message: 'I am busy. Come back later.' }]);
      expect(refused.findIndex(([e]) => e === 'buzzy')).to.be.below(refused.findIndex(([e]) => e === 'busy'));
      expect(refused.some(([e]) => e === 'text_chunk' || e === 'text_generated')).to.equal(false);
      expect(events.get(winner)!.some(([e]) => e === 'buzzy' || e === 'busy')).to.equal(false);
      other.close();
    });

    for (const cancelEvent of ['cancel_generation', 'cancel_text_generation']) {
      it(`${cancelEvent} stops the engine: nothing follows generation_canceled`, async () => {
        const events = record(socket);
        socket.emit('generate_text', { prompt: 'cancel me', n_predicts: 1500 });
        await next(socket, 'text_chunk');
        (socket.emit as (e: string, p: unknown) => void)(cancelEvent, {});
        await next(socket, 'generation_canceled');
        // The cancelled generation has fully ended on the host, and whatever it sent has arrived.
        await host.host.generation.whenIdle(socket.id!);
        await barrier(socket);
        const at = events.findIndex(([e]) => e === 'generation_canceled');
        expect(events[at]![1]).to.deep.equal({ message: 'Generation is canceled.' });
        expect(events.slice(at + 1).filter(([e]) => e === 'text_chunk' || e === 'text_generated')).to.deep.equal([]);
        // The next request runs at once, even one sent right after the cancel, while the engine unwinds.
        const again = await generate(socket, { prompt: 'next', n_predicts: 4 });
        expect(again.error).to.equal(undefined);
        expect(again.text).to.be.a('string');
      });
    }

    it('a request sent right after a cancel runs (not busy)', async () => {
      const events = record(socket);
      socket.emit('generate_text', { prompt: 'first', n_predicts: 1500 });
      await next(socket, 'text_chunk');
      const done = next(socket, 'text_generated');
      socket.emit('cancel_generation', {});
      socket.emit('generate_text', { prompt: 'second', n_predicts: 4 });
      await done;
      expect(events.some(([e]) => e === 'busy' || e === 'buzzy')).to.equal(false);
    });

    it('cancel when nothing runs answers the same and harms nothing', async () => {
      const reply = await request(socket, 'cancel_generation', {}, 'generation_canceled');
      expect(reply).to.deep.equal({ message: 'Generation is canceled.' });
      const result = await generate(socket, { prompt: 'still fine', n_predicts: 4 });
      expect(result.error).to.equal(undefined);
    });

    it('a disconnect mid-generation frees the host for the next request', async () => {
      const leaving = await host.connect();
      const id = leaving.id!;
      leaving.emit('generate_text', { prompt: 'bye', n_predicts: 1500 });
      await next(leaving, 'text_chunk');
      leaving.close();
      // The host saw the disconnect and ended the generation.
      await host.host.generation.whenIdle(id);
      const result = await generate(socket, { prompt: 'after', n_predicts: 4 });
      expect(result.error).to.equal(undefined);
    });

    it('personality mode: the exact prompt of a two-turn discussion, with the personality sampling', async () => {
      const client = await host.connect();
      const prompts: string[] = [];
      const onPrompt = (e: { prompt: string }) => prompts.push(e.prompt);
      host.host.events.on('prompt', onPrompt);
      try {
        const id = 1; // english/fixtures/prompt_fixture, mounted above
        const first = await generate(client, { prompt: 'Hi', personality: id });
        expect(first.error).to.equal(undefined);
        const second = await generate(client, { prompt: 'Q2', personality: id });
        expect(second.error).to.equal(undefined);
        const C = '!@>instructions: answer briefly.\n';
        expect(prompts[0]).to.equal(`${C}!@> Human:\nHi\n!@> Assistant:\n`);
        expect(prompts[1]).to.equal(`${C}!@> Human:\nHi\n!@> Assistant:\n${first.text!.trim()}\n!@> Human:\nQ2\n!@> Assistant:\n`);
        expect(first.text!.toLowerCase()).not.to.contain('!@>');
      } finally {
        host.host.events.off('prompt', onPrompt);
        client.close();
      }
    });

    it('keeps discussions per client and a literal backslash-n link text', async () => {
      const a = await host.connect();
      const prompts: string[] = [];
      const onPrompt = (e: { prompt: string }) => prompts.push(e.prompt);
      host.host.events.on('prompt', onPrompt);
      try {
        await generate(a, { prompt: 'Hello', personality: 3 });
        expect(prompts[0]).to.contain('!@>Patient:Hello\\n!@> Mental Health Advisor:\n');
        const b = await host.connect();
        await generate(b, { prompt: 'Other', personality: 3 });
        expect(prompts[1]).not.to.contain('Hello');
        b.close();
      } finally {
        host.host.events.off('prompt', onPrompt);
        a.close();
      }
    });

    it('an unknown personality index is a generation_error, and the host is not left busy', async () => {
      const reply = await generate(socket, { prompt: 'x', personality: 42 });
      expect(reply.error).to.match(/personality 42/);
      const ok = await generate(socket, { prompt: 'x', n_predicts: 2 });
      expect(ok.error).to.equal(undefined);
    });
  });

  describe('bad input', () => {
    const failureReplies: Record<string, string> = {
      list_available_personalities_categories: 'available_personalities_categories_list',
      list_available_personalities_names: 'list_available_personalities_names_list',
      select_binding: 'select_binding',
      select_model: 'select_model',
      add_personality: 'personality_add_failed',
      activate_personality: 'personality_add_failed',
      tokenize: 'tokenized',
      detokenize: 'detokenized',
      embed: 'embeded',
      generate_text: 'generation_error',
      get_personality_settings: 'personality_settings',
      set_personality_settings: 'personality_settings',
      install_model: 'model_installed',
      generation_answer: 'generation_answer',
    };

    it('covers every event that takes a payload', () => {
      const withFields = Object.keys(REQUEST_SCHEMAS).filter((e) => !['list_available_bindings', 'list_available_personalities', 'list_available_models', 'list_available_personalities_languages', 'list_active_personalities', 'cancel_generation', 'cancel_text_generation', 'cancel_install'].includes(e));
      expect(withFields.sort()).to.deep.equal(Object.keys(failureReplies).sort());
    });

    for (const [event, reply] of Object.entries(failureReplies)) {
      it(`${event}: mistyped and missing fields get the failure shape naming the field`, async () => {
        // A bare request is only wrong where the event has a required field.
        const bareIsValid = (REQUEST_SCHEMAS as Record<string, { safeParse(v: unknown): { success: boolean } }>)[event]!.safeParse({}).success;
        for (const payload of [{ prompt: 12, path: 3, id: 'x', binding_name: 7, model_name: false, language: 5, category: 1, settings: 'no', url: 5 }, ...(bareIsValid ? [] : [undefined]), 'a string', [1, 2]]) {
          const answer = (await request(socket, event, payload, reply as never)) as Record<string, unknown>;
          const error = String(answer.error ?? '');
          expect(error, `${event} ${JSON.stringify(payload)}`).to.contain('invalid payload');
          if (reply !== 'generation_error') expect(answer.success).to.equal(false);
        }
      });
    }

    it('keeps serving after all that', async () => {
      const result = await generate(socket, { prompt: 'alive', n_predicts: 3 });
      expect(result.error).to.equal(undefined);
      expect((await fetch(`${host.url}/health`)).status).to.equal(200);
    });
  });

  describe('selection', () => {
    it('select_binding: unknown is a failure naming it; the current one succeeds', async () => {
      const bad = (await request(socket, 'select_binding', { binding_name: 'nope' }, 'select_binding')) as Record<string, unknown>;
      expect(bad).to.include({ success: false, binding_name: 'nope' });
      expect(String(bad.error)).to.contain('nope');
      const good = await request(socket, 'select_binding', { binding_name: 'llama_cpp' }, 'select_binding');
      expect(good).to.deep.equal({ success: true, binding_name: 'llama_cpp' });
      const saved = await readFile(host.host.paths.configFile, 'utf8');
      expect(saved).to.match(/^binding_name: llama_cpp$/m);
    });

    it('select_model: unknown and corrupt models fail specifically, and the previous model keeps serving', async () => {
      const unknown = (await request(socket, 'select_model', { model_name: 'missing.gguf' }, 'select_model')) as Record<string, unknown>;
      expect(unknown).to.include({ success: false, model_name: 'missing.gguf' });
      expect(String(unknown.error)).to.match(/unknown model/);
      await writeFile(join(host.host.bindings.modelsDir(), 'corrupt.gguf'), Buffer.alloc(4096, 7));
      const corrupt = (await request(socket, 'select_model', { model_name: 'corrupt.gguf' }, 'select_model')) as Record<string, unknown>;
      expect(corrupt).to.include({ success: false, model_name: 'corrupt.gguf' });
      expect(host.host.bindings.model?.name).to.equal('tiny-random-llama.gguf');
      const result = await generate(socket, { prompt: 'still here', n_predicts: 3 });
      expect(result.error).to.equal(undefined);
      const progress: number[] = [];
      socket.on('model_loading_progress', (p) => progress.push(p.progress));
      const good = await request(socket, 'select_model', { model_name: 'tiny-random-llama.gguf' }, 'select_model');
      socket.off('model_loading_progress');
      expect(good).to.deep.equal({ success: true, model_name: 'tiny-random-llama.gguf' });
      expect(progress.length).to.be.greaterThan(0);
      expect(host.host.config.values.model_name).to.equal('tiny-random-llama.gguf');
    });
  });

  describe('HTTP routes', () => {
    it('health, config (redacted), models, active model, mounted personalities, server infos', async () => {
      const health = await fetch(`${host.url}/health`);
      expect(health.status).to.equal(200);
      expect(await health.json()).to.deep.equal({ status: 'ok', model: 'tiny-random-llama.gguf', binding: 'llama_cpp' });
      const config = (await (await fetch(`${host.url}/get_config`)).json()) as Record<string, unknown>;
      expect(config).to.include({ binding_name: 'llama_cpp', api_key: null });
      const models = (await (await fetch(`${host.url}/list_models`)).json()) as string[];
      expect(models).to.include('tiny-random-llama.gguf');
      const active = (await (await fetch(`${host.url}/get_active_model`)).json()) as { model: string; index: number };
      expect(active.model).to.equal('tiny-random-llama.gguf');
      expect(models[active.index]).to.equal('tiny-random-llama.gguf');
      expect(await (await fetch(`${host.url}/list_mounted_personalities`)).json()).to.deep.equal(host.host.config.values.personalities);
      const infos = (await (await fetch(`${host.url}/get_server_ifos`)).json()) as Record<string, unknown>;
      expect(infos).to.include({ binding: 'llama_cpp', model: 'tiny-random-llama.gguf', nb_gpus: 0 });
      for (const key of ['models_list', 'model_index', 'lollms_version', 'total_space', 'available_space', 'percent_usage', 'ram_usage', 'system_disk_total_space', 'binding_disk_available_space']) expect(infos).to.have.property(key);
      expect(infos.total_space).to.be.a('number').greaterThan(0);
    });

    it('update_setting validates JSON and types', async () => {
      const post = (body: string) => fetch(`${host.url}/update_setting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const ok = await post(JSON.stringify({ setting_name: 'temperature', setting_value: 0.3 }));
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.deep.equal({ setting_name: 'temperature', status: true });
      expect(host.host.config.values.temperature).to.equal(0.3);
      const badJson = await post('{nope');
      expect(badJson.status).to.equal(400);
      expect(((await badJson.json()) as { error: string }).error).to.contain('invalid JSON');
      const badType = await post(JSON.stringify({ setting_name: 'temperature', setting_value: 'hot' }));
      expect(badType.status).to.equal(400);
      expect(((await badType.json()) as { error: string }).error).to.contain('temperature');
      const missing = await post(JSON.stringify({ setting_value: 1 }));
      expect(missing.status).to.equal(400);
      expect(((await missing.json()) as { error: string }).error).to.contain('setting_name');
      const secret = await post(JSON.stringify({ setting_name: 'api_key', setting_value: 'x' }));
      expect(secret.status).to.equal(403);
      expect((await fetch(`${host.url}/nope`)).status).to.equal(404);
      expect((await fetch(`${host.url}/personalities/..%2F..%2Fetc/assets/passwd`)).status).to.equal(404);
    });
  });
});

describe('access control', function () {
  this.timeout(30_000);

  it('refuses a browser origin that is not allowed, with a reason', async () => {
    const host = await startTestHost();
    try {
      // Refused on the handshake request itself (403), before a session exists.
      const refused = connectClient(host.url, { transports: ['polling'], reconnection: false, extraHeaders: { origin: 'http://evil.example' } });
      const error = (await new Promise<Error>((resolve) => refused.once('connect_error', resolve))) as Error & { context?: { status?: number } };
      expect(error.context?.status).to.equal(403);
      refused.close();
      const handshake = await fetch(`${host.url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'http://evil.example' } });
      expect(handshake.status).to.equal(403);
      expect(await handshake.text()).to.contain('not allowed');
      const allowed = await host.connect({ extraHeaders: { origin: 'http://localhost:5173' } });
      expect(allowed.connected).to.equal(true);
      // `null` (a sandboxed iframe of any web site) is not allowed by default (issue 11).
      const fromDisk = connectClient(host.url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: 'null' } });
      await new Promise<Error>((resolve) => fromDisk.once('connect_error', resolve));
      fromDisk.close();
      const cors = await fetch(`${host.url}/health`, { headers: { origin: 'http://evil.example' } });
      expect(cors.status).to.equal(403);
    } finally {
      await host.stop();
    }
  });

  it('refuses foreign host names on a loopback bind (DNS rebinding)', async () => {
    const host = await startTestHost();
    try {
      const { request: httpRequest } = await import('node:http');
      const statusOf = (path: string, hostHeader: string) =>
        new Promise<number>((resolve) => {
          httpRequest({ host: '127.0.0.1', port: host.port, path, headers: { host: hostHeader } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).end();
        });
      expect(await statusOf('/health', 'evil.example')).to.equal(403);
      expect(await statusOf('/socket.io/?EIO=4&transport=polling', 'evil.example:9600')).to.equal(403);
      expect(await statusOf('/socket.io/?EIO=4&transport=polling', `localhost:${host.port}`)).to.equal(200);
      expect((await fetch(`http://localhost:${host.port}/health`)).status).to.equal(200);
    } finally {
      await host.stop();
    }
  });

  it('requires the API key on a non-loopback bind, over socket.io and HTTP', async () => {
    const host = await startTestHost({ host: '0.0.0.0', config: { api_key: 'sesame', binding_name: null } });
    const url = `http://127.0.0.1:${host.port}`;
    try {
      // The key is checked on the handshake request (issue 11), before any message is read.
      const noKey = connectClient(url, { transports: ['polling'], reconnection: false });
      expect(((await new Promise<Error>((resolve) => noKey.once('connect_error', resolve))) as Error & { context?: { status?: number } }).context?.status).to.equal(401);
      const handshake = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
      expect(await handshake.text()).to.contain('unauthorized');
      noKey.close();
      const wrong = connectClient(url, { transports: ['websocket'], reconnection: false, extraHeaders: { authorization: 'Bearer sesamf' } });
      await new Promise<Error>((resolve) => wrong.once('connect_error', resolve));
      wrong.close();
      const good = connectClient(url, { transports: ['websocket'], reconnection: false, extraHeaders: { authorization: 'Bearer sesame' } });
      await new Promise<void>((resolve, reject) => {
        good.once('connect', () => resolve());
        good.once('connect_error', reject);
      });
      good.close();
      expect((await fetch(`${url}/health`)).status).to.equal(401);
      expect((await fetch(`${url}/health`, { headers: { authorization: 'Bearer sesame' } })).status).to.equal(200);
    } finally {
      await host.stop();
    }
  });

  it('without a binding, list_available_models answers the original failure', async () => {
    const host = await startTestHost({ config: { binding_name: null } });
    try {
      const socket = await host.connect();
      const reply = await request(socket, 'list_available_models', undefined, 'available_models_list');
      expect(reply).to.deep.equal({ success: false, error: 'No binding selected' });
      const tokens = await request(socket, 'tokenize', { prompt: 'x' }, 'tokenized');
      expect(tokens).to.have.property('success', false);
      const gen = await generate(socket, { prompt: 'x' });
      expect(gen.error).to.contain('No model loaded');
    } finally {
      await host.stop();
    }
  });
});

describe('model install over the socket', function () {
  this.timeout(30_000);
  const payload = Buffer.alloc(256 * 1024, 3);
  let server: import('node:http').Server;
  let base: string;
  let host: TestHost;

  before(async () => {
    const { createServer } = await import('node:http');
    server = createServer((req, res) => {
      if (req.url === '/slow.gguf') {
        // Trickles forever, so a cancel always lands mid-download.
        res.writeHead(200, { 'content-length': String(payload.length * 100) });
        const timer = setInterval(() => res.write(payload.subarray(0, 1024)), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { 'content-length': String(payload.length) });
      res.end(payload);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // Client installs reach public addresses only; this test's server is on loopback (issue 11).
    host = await startTestHost({ config: { install_allowed_hosts: ['127.0.0.1'] } });
  });
  after(async () => {
    await host?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('install_model downloads a URL with install_progress, then model_installed; the model is listed', async () => {
    const socket = await host.connect();
    const progress: Array<{ bytes: number }> = [];
    socket.on('install_progress', (p) => progress.push(p));
    const reply = await request(socket, 'install_model', { url: `${base}/fresh.gguf` }, 'model_installed');
    expect(reply).to.deep.include({ success: true, filename: 'fresh.gguf' });
    expect(progress.at(-1)!.bytes).to.equal(payload.length);
    const models = (await (await fetch(`${host.url}/list_models`)).json()) as string[];
    expect(models).to.include('fresh.gguf');
  });

  it('cancel_install stops a running download and answers once', async () => {
    const socket = await host.connect();
    const replies: unknown[] = [];
    socket.on('model_installed', (r) => replies.push(r));
    socket.emit('install_model', { url: `${base}/slow.gguf` });
    await next(socket, 'install_progress');
    socket.emit('cancel_install', { url: `${base}/slow.gguf` });
    await next(socket, 'model_installed');
    // The cancel answers once the download has stopped; nothing else may follow.
    await barrier(socket);
    expect(replies).to.deep.equal([{ success: false, filename: 'slow.gguf', error: 'Install canceled' }]);
    // The cancel answered once the download had stopped: the same file can be installed again at once.
    socket.emit('install_model', { url: `${base}/slow.gguf` });
    expect(await next(socket, 'install_progress')).to.include({ filename: 'slow.gguf' });
    socket.emit('cancel_install', { filename: 'slow.gguf' });
    await next(socket, 'model_installed');
    const idle = await request(socket, 'cancel_install', { filename: 'slow.gguf' }, 'model_installed');
    expect(idle).to.have.property('success', false);
    expect((idle as { error: string }).error).to.contain('no install');
  });

  it('refuses a file name that leaves the models folder', async () => {
    const socket = await host.connect();
    const reply = await request(socket, 'install_model', { url: `${base}/x.gguf`, filename: '../evil.gguf' }, 'model_installed');
    expect(reply).to.have.property('success', false);
  });

  it('cancels whatever payload a cancel carries, and /update_setting cannot touch network keys', async () => {
    const socket = await host.connect();
    const events = record(socket);
    socket.emit('generate_text', { prompt: 'long', n_predicts: 1500 });
    await next(socket, 'text_chunk');
    (socket.emit as (e: string, p: unknown) => void)('cancel_text_generation', 'whatever');
    await next(socket, 'generation_canceled');
    await host.host.generation.whenIdle(socket.id!);
    await barrier(socket);
    const at = events.findIndex(([e]) => e === 'generation_canceled');
    expect(events.slice(at + 1).filter(([e]) => e === 'text_chunk' || e === 'text_generated')).to.deep.equal([]);
    for (const setting_name of ['host', 'api_key', 'allowed_origins', 'sandbox_memory_limit_mb']) {
      const res = await fetch(`${host.url}/update_setting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ setting_name, setting_value: 'x' }) });
      expect(res.status, setting_name).to.equal(403);
    }
  });
});

describe('token ids from clients', function () {
  this.timeout(30_000);
  it('detokenize refuses ids outside the vocabulary instead of aborting the host', async () => {
    const host = await startTestHost();
    try {
      const socket = await host.connect();
      const negative = (await request(socket, 'detokenize', { prompt: [-1] }, 'detokenized')) as { success?: boolean };
      expect(negative.success).to.equal(false);
      for (const ids of [[99999], [1, 2, 334]]) {
        const reply = (await request(socket, 'detokenize', { prompt: ids }, 'detokenized')) as { success?: boolean; error?: string };
        expect(reply.success, JSON.stringify(ids)).to.equal(false);
        expect(reply.error).to.contain('not in the vocabulary');
      }
      expect(await request(socket, 'detokenize', { prompt: [333] }, 'detokenized')).to.have.property('text');
      expect((await fetch(`${host.url}/health`)).status).to.equal(200);
    } finally {
      await host.stop();
    }
  });
});
