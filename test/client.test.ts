import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createServer, type Server as HttpServer } from 'node:http';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Server as SocketServer } from 'socket.io';
import {
  BusyError,
  CanceledError,
  LollmsClient,
  LollmsClientError,
  LollmsConnectionError,
  LollmsRequestError,
  LollmsTimeoutError,
  type Generation,
  type GenerateOptions,
  type GenerationMessage,
  type InstallProgress,
  type ModelLoadingProgress,
} from 'lollms-host/client';
import { startTestHost, type TestHost } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';
import { PACKAGE_ROOT } from '../core/util/package-root.js';

/** A generation of the tiny test model that runs for about a second (this seed does not stop early at EOS). */
const LONG_PROMPT = 'long';
const LONG = { nPredicts: 1500, parameters: { seed: 1 } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a generation and wait for its first chunk (a request right after a cancel is never refused). */
async function startGeneration(c: LollmsClient, prompt: string, options: GenerateOptions): Promise<Generation> {
  const generation = c.generate(prompt, options);
  await firstChunk(generation);
  return generation;
}

/** Resolves at the first chunk of `generation` (without cancelling it). */
async function firstChunk(generation: AsyncIterable<string>): Promise<void> {
  const iterator = generation[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) throw new Error('the generation ended without a chunk');
}

/** The rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** A client of `url` over websocket, without reconnection (tests close hosts under it). */
function clientOf(url: string, options: ConstructorParameters<typeof LollmsClient>[0] = {}): LollmsClient {
  return new LollmsClient({ url, transports: ['websocket'], ...options, socketOptions: { reconnection: false, ...options.socketOptions } });
}

const PROCESSOR = `import { defineProcessor } from 'lollms-host/plugin-api';

export default defineProcessor({
  settings: {
    nb_steps: { type: 'int', value: 2, min: 1, max: 5, help: 'steps to announce' },
  },
  async runWorkflow({ prompt }, ctx) {
    const n = Number(ctx.settings['nb_steps']);
    for (let i = 1; i <= n; i++) {
      ctx.stepStart('step ' + i);
      ctx.stepEnd('step ' + i);
    }
    ctx.chunk('echo: ');
    ctx.chunk(prompt);
    return 'echo: ' + prompt;
  },
});
`;

describe('typed client (lollms-host/client)', function () {
  this.timeout(60_000);
  let zoo: string;
  let host: TestHost;
  let client: LollmsClient;
  const clients: LollmsClient[] = [];
  const track = (c: LollmsClient) => (clients.push(c), c);

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lollms-client-zoo-'));
    await writePersonality(zoo, 'english/client_tests/echo', 'name: Echo\nauthor: tests\nversion: 1.0.0\n', { 'scripts/processor.ts': PROCESSOR });
    // install_allowed_hosts: the installModel tests download from a server on loopback (issue 11).
    host = await startTestHost({ config: { personalities_paths: [zoo], install_allowed_hosts: ['127.0.0.1'] } });
    client = track(clientOf(host.url));
    await client.connect();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await host?.stop();
    if (zoo) await rm(zoo, { recursive: true, force: true });
  });

  describe('connecting', () => {
    it('connects, and connect() again resolves at once', async () => {
      expect(client.connected).to.equal(true);
      await client.connect();
      expect(client.url).to.equal(host.url);
    });

    it('without autoConnect, a request before connect() rejects with LollmsConnectionError', async () => {
      const lazy = track(clientOf(host.url, { autoConnect: false }));
      const error = await rejection(lazy.listBindings());
      expect(error).to.be.instanceOf(LollmsConnectionError).and.instanceOf(LollmsClientError);
      expect((error as LollmsConnectionError).code).to.equal('LH_ERR_CLIENT_CONNECTION');
      expect(error.message).to.contain('call connect() first');
      await lazy.connect();
      expect((await lazy.listBindings()).success).to.equal(true);
    });

    it('close() rejects the requests in flight and every later call', async () => {
      const closing = clientOf(host.url);
      await closing.connect();
      // A request in flight, and one that waits for its lane behind it; close() runs before any reply can arrive.
      const sent = closing.tokenize('first');
      const queued = closing.tokenize('second');
      const generation = closing.generate('x', { nPredicts: 4 });
      await closing.close();
      expect(await rejection(generation.text)).to.be.instanceOf(LollmsConnectionError);
      for (const pending of [sent, queued]) {
        const error = await rejection(pending);
        expect(error).to.be.instanceOf(LollmsConnectionError);
      }
      expect(await rejection(closing.tokenize('x'))).to.be.instanceOf(LollmsConnectionError);
      expect(await rejection(closing.connect())).to.be.instanceOf(LollmsConnectionError);
      expect(await rejection(closing.generate('x').text)).to.be.instanceOf(LollmsConnectionError);
    });
  });

  describe('listings', () => {
    it('listBindings, listPersonalities, listModels', async () => {
      const bindings = await client.listBindings();
      expect(bindings.success).to.equal(true);
      expect(bindings.bindings.map((b) => b.name)).to.include('llama_cpp');
      const zoo = await client.listPersonalities();
      expect(zoo.personalities.english!.generic!.map((p) => p.folder)).to.include('lollms');
      expect(zoo.personalities.english!.client_tests!.map((p) => p.name)).to.deep.equal(['Echo']);
      const models = await client.listModels();
      expect(models.success).to.equal(true);
      expect(models.available_models).to.be.an('array').that.is.not.empty;
      expect(models.available_models[0]).to.have.property('title').that.is.a('string');
    });

    it('languages, categories and names; an unknown category is a LollmsRequestError', async () => {
      expect((await client.listPersonalityLanguages()).available_personalities_languages).to.include('english');
      expect((await client.listPersonalityCategories('english')).available_personalities_categories).to.include.members(['generic', 'client_tests']);
      expect((await client.listPersonalityCategories()).available_personalities_categories).to.include('client_tests');
      expect(await client.listPersonalityNames('client_tests', 'english')).to.deep.equal({ success: true, list_available_personalities_names: ['echo'] });
      expect((await client.listPersonalityNames('client_tests')).list_available_personalities_names).to.deep.equal(['echo']);
      const error = await rejection(client.listPersonalityNames('nope', 'english'));
      expect(error).to.be.instanceOf(LollmsRequestError);
      expect(error).to.include({ event: 'list_available_personalities_names', serverMessage: 'no personality category "nope" in language "english"' });
    });
  });

  describe('selection', () => {
    it('selectBinding: success, and the server message of a failure', async () => {
      expect(await client.selectBinding('llama_cpp')).to.deep.equal({ success: true, binding_name: 'llama_cpp' });
      const error = (await rejection(client.selectBinding('nope'))) as LollmsRequestError;
      expect(error).to.be.instanceOf(LollmsRequestError);
      expect(error.code).to.equal('LH_ERR_CLIENT_REQUEST');
      expect(error.event).to.equal('select_binding');
      expect(error.serverMessage).to.match(/^Couldn't load binding:\nno binding named "nope"/);
      expect(error.reply).to.deep.include({ success: false, binding_name: 'nope' });
      expect(error.message).to.contain(error.serverMessage);
    });

    it('selectModel: progress events, then the reply', async () => {
      const name = host.host.bindings.model!.name;
      const progress: ModelLoadingProgress[] = [];
      const reply = await client.selectModel(name, { onProgress: (p) => progress.push(p) });
      expect(reply).to.deep.equal({ success: true, model_name: name });
      expect(progress.length).to.be.greaterThan(0);
      for (const p of progress) expect(p.model_name).to.equal(name);
      expect(progress.at(-1)!.progress).to.be.at.most(1);
    });

    it("selectModel('missing.gguf') rejects with the server's message", async () => {
      const error = (await rejection(client.selectModel('missing.gguf'))) as LollmsRequestError;
      expect(error).to.be.instanceOf(LollmsRequestError);
      expect(error.event).to.equal('select_model');
      expect(error.serverMessage).to.match(/^unknown model "missing.gguf" for binding "llama_cpp"/);
      // The previous model keeps serving.
      expect((await client.tokenize('still here')).tokens).to.not.be.empty;
    });
  });

  describe('personalities', () => {
    it('addPersonality, activatePersonality, listActivePersonalities', async () => {
      expect(await client.addPersonality('english/client_tests/echo')).to.deep.equal({ success: true, name: 'Echo', id: 1 });
      expect(await client.activatePersonality(1)).to.deep.equal({ success: true, name: 'Echo', id: 1 });
      expect(await client.listActivePersonalities()).to.deep.equal({ success: true, personalities: ['lollms', 'Echo'] });
    });

    it('activatePersonality(99) and a bad path are LollmsRequestErrors with the server messages', async () => {
      const invalid = (await rejection(client.activatePersonality(99))) as LollmsRequestError;
      expect(invalid).to.be.instanceOf(LollmsRequestError);
      expect(invalid).to.include({ event: 'activate_personality', serverMessage: 'Personality ID not valid' });
      const missing = (await rejection(client.addPersonality('english/generic/nope'))) as LollmsRequestError;
      expect(missing).to.be.instanceOf(LollmsRequestError);
      expect(missing.event).to.equal('add_personality');
      expect(missing.serverMessage).to.match(/^personality "english\/generic\/nope" not found/);
    });

    it('requests that share personality_add_failed are serialized: each gets its own reply', async () => {
      const [added, failed, activated, refused] = await Promise.allSettled([
        client.addPersonality('english/client_tests/echo'),
        client.activatePersonality(7),
        client.activatePersonality(0),
        client.addPersonality('../escape'),
      ]);
      expect(added).to.deep.equal({ status: 'fulfilled', value: { success: true, name: 'Echo', id: 1 } });
      expect(failed.status === 'rejected' && (failed.reason as LollmsRequestError).serverMessage).to.equal('Personality ID not valid');
      expect(activated).to.deep.equal({ status: 'fulfilled', value: { success: true, name: 'lollms', id: 0 } });
      expect(refused.status === 'rejected' && (refused.reason as LollmsRequestError).event).to.equal('add_personality');
    });

    it('getPersonalitySettings and setPersonalitySettings; a bad value and a bad id are LollmsRequestErrors', async () => {
      const got = await client.getPersonalitySettings(1);
      expect(got).to.deep.include({ success: true, id: 1, settings: { nb_steps: 2 } });
      expect(got.template).to.have.property('nb_steps');
      const set = await client.setPersonalitySettings(1, { nb_steps: 3 });
      expect(set.settings).to.deep.equal({ nb_steps: 3 });
      expect((await client.getPersonalitySettings(1)).settings).to.deep.equal({ nb_steps: 3 });
      const tooBig = (await rejection(client.setPersonalitySettings(1, { nb_steps: 50 }))) as LollmsRequestError;
      expect(tooBig).to.be.instanceOf(LollmsRequestError);
      expect(tooBig.event).to.equal('set_personality_settings');
      expect(tooBig.serverMessage).to.contain('nb_steps');
      const badId = (await rejection(client.getPersonalitySettings(42))) as LollmsRequestError;
      expect(badId.serverMessage).to.equal('Personality ID not valid: 42');
      await client.setPersonalitySettings(1, { nb_steps: 2 });
    });
  });

  describe('tokens', () => {
    it('tokenize, detokenize, embed', async () => {
      const { tokens } = await client.tokenize('Hello world');
      expect(tokens).to.be.an('array').that.is.not.empty;
      for (const t of tokens) expect(Number.isInteger(t)).to.equal(true);
      const { text } = await client.detokenize(tokens);
      expect(text).to.contain('world');
      const embedded = await client.embed('Hello world');
      expect(embedded.text).to.be.an('array').that.is.not.empty;
      expect(embedded.text[0]).to.be.a('number');
    });

    it('concurrent requests of one kind each get their own reply', async () => {
      const texts = ['a', 'bb bb', 'ccc ccc ccc', 'dddd dddd dddd dddd', 'e'];
      const sequential = [];
      for (const t of texts) sequential.push((await client.tokenize(t)).tokens);
      const concurrent = await Promise.all(texts.map((t) => client.tokenize(t)));
      expect(concurrent.map((r) => r.tokens)).to.deep.equal(sequential);
    });

    it('a failure of a token event is a LollmsRequestError', async () => {
      const noModel = await startTestHost({ config: { binding_name: null } });
      const bare = clientOf(noModel.url);
      try {
        await bare.connect();
        const error = (await rejection(bare.tokenize('x'))) as LollmsRequestError;
        expect(error).to.be.instanceOf(LollmsRequestError);
        expect(error).to.include({ event: 'tokenize' });
        expect(error.serverMessage).to.contain('No model loaded');
        const models = (await rejection(bare.listModels())) as LollmsRequestError;
        expect(models.serverMessage).to.equal('No binding selected');
      } finally {
        await bare.close();
        await noModel.stop();
      }
    });
  });

  describe('generation', () => {
    let echo: number;
    before(async () => {
      echo = (await client.addPersonality('english/client_tests/echo')).id;
    });

    it('iterating the chunks gives .text; onChunk sees the same chunks', async () => {
      const seen: string[] = [];
      const generation = client.generate('Once upon a time', { nPredicts: 16, onChunk: (c) => seen.push(c) });
      const chunks: string[] = [];
      for await (const chunk of generation) chunks.push(chunk);
      const text = await generation.text;
      expect(chunks.join('')).to.equal(text);
      expect(seen).to.deep.equal(chunks);
      expect(generation.done).to.equal(true);
      // Iterating again replays the chunks.
      const again: string[] = [];
      for await (const chunk of generation) again.push(chunk);
      expect(again).to.deep.equal(chunks);
    });

    it('parameters and the same seed give the same text; nCrop is accepted', async () => {
      const parameters = { temperature: 0.8, top_k: 20, top_p: 0.9, seed: 42 };
      const a = await client.generate('abc', { nPredicts: 12, parameters }).text;
      const b = await client.generate('abc', { nPredicts: 12, parameters, nCrop: -1 }).text;
      expect(a).to.equal(b);
    });

    it('personality mode: generation_message events through onMessage and .messages', async () => {
      const received: GenerationMessage[] = [];
      const generation = client.generate('hi', { personality: echo, onMessage: (m) => received.push(m) });
      expect(await generation.text).to.equal('echo: hi');
      expect(generation.chunks).to.deep.equal(['echo: ', 'hi']);
      expect(received.map((m) => [m.type_name, m.content])).to.deep.equal([
        ['MSG_TYPE_STEP_START', 'step 1'],
        ['MSG_TYPE_STEP_END', 'step 1'],
        ['MSG_TYPE_STEP_START', 'step 2'],
        ['MSG_TYPE_STEP_END', 'step 2'],
      ]);
      expect(generation.messages).to.deep.equal(received);
    });

    it('generation_error becomes a LollmsRequestError, and the client can generate again', async () => {
      const generation = client.generate('x', { personality: 42 });
      const error = (await rejection(generation.text)) as LollmsRequestError;
      expect(error).to.be.instanceOf(LollmsRequestError);
      expect(error.event).to.equal('generate_text');
      expect(error.serverMessage).to.match(/personality 42 is not mounted/);
      const iterated = await rejection((async () => {
        for await (const _ of generation) void _;
      })());
      expect(iterated).to.equal(error);
      expect(await client.generate('x', { nPredicts: 2 }).text).to.be.a('string');
    });

    it('aborting the signal sends cancel_generation: text and the iterator reject with CanceledError', async () => {
      const controller = new AbortController();
      const sent: string[] = [];
      const onOutgoing = (event: string) => sent.push(event);
      client.socket.onAnyOutgoing(onOutgoing);
      try {
        const generation = client.generate(LONG_PROMPT, { ...LONG, signal: controller.signal });
        const chunks: string[] = [];
        const iterated = rejection((async () => {
          for await (const chunk of generation) {
            chunks.push(chunk);
            if (chunks.length === 2) controller.abort();
          }
        })());
        const error = (await rejection(generation.text)) as CanceledError;
        expect(error).to.be.instanceOf(CanceledError);
        expect(error.code).to.equal('LH_ERR_CLIENT_CANCELLED');
        // The server's confirmation: it sent generation_canceled.
        expect(error.serverMessage).to.equal('Generation is canceled.');
        expect(await iterated).to.equal(error);
        expect(chunks.length).to.be.at.least(2);
        expect(sent).to.include('cancel_generation');
      } finally {
        client.socket.offAnyOutgoing(onOutgoing);
      }
      expect(await client.generate('next', { nPredicts: 4 }).text).to.be.a('string');
    });

    it('cancel() and breaking out of a for-await loop cancel; an already aborted signal sends nothing', async () => {
      const generation = client.generate(LONG_PROMPT, LONG);
      for await (const _ of generation) break;
      expect(generation.done).to.equal(true);
      expect(((await rejection(generation.text)) as CanceledError).serverMessage).to.equal('Generation is canceled.');

      const other = await startGeneration(client, LONG_PROMPT, LONG);
      await other.cancel();
      expect(await rejection(other.text)).to.be.instanceOf(CanceledError);
      await other.cancel(); // a no-op once ended

      const sent: string[] = [];
      const onOutgoing = (event: string) => sent.push(event);
      client.socket.onAnyOutgoing(onOutgoing);
      try {
        const never = client.generate('never', { signal: AbortSignal.abort() });
        const error = (await rejection(never.text)) as CanceledError;
        expect(error).to.be.instanceOf(CanceledError);
        expect(error.serverMessage).to.equal(undefined);
        expect(sent).to.deep.equal([]);
      } finally {
        client.socket.offAnyOutgoing(onOutgoing);
      }
    });

    it('busy: a second client gets BusyError during the first one\'s generation', async () => {
      const other = track(clientOf(host.url));
      await other.connect();
      const first = await startGeneration(client, LONG_PROMPT, LONG);
      const error = (await rejection(other.generate('two', { nPredicts: 8 }).text)) as BusyError;
      expect(error).to.be.instanceOf(BusyError);
      expect(error.code).to.equal('LH_ERR_CLIENT_BUSY');
      expect(error.local).to.equal(false);
      expect(error.serverMessage).to.equal('I am busy. Come back later.');
      // The trailing `busy` after `buzzy` does not leak into the next generation of that client.
      await first.cancel();
      expect(await other.generate('three', { nPredicts: 4 }).text).to.be.a('string');
    });

    it('one generation per client: a second generate() on the same client rejects with a local BusyError', async () => {
      const first = await startGeneration(client, LONG_PROMPT, LONG);
      const second = client.generate('second', { nPredicts: 8 });
      const error = (await rejection(second.text)) as BusyError;
      expect(error).to.be.instanceOf(BusyError);
      expect(error.local).to.equal(true);
      expect(error.message).to.contain('already runs a generation');
      // The first one is not disturbed.
      expect(first.done).to.equal(false);
      await first.cancel();
      expect(await rejection(first.text)).to.be.instanceOf(CanceledError);
      expect(await client.generate('third', { nPredicts: 2 }).text).to.be.a('string');
    });

    it('an idle timeoutMs cancels a generation that goes quiet and rejects with LollmsTimeoutError', async () => {
      // max_queue lets the second request wait silently for the slot: no event arrives within the limit.
      const queued = await startTestHost({ config: { max_queue: 1 } });
      const a = clientOf(queued.url);
      const b = clientOf(queued.url);
      try {
        await Promise.all([a.connect(), b.connect()]);
        const long = a.generate(LONG_PROMPT, LONG);
        await firstChunk(long);
        const waiting = b.generate('waits', { nPredicts: 4, timeoutMs: 150 });
        const error = (await rejection(waiting.text)) as LollmsTimeoutError;
        expect(error).to.be.instanceOf(LollmsTimeoutError);
        expect(error).to.include({ event: 'generate_text', timeoutMs: 150, code: 'LH_ERR_CLIENT_TIMEOUT' });
        await long.cancel();
        expect(await b.generate('now', { nPredicts: 2 }).text).to.be.a('string');
      } finally {
        await a.close();
        await b.close();
        await queued.stop();
      }
    });
  });

  describe('installModel', () => {
    const payload = Buffer.alloc(256 * 1024, 7);
    let server: HttpServer;
    let base: string;

    before(async () => {
      server = createServer((req, res) => {
        if (req.url === '/slow.gguf') {
          // Trickles forever, so an abort always lands mid-download.
          res.writeHead(200, { 'content-length': String(payload.length * 100) });
          const timer = setInterval(() => res.write(payload.subarray(0, 1024)), 20);
          res.on('close', () => clearInterval(timer));
          return;
        }
        if (req.url === '/missing.gguf') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-length': String(payload.length) });
        res.end(payload);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(async () => {
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    });

    it('downloads with onProgress, then resolves with the installed path', async () => {
      const progress: InstallProgress[] = [];
      const reply = await client.installModel({ url: `${base}/client-fresh.gguf` }, { onProgress: (p) => progress.push(p) });
      expect(reply).to.deep.include({ success: true, filename: 'client-fresh.gguf' });
      // The path inside the models folder, never the server's absolute path (issue 11).
      expect(reply.path).to.equal('llama_cpp/client-fresh.gguf');
      expect((await stat(join(host.host.bindings.modelsDir(), 'client-fresh.gguf'))).size).to.equal(payload.length);
      expect(progress.at(-1)).to.deep.include({ filename: 'client-fresh.gguf', bytes: payload.length });
    });

    it('a failure (HTTP 404, a bad file name) is a LollmsRequestError', async () => {
      const notFound = (await rejection(client.installModel({ url: `${base}/missing.gguf` }))) as LollmsRequestError;
      expect(notFound).to.be.instanceOf(LollmsRequestError);
      expect(notFound.event).to.equal('install_model');
      expect(notFound.serverMessage).to.contain('404');
      const evil = (await rejection(client.installModel({ url: `${base}/x.gguf`, filename: '../evil.gguf' }))) as LollmsRequestError;
      expect(evil).to.be.instanceOf(LollmsRequestError);
    });

    /** Install slow.gguf and abort at its first progress event. */
    async function installAndAbort(): Promise<Error> {
      const controller = new AbortController();
      return rejection(client.installModel({ url: `${base}/slow.gguf` }, { signal: controller.signal, onProgress: () => controller.abort() }));
    }

    it('aborting the signal sends cancel_install and rejects with CanceledError; the download can start again', async () => {
      const sent: Array<[string, unknown]> = [];
      const onOutgoing = (event: string, body: unknown) => sent.push([event, body]);
      client.socket.onAnyOutgoing(onOutgoing);
      try {
        for (let round = 0; round < 2; round++) {
          const error = (await installAndAbort()) as CanceledError;
          expect(error, error.message).to.be.instanceOf(CanceledError);
          expect(error.event).to.equal('install_model');
        }
        // Each abort sent one cancel_install, by the file name the host reported.
        expect(sent.filter(([e]) => e === 'cancel_install').map(([, body]) => body)).to.deep.equal([{ filename: 'slow.gguf' }, { filename: 'slow.gguf' }]);
        // The lane waited for the cancel's answer: a new install is not mistaken for the canceled one.
        const fresh = await client.installModel({ url: `${base}/client-second.gguf` });
        expect(fresh.filename).to.equal('client-second.gguf');
      } finally {
        client.socket.offAnyOutgoing(onOutgoing);
      }
    });

    it('an idle timeout between progress events cancels the install with LollmsTimeoutError', async () => {
      // Progress comes at most every 250 ms: a 100 ms idle limit always passes between two events.
      const error = (await rejection(client.installModel({ url: `${base}/slow.gguf` }, { timeoutMs: 100 }))) as LollmsTimeoutError;
      expect(error).to.be.instanceOf(LollmsTimeoutError);
      expect(error).to.include({ event: 'install_model', timeoutMs: 100 });
      // The timeout canceled the download on the host: the same file can be installed again.
      expect(await installAndAbort()).to.be.instanceOf(CanceledError);
    });
  });

  describe('API key', () => {
    // Over polling, engine.io reports the refused handshake's status as the transport error's description; over a
    // WebSocket, in the description's message. (In a browser the polling XHR reads status 0 once aborted: the
    // console test checks a request after the failed connect there.)
    for (const transport of ['websocket', 'polling'] as const) {
      it(`connect() over ${transport} rejects with the server's status and what it means without the key, and works with it`, async () => {
        const guarded = await startTestHost({ host: '0.0.0.0', config: { api_key: 'sesame', binding_name: null } });
        const url = `http://127.0.0.1:${guarded.port}`;
        const noKey = clientOf(url, { transports: [transport] });
        const withKey = clientOf(url, { apiKey: 'sesame', transports: [transport] });
        try {
          const error = await rejection(noKey.connect());
          expect(error).to.be.instanceOf(LollmsConnectionError);
          expect(error.message).to.contain('(HTTP 401): unauthorized');
          const later = await rejection(noKey.listBindings());
          expect(later).to.be.instanceOf(LollmsConnectionError);
          expect(later.message).to.contain('(HTTP 401): unauthorized');
          await withKey.connect();
          expect((await withKey.listBindings()).success).to.equal(true);
        } finally {
          await noKey.close();
          await withKey.close();
          await guarded.stop();
        }
      });
    }
  });
});

describe('typed client: correlation and timeouts against a scripted server', function () {
  this.timeout(20_000);
  let http: HttpServer;
  let io: SocketServer;
  let url: string;
  /** Whether the scripted server answers acknowledgements (lollms-host does; the original server did not). */
  let acks = true;

  before(async () => {
    http = createServer();
    io = new SocketServer(http);
    io.on('connection', (socket) => {
      socket.on('tokenize', (payload: { prompt: string }, ack?: (reply: unknown) => void) => {
        const prompt = payload.prompt;
        if (prompt === 'never') return; // a request the server never answers
        const reply = { tokens: [prompt.length] };
        const delay = prompt.startsWith('slow') ? Number(prompt.slice(4)) : 0;
        setTimeout(() => {
          socket.emit('tokenized', reply);
          if (acks) ack?.(reply);
        }, delay);
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  });
  after(async () => {
    await io.close();
  });

  it('a request the server never answers rejects with LollmsTimeoutError after timeoutMs', async () => {
    const c = clientOf(url, { timeoutMs: 5000 });
    try {
      await c.connect();
      const started = Date.now();
      const error = (await rejection(c.tokenize('never', { timeoutMs: 120 }))) as LollmsTimeoutError;
      expect(error).to.be.instanceOf(LollmsTimeoutError);
      expect(error).to.include({ event: 'tokenize', timeoutMs: 120 });
      expect(Date.now() - started).to.be.within(100, 2000);
      // The lane is free again.
      expect(await c.tokenize('ok')).to.deep.equal({ tokens: [2] });
    } finally {
      await c.close();
    }
  });

  it('with acks, a reply that arrives after its request timed out is not taken for the next request', async () => {
    acks = true;
    const c = clientOf(url);
    try {
      await c.connect();
      expect(await c.tokenize('warm')).to.deep.equal({ tokens: [4] }); // the client learns the server acks
      const late = rejection(c.tokenize('slow300', { timeoutMs: 100 })); // answered at 300 ms, after its timeout
      expect(await late).to.be.instanceOf(LollmsTimeoutError);
      // Sent at ~100 ms, answered at ~500 ms: the stale `tokenized` of slow300 arrives while it waits.
      expect(await c.tokenize('slow400')).to.deep.equal({ tokens: [7] });
    } finally {
      await c.close();
    }
  });

  it('without acks (the original server), replies are matched by event name, one request per lane at a time', async () => {
    acks = false;
    const c = clientOf(url);
    try {
      await c.connect();
      const replies = await Promise.all(['slow50', 'a', 'slow10', 'bcd'].map((p) => c.tokenize(p)));
      expect(replies.map((r) => r.tokens[0])).to.deep.equal([6, 1, 6, 3]);
    } finally {
      acks = true;
      await c.close();
    }
  });

  it('an abort while waiting for the lane never sends the request', async () => {
    const c = clientOf(url);
    const sent: unknown[] = [];
    try {
      await c.connect();
      c.socket.onAnyOutgoing((_event: string, body: unknown) => sent.push(body));
      const controller = new AbortController();
      const first = c.tokenize('slow100');
      const second = c.tokenize('queued', { signal: controller.signal });
      controller.abort();
      expect(await rejection(second)).to.be.instanceOf(CanceledError);
      expect(await first).to.deep.equal({ tokens: [7] });
      expect(sent).to.deep.equal([{ prompt: 'slow100' }]);
    } finally {
      await c.close();
    }
  });

  it('connect() to a closed port rejects with LollmsConnectionError', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const c = clientOf(`http://127.0.0.1:${port}`);
    try {
      const error = await rejection(c.connect());
      expect(error).to.be.instanceOf(LollmsConnectionError);
      expect(error.message).to.contain(`127.0.0.1:${port}`);
    } finally {
      await c.close();
    }
  });
});

describe('typed client: browser bundle', function () {
  this.timeout(120_000);
  const bundle = join(PACKAGE_ROOT, 'dist', 'client', 'browser.js');

  before(async () => {
    const mtime = (file: string) => stat(file).then((s) => s.mtimeMs, () => -1);
    const sources = (await readdir(join(PACKAGE_ROOT, 'client'))).filter((f) => f.endsWith('.ts')).map((f) => join(PACKAGE_ROOT, 'client', f));
    const newest = Math.max(...(await Promise.all(sources.map(mtime))));
    if ((await mtime(bundle)) < newest) {
      await promisify(execFile)('npm', ['run', 'build'], { cwd: PACKAGE_ROOT });
    }
  });

  it('exists, bundles socket.io-client and imports nothing (no node: modules)', async () => {
    const code = await readFile(bundle, 'utf8');
    expect(code).to.match(/class LollmsClient\b|LollmsClient = class\b/);
    expect(code).not.to.match(/\bfrom\s*["']/);
    expect(code).not.to.match(/\bimport\s*\(/);
    expect(code).not.to.match(/\brequire\s*\(/);
    expect(code).not.to.contain('node:');
    // No server code came in through the protocol types.
    expect(code).not.to.contain('REQUEST_SCHEMAS');
  });

  it('runs against a real host over websocket (Node has a global WebSocket, like a browser)', async () => {
    const mod = (await import(pathToFileURL(bundle).href)) as typeof import('lollms-host/client');
    const host = await startTestHost();
    const c = new mod.LollmsClient({ url: host.url, transports: ['websocket'], socketOptions: { reconnection: false } });
    try {
      await c.connect();
      const { tokens } = await c.tokenize('hello');
      expect(tokens).to.not.be.empty;
      const generation = c.generate('hello', { nPredicts: 4 });
      let joined = '';
      for await (const chunk of generation) joined += chunk;
      expect(joined).to.equal(await generation.text);
      expect(await rejection(c.selectModel('missing.gguf'))).to.be.instanceOf(mod.LollmsRequestError);
    } finally {
      await c.close();
      await host.stop();
    }
  });
});
