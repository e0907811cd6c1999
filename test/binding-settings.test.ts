import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { join } from 'node:path';
import YAML from 'yaml';
import { startTestHost, type TestHost } from '../core/testing.js';
import { bindingSettingsTemplate } from '../core/bindings/settings-template.js';
import { LollmsClient } from '../client/index.js';

const CARD = `name: echo
author: test
version: 1.0.0
description: answers with the settings it was loaded with
host_api: "^1.0.0"
settings:
  threshold: { type: int, value: 3, min: 0, max: 10, help: how many }
  mode: fast
`;

/** A binding whose model answers every prompt with the JSON of the settings its binding was loaded with. */
const ENTRY = `import { join } from 'node:path';
import { defineBinding, type LoadedModel, type ModelFile } from 'lollms-host/plugin-api';
export default defineBinding({
  async listModels(ctx): Promise<ModelFile[]> {
    return [{ name: 'm.gguf', path: join(ctx.modelsDir, 'm.gguf'), kind: 'file', size: 1 }];
  },
  async loadModel(ctx, request): Promise<LoadedModel> {
    const text = JSON.stringify(ctx.settings);
    return {
      name: request.model,
      contextSize: request.contextSize,
      async generate() { return { text, stopReason: 'eos', timings: { prompt_eval_count: 1, prompt_eval_duration: 0, eval_count: 1, eval_duration: 0 } }; },
      async dispose() {},
    };
  },
});
`;

const GUARDED_CARD = `name: guarded
author: test
version: 1.0.0
description: a binding with an operator-only setting
host_api: "^1.0.0"
settings:
  source_url: { type: str, value: "", operator_only: true }
  batch: 4
`;

describe('binding settings over the socket (issue 13)', function () {
  this.timeout(60_000);
  let dir: string;
  let host: TestHost;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-binding-settings-'));
    await mkdir(join(dir, 'bindings', 'echo'), { recursive: true });
    await writeFile(join(dir, 'bindings', 'echo', 'binding_card.yaml'), CARD);
    await writeFile(join(dir, 'bindings', 'echo', 'models.yaml'), '[]\n');
    await writeFile(join(dir, 'bindings', 'echo', 'index.ts'), ENTRY);
    // A second binding (not active) with an operator-only setting, as a binding that fetches URLs would have.
    await mkdir(join(dir, 'bindings', 'guarded'), { recursive: true });
    await writeFile(join(dir, 'bindings', 'guarded', 'binding_card.yaml'), GUARDED_CARD);
    await writeFile(join(dir, 'bindings', 'guarded', 'models.yaml'), '[]\n');
    await writeFile(join(dir, 'bindings', 'guarded', 'index.ts'), ENTRY);
    await mkdir(join(dir, 'data', 'settings', 'bindings'), { recursive: true });
    await writeFile(join(dir, 'data', 'settings', 'bindings', 'guarded.yaml'), 'source_url: http://10.0.0.9:8000/v1\n');
    host = await startTestHost({ bindingsPaths: [join(dir, 'bindings')], binding: 'echo', model: 'm.gguf', dataDir: join(dir, 'data') });
  });
  after(async () => {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What the loaded model was given as ctx.settings. */
  const loadedWith = async () => JSON.parse((await host.generate('x')).text) as Record<string, unknown>;

  it('the template is the card’s: full entries as they are, bare defaults typed by their value', () => {
    expect(bindingSettingsTemplate(YAML.parse(CARD) as Record<string, unknown>)).to.deep.equal({
      threshold: { type: 'int', value: 3, min: 0, max: 10, help: 'how many' },
      mode: { type: 'str', value: 'fast' },
    });
    expect(bindingSettingsTemplate({ settings: { a: 1.5, b: true, c: [1], d: null, e: { x: 1 } } })).to.deep.equal({
      a: { type: 'float', value: 1.5 },
      b: { type: 'bool', value: true },
      c: { type: 'list', value: [1] },
    });
  });

  it('get_binding_settings answers the active binding’s values and template', async () => {
    expect(await host.request('get_binding_settings', {})).to.deep.equal({
      success: true,
      name: 'echo',
      settings: { threshold: 3, mode: 'fast' },
      template: { threshold: { type: 'int', value: 3, min: 0, max: 10, help: 'how many' }, mode: { type: 'str', value: 'fast' } },
    });
    expect(await loadedWith()).to.deep.equal({ threshold: 3, mode: 'fast' });
  });

  it('set_binding_settings validates, saves atomically and loads the active binding again with the new values', async () => {
    const reply = await host.request('set_binding_settings', { settings: { threshold: 7 } });
    expect(reply).to.deep.include({ success: true, name: 'echo', settings: { threshold: 7, mode: 'fast' }, applied: true });
    expect(YAML.parse(await readFile(join(dir, 'data', 'settings', 'bindings', 'echo.yaml'), 'utf8'))).to.deep.equal({ threshold: 7 });
    expect(await loadedWith()).to.deep.equal({ threshold: 7, mode: 'fast' });
  });

  it('refuses a value out of the template (and an unknown name) with a clear error, changing nothing', async () => {
    const tooBig = (await host.request('set_binding_settings', { settings: { threshold: 50 } })) as { success: boolean; error: string; name: string };
    expect(tooBig.success).to.equal(false);
    expect(tooBig.error).to.contain('threshold');
    const unknown = (await host.request('set_binding_settings', { name: 'echo', settings: { treshold: 1 } })) as { success: boolean; error: string };
    expect(unknown.success).to.equal(false);
    expect(unknown.error).to.contain('treshold');
    const notAnObject = (await host.request('set_binding_settings', { settings: 'threshold=1' })) as { success: boolean };
    expect(notAnObject.success).to.equal(false);
    expect(await loadedWith()).to.deep.equal({ threshold: 7, mode: 'fast' });
  });

  it('reads and writes a binding that is not active, by name, without loading it (applied: false)', async () => {
    const got = (await host.request('get_binding_settings', { name: 'llama_cpp' })) as { success: boolean; settings: Record<string, unknown> };
    expect(got).to.deep.include({ success: true, name: 'llama_cpp' });
    expect(got.settings).to.have.property('gpu_layers');
    const set = await host.request('set_binding_settings', { name: 'llama_cpp', settings: { gpu_layers: 'max' } });
    expect(set).to.deep.include({ success: true, name: 'llama_cpp', applied: false });
    expect((await host.request('get_binding_settings', { name: 'llama_cpp' })) as object).to.have.nested.property('settings.gpu_layers', 'max');
  });

  it('an operator_only setting is neither shown to clients nor set by them (LH_ERR_SETTING_OPERATOR_ONLY); a client write of the others keeps the operator\'s value', async () => {
    const file = join(dir, 'data', 'settings', 'bindings', 'guarded.yaml');
    expect(await host.request('get_binding_settings', { name: 'guarded' })).to.deep.equal({ success: true, name: 'guarded', settings: { batch: 4 }, template: { batch: { type: 'int', value: 4 } } });
    const refused = (await host.request('set_binding_settings', { name: 'guarded', settings: { batch: 8, source_url: 'http://169.254.169.254/' } })) as { success: boolean; error: string };
    expect(refused.success).to.equal(false);
    expect(refused.error).to.contain('"source_url"').and.contain('operator');
    expect(YAML.parse(await readFile(file, 'utf8'))).to.deep.equal({ source_url: 'http://10.0.0.9:8000/v1' });
    const set = await host.request('set_binding_settings', { name: 'guarded', settings: { batch: 8 } });
    expect(set).to.deep.include({ success: true, name: 'guarded', settings: { batch: 8 }, applied: false });
    expect(JSON.stringify(set)).to.not.contain('10.0.0.9');
    expect(YAML.parse(await readFile(file, 'utf8'))).to.deep.equal({ source_url: 'http://10.0.0.9:8000/v1', batch: 8 });
  });

  it('the client library has both requests', async () => {
    const client = new LollmsClient({ url: host.url, transports: ['websocket'] });
    try {
      expect((await client.getBindingSettings()).settings).to.deep.equal({ threshold: 7, mode: 'fast' });
      expect(await client.setBindingSettings({ mode: 'slow' }, 'echo')).to.deep.include({ name: 'echo', settings: { threshold: 7, mode: 'slow' }, applied: true });
      const refused = await client.setBindingSettings({ threshold: -1 }).then(() => undefined, (error: Error) => error);
      expect(refused?.message).to.contain('threshold');
      expect(await loadedWith()).to.deep.equal({ threshold: 7, mode: 'slow' });
    } finally {
      await client.close();
    }
  });

  it('an unknown binding is a failure naming it', async () => {
    const reply = (await host.request('get_binding_settings', { name: 'nope' })) as { success: boolean; error: string; name: string };
    expect(reply).to.deep.include({ success: false, name: 'nope' });
    expect(reply.error).to.contain('nope');
  });

  describe('a settings file edited by hand', () => {
    let watched: TestHost;
    before(async () => {
      watched = await startTestHost({ bindingsPaths: [join(dir, 'bindings')], binding: 'echo', model: 'm.gguf', dataDir: join(dir, 'watched'), watch: true });
    });
    after(() => watched?.close());
    const settingsOf = async () => JSON.parse((await watched.generate('x')).text) as Record<string, unknown>;

    it('is picked up without a restart while the host watches (a bad value is reset to the default, with a warning)', async () => {
      expect(await settingsOf()).to.deep.equal({ threshold: 3, mode: 'fast' });
      const file = join(dir, 'watched', 'settings', 'bindings', 'echo.yaml');
      let applied = once(watched.host.events, 'binding-settings');
      await writeFile(file, 'threshold: 9\n');
      expect(await applied).to.deep.equal(['echo']);
      expect(await settingsOf()).to.deep.equal({ threshold: 9, mode: 'fast' });
      applied = once(watched.host.events, 'binding-settings');
      await writeFile(file, 'threshold: 99\nmode: slow\n');
      await applied;
      expect(await settingsOf()).to.deep.equal({ threshold: 3, mode: 'slow' });
    });
  });
});
