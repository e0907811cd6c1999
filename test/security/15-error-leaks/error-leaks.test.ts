/**
 * Class 15: what errors tell a client (issue 11 §2, §6). Every event and HTTP route is driven into its error
 * paths (bad payloads, unknown names, paths that leave their roots, a corrupt model whose first bytes are a
 * secret, `.reference` files pointing at files that are not models) and every reply is swept: no absolute
 * server path, no byte of a file the client had no business reading, and no echoed field or error text
 * beyond its bound (a 60 MiB model name used to come back twice).
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_ECHO_CHARS } from '../../../core/protocol/limits.js';
import { MAX_CLIENT_ERROR_CHARS } from '../../../core/protocol/client-error.js';
import { PACKAGE_ROOT } from '../../../core/util/package-root.js';
import { startTestHost, type TestHost, type TestSocket } from '../../helpers/host.js';
import { record } from '../helpers.js';

/** A secret whose first bytes are unlikely anywhere else: any 4-byte window of it in a reply is a leak. */
const SECRET = `QZXJ${randomBytes(12).toString('hex')}`;

/** An absolute path where a path can start (after a space, a quote, a bracket, `=` or at the start). */
const ABSOLUTE_PATH = /(^|[\s"'`([{=,;])\/(?:[^\s"'`()[\]{},;/]+\/)+[^\s"'`()[\]{},;]*/;

/** Every string inside a value. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

describe('security 15: no paths, file bytes or unbounded echoes in errors', function () {
  this.timeout(120_000);
  let host: TestHost;
  let socket: TestSocket;
  let outside: string;

  before(async () => {
    outside = await mkdtemp(join(tmpdir(), 'lh-leak-'));
    await writeFile(join(outside, 'secret.txt'), SECRET);
    await writeFile(join(outside, 'secret.gguf'), SECRET);
    host = await startTestHost();
    const models = host.host.bindings.modelsDir();
    // A corrupt model whose first bytes are the secret (the GGUF parser quotes the magic it found).
    await writeFile(join(models, 'corrupt.gguf'), `${SECRET}${'\0'.repeat(4096)}`);
    // .reference files as an operator might have left them: to a text file, to a missing file, to a non-GGUF .gguf.
    await writeFile(join(models, 'to-text.reference'), join(outside, 'secret.txt'));
    await writeFile(join(models, 'to-missing.reference'), join(outside, 'missing.gguf'));
    await writeFile(join(models, 'to-secret.reference'), join(outside, 'secret.gguf'));
    socket = await host.connect();
  });
  after(async () => {
    await host?.stop();
    await rm(outside, { recursive: true, force: true });
  });

  /** Whether `text` carries a server path or a window of the secret; the reason, or undefined. */
  function leak(text: string): string | undefined {
    for (const root of [host.dataDir, outside, PACKAGE_ROOT.replace(/\/$/, ''), homedir(), tmpdir()]) {
      if (root.length > 1 && text.includes(root)) return `names ${root}`;
    }
    if (ABSOLUTE_PATH.test(text)) return `has an absolute path: ${ABSOLUTE_PATH.exec(text)?.[0]}`;
    for (let i = 0; i + 4 <= SECRET.length; i++) if (text.includes(SECRET.slice(i, i + 4))) return `quotes the secret file (${SECRET.slice(i, i + 4)})`;
    return undefined;
  }

  it('every socket event, driven into its errors, answers without paths or file bytes', async () => {
    const events = record(socket);
    const long = 'm'.repeat(3000);
    const attempts: Array<[string, unknown]> = [
      ['select_binding', { binding_name: '../../etc' }],
      ['select_binding', { binding_name: 'nope' }],
      ['select_binding', { binding_name: 7 }],
      ...['nope.gguf', '../../../etc/passwd', '/etc/passwd', 'corrupt.gguf', 'to-text.reference', 'to-missing.reference', 'to-secret.reference', long, `${long}.reference`].map(
        (model_name) => ['select_model', { model_name }] as [string, unknown],
      ),
      ['select_model', { model_name: 'x'.repeat(60_000) }],
      ...['../../etc', '/etc', 'nope/nope/nope', '..', 'english/../../..', `${outside}/x`].map((path) => ['add_personality', { path }] as [string, unknown]),
      ['list_available_personalities_categories', { language: '../..' }],
      ['list_available_personalities_names', { category: '../../etc' }],
      ['get_personality_settings', { id: 99 }],
      ['set_personality_settings', { id: 0, settings: { x: 1 } }],
      ['activate_personality', { id: 99 }],
      ['tokenize', { prompt: 5 }],
      ['detokenize', { prompt: [-1] }],
      ['embed', {}],
      ['generate_text', { prompt: 'x', personality: 99 }],
      ['generate_text', { prompt: 'x', n_predicts: 'many' }],
      ['install_model', { filename: 'nope.gguf' }],
      ['install_model', { url: 'file:///etc/passwd' }],
      ['install_model', { url: 'http://127.0.0.1:1/x.gguf' }],
      ['install_model', { url: 'http://127.0.0.1:1/x.gguf', filename: '../../etc/x' }],
      ['cancel_install', {}],
    ];
    for (const [event, payload] of attempts) {
      const before = events.events.length;
      const answered = new Promise<void>((resolve) => {
        const done = () => {
          socket.offAny(done);
          resolve();
        };
        socket.onAny(done);
      });
      (socket.emit as (e: string, p: unknown) => void)(event, payload);
      await answered;
      // Streams (model_loading_progress) may come first: wait for the final reply of this request.
      for (let i = 0; i < 50 && !events.events.slice(before).some(([e]) => !['model_loading_progress', 'install_progress', 'text_chunk'].includes(e)); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const seen = events.stop();
    expect(seen.length).to.be.at.least(attempts.length);
    // A reply may name what it answers: the client's own value, echoed (bounded), is not a leak.
    const sent = new Set(strings(attempts.map(([, p]) => p)));
    const isEcho = (text: string) => sent.has(text) || (text.endsWith('…') && [...sent].some((v) => v.startsWith(text.slice(0, -1))));
    for (const [event, payload] of seen) {
      for (const text of strings(payload)) {
        if (isEcho(text)) continue;
        const problem = leak(text);
        expect(problem, `${event}: ${text.slice(0, 300)}`).to.equal(undefined);
        expect(text.length, `${event} carries a string of ${text.length} characters`).to.be.at.most(MAX_CLIENT_ERROR_CHARS + 1);
      }
    }
    // The echoed model names are bounded, success or not.
    for (const [event, payload] of seen.filter(([e]) => e === 'select_model')) {
      expect((payload as { model_name: string }).model_name.length, event).to.be.at.most(MAX_ECHO_CHARS + 1);
    }
    // The errors still say what was wrong.
    const texts = seen.map(([, p]) => JSON.stringify(p)).join('\n');
    expect(texts).to.contain('corrupt.gguf is not a valid GGUF file');
    expect(texts).to.contain('unknown model');
  });

  it('a .reference only counts when it names a .gguf file, and then reveals neither its path nor its bytes', async () => {
    const names = (await host.host.bindings.listModels()).map((m) => m.name);
    expect(names).not.to.include('to-text.reference');
    expect(names).to.include('to-secret.reference');
    expect(host.host.bindings.model?.name).to.equal('tiny-random-llama.gguf');
  });

  it('HTTP error bodies carry no paths or file bytes either', async () => {
    const json = { 'content-type': 'application/json' };
    const responses = await Promise.all([
      fetch(`${host.url}/nope/deeper/still`),
      fetch(`${host.url}/personalities/..%2F..%2Fetc/assets/passwd`),
      fetch(`${host.url}/personalities/english/generic/lollms/assets/${'..%2F'.repeat(8)}etc%2Fpasswd`),
      fetch(`${host.url}/update_setting`, { method: 'POST', headers: json, body: '{nope' }),
      fetch(`${host.url}/update_setting`, { method: 'POST', headers: json, body: JSON.stringify({ setting_name: 'model_name', setting_value: 'corrupt.gguf' }) }),
      fetch(`${host.url}/update_setting`, { method: 'POST', headers: json, body: JSON.stringify({ setting_name: 'model_name', setting_value: '../../../etc/passwd' }) }),
      fetch(`${host.url}/update_setting`, { method: 'POST', headers: json, body: JSON.stringify({ setting_name: 'binding_name', setting_value: `${outside}/x` }) }),
    ]);
    for (const res of responses) {
      expect(res.status).to.be.within(400, 499);
      const body = await res.text();
      expect(leak(body), `${res.url}: ${body}`).to.equal(undefined);
    }
  });
});
