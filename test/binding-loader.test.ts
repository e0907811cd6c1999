import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as hostApi from '../plugin-api/index.js';
import type { BindingContext } from '../plugin-api/index.js';
import { discoverBindings } from '../core/plugins/discovery.js';
import { readBindingManifest } from '../core/plugins/manifest.js';
import { checkApiRange } from '../core/plugins/api-range.js';
import { compileBinding, hostPluginApiUrl } from '../core/plugins/compile-binding.js';
import { loadBindingPlugin } from '../core/plugins/load-binding.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Write `files` (path relative to `folder` → content) and return the folder. */
async function writeTree(folder: string, files: Record<string, string>): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(folder, path)), { recursive: true });
    await writeFile(join(folder, path), content);
  }
  return folder;
}

const CARD = 'name: {NAME}\nauthor: test\nversion: 0.3.1\nhost_api: "^1.0.0"\ndescription: a fixture binding\n';
const MODELS = '- filename: tiny.gguf\n  server: https://example.com/models/\n  sha256: ""\n';

/** A minimal valid binding module. */
const GOOD_ENTRY = `import { defineBinding } from 'lollms-host/plugin-api';
export default defineBinding({
  async listModels() { return []; },
  async loadModel() { throw new Error('no models here'); },
});
`;

function binding(name: string, entry = GOOD_ENTRY, card = CARD.replace('{NAME}', name)): Record<string, string> {
  return { 'binding_card.yaml': card, 'models.yaml': MODELS, 'index.ts': entry };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; file?: string; line?: number; column?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; file?: string; line?: number; column?: number };
  }
  throw new Error('expected a rejection');
}

function collectLogger() {
  const lines: { level: string; msg: string | undefined }[] = [];
  return {
    lines,
    warn: (_obj: unknown, msg?: string) => void lines.push({ level: 'warn', msg }),
    debug: (_obj: unknown, msg?: string) => void lines.push({ level: 'debug', msg }),
  };
}

describe('binding plugin loader', function () {
  let dir: string;
  let bindings: string;
  let cacheDir: string;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'lollms-loader-'));
    bindings = join(dir, 'bindings');
    cacheDir = join(dir, 'cache');
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe('discovery', function () {
    it('finds folders with both YAML files and skips the rest silently', async function () {
      const zoo = join(dir, 'zoo');
      await writeTree(join(zoo, 'alpha'), binding('alpha'));
      await writeTree(join(zoo, 'beta'), binding('beta'));
      await writeTree(join(zoo, '.git'), { HEAD: 'ref: refs/heads/main\n', 'config': '[core]\n' });
      await writeTree(join(zoo, '.vscode'), { 'settings.json': '{}' });
      await writeTree(join(zoo, 'half'), { 'binding_card.yaml': 'name: half\n' });
      await writeFile(join(zoo, 'README.md'), '# zoo\n');
      const found = await discoverBindings([zoo, join(dir, 'does-not-exist')]);
      expect(found.map((f) => f.name)).to.deep.equal(['alpha', 'beta']);
      expect(found[0]).to.deep.equal({ name: 'alpha', folder: join(zoo, 'alpha'), root: zoo, shadowed: [] });
    });

    it('lets the later path win for a folder name found twice', async function () {
      const first = join(dir, 'first');
      const second = join(dir, 'second');
      await writeTree(join(first, 'same'), binding('same'));
      await writeTree(join(second, 'same'), binding('same'));
      const found = await discoverBindings([first, second]);
      expect(found).to.deep.equal([{ name: 'same', folder: join(second, 'same'), root: second, shadowed: [join(first, 'same')] }]);
    });
  });

  describe('manifest and API range', function () {
    it('reads the card verbatim, the models list, host_api and entry', async function () {
      const folder = await writeTree(join(bindings, 'manifest_ok'), {
        ...binding('manifest_ok'),
        'binding_card.yaml': 'name: manifest_ok\nhost_api: ">=1.0.0 <3"\nentry: src/main.ts\nsettings:\n  threads: 2\n',
      });
      const manifest = await readBindingManifest(folder);
      expect(manifest).to.deep.equal({
        name: 'manifest_ok',
        folder,
        card: { name: 'manifest_ok', host_api: '>=1.0.0 <3', entry: 'src/main.ts', settings: { threads: 2 } },
        models: [{ filename: 'tiny.gguf', server: 'https://example.com/models/', sha256: '' }],
        hostApi: '>=1.0.0 <3',
        hostApiDeclared: true,
        entry: join('src', 'main.ts'),
      });
    });

    it('refuses broken YAML with the folder, file and line', async function () {
      const folder = await writeTree(join(bindings, 'broken_yaml'), {
        ...binding('broken_yaml'),
        'binding_card.yaml': 'name: broken_yaml\nauthor: me\ndescription: [unclosed\nversion: 1\n',
      });
      const error = await rejection(loadBindingPlugin(folder, { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_MANIFEST');
      expect(error.file).to.equal(join(folder, 'binding_card.yaml'));
      expect(error.line).to.be.a('number').within(3, 5);
      expect(error.message).to.include(folder).and.include(`binding_card.yaml:${error.line}`);

      const models = await writeTree(join(bindings, 'broken_models'), { ...binding('broken_models'), 'models.yaml': '- filename: a.gguf\n  server: x\n - bad indent\n' });
      const error2 = await rejection(readBindingManifest(models));
      expect(error2.code).to.equal('LH_ERR_PLUGIN_MANIFEST');
      expect(error2.file).to.equal(join(models, 'models.yaml'));
      expect(error2.line).to.equal(3);
    });

    it('refuses a models.yaml that is not a list and an entry outside the folder', async function () {
      const notList = await writeTree(join(bindings, 'not_list'), { ...binding('not_list'), 'models.yaml': 'filename: a.gguf\n' });
      expect((await rejection(readBindingManifest(notList))).code).to.equal('LH_ERR_PLUGIN_MANIFEST');
      const escape = await writeTree(join(bindings, 'entry_escape'), { ...binding('entry_escape'), 'binding_card.yaml': 'entry: ../evil.ts\n' });
      const error = await rejection(readBindingManifest(escape));
      expect(error.code).to.equal('LH_ERR_PLUGIN_MANIFEST');
      expect(error.message).to.include(escape);
    });

    it('refuses an API range the host does not satisfy, naming folder, range and host version', async function () {
      const folder = await writeTree(join(bindings, 'api_mismatch'), binding('api_mismatch', GOOD_ENTRY, 'name: x\nhost_api: "^2.0.0"\n'));
      const error = await rejection(loadBindingPlugin(folder, { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_API_MISMATCH');
      expect(error.message).to.include(folder).and.include('^2.0.0').and.include(hostApi.PLUGIN_API_VERSION);

      const invalid = await writeTree(join(bindings, 'api_invalid'), binding('api_invalid', GOOD_ENTRY, 'host_api: "banana"\n'));
      const error2 = await rejection(loadBindingPlugin(invalid, { cacheDir }));
      expect(error2.code).to.equal('LH_ERR_PLUGIN_MANIFEST');
      expect(error2.message).to.include('banana').and.include(invalid);

      expect(() => checkApiRange('^1.0.0', { folder: 'f', hostVersion: '1.4.0-beta.1' })).not.to.throw();
      expect(() => checkApiRange('~1.0.0', { folder: 'f', hostVersion: '1.1.0' })).to.throw().with.property('code', 'LH_ERR_PLUGIN_API_MISMATCH');
    });

    it('treats a missing host_api as ^1.0.0, with a warning', async function () {
      const folder = await writeTree(join(bindings, 'no_host_api'), binding('no_host_api', GOOD_ENTRY, 'name: no_host_api\n'));
      const logger = collectLogger();
      const plugin = await loadBindingPlugin(folder, { cacheDir, logger });
      expect(plugin.hostApi).to.equal('^1.0.0');
      expect(plugin.version).to.equal('');
      expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).to.deep.equal(['binding no_host_api declares no host_api; assuming "^1.0.0"']);
    });
  });

  describe('compile and import', function () {
    it('loads a good binding that shares the host plugin-api and node-llama-cpp instances', async function () {
      const folder = await writeTree(join(bindings, 'good'), {
        ...binding('good', `import * as api from 'lollms-host/plugin-api';
import { defineBinding, type LoadedModel, type ModelFile } from 'lollms-host/plugin-api';
import { getLlama } from 'node-llama-cpp';
import { join } from 'node:path';
import fs from 'fs';
import { shout } from './lib/helper.ts';
import pad from 'tiny-pad';

/** Module-level references, compared with the host's by the test. */
export const shared = { api, getLlama, existsSync: fs.existsSync };

export default defineBinding({
  async listModels(ctx): Promise<ModelFile[]> {
    return [{ name: shout(pad('tiny.gguf')), path: join(ctx.modelsDir, 'tiny.gguf'), kind: 'file', size: 1 }];
  },
  async loadModel(_ctx, request): Promise<LoadedModel> {
    return {
      name: request.model,
      contextSize: request.contextSize,
      async generate(prompt) { return { text: prompt + '!', stopReason: 'eos', timings: { prompt_eval_count: 1, prompt_eval_duration: 0, eval_count: 1, eval_duration: 0 } }; },
      async tokenize(text) { return [...text].map((c) => c.charCodeAt(0)); },
      async detokenize(tokens) { return String.fromCharCode(...tokens); },
      async dispose() {},
    };
  },
});
`),
        'lib/helper.ts': 'export function shout(text: string): string { return text.toUpperCase(); }\n',
        'node_modules/tiny-pad/package.json': '{ "name": "tiny-pad", "version": "1.0.0", "main": "index.js" }\n',
        'node_modules/tiny-pad/index.js': 'module.exports = function pad(s) { return "<" + s + ">"; };\n',
      });
      const plugin = await loadBindingPlugin(folder, { cacheDir });
      expect(plugin).to.include({ name: 'good', folder, hostApi: '^1.0.0', version: '0.3.1' });
      expect(plugin.card).to.include({ name: 'good', author: 'test' });
      expect(plugin.models).to.have.length(1);
      expect(hostApi.isBinding(plugin.binding)).to.equal(true);
      expect(plugin.moduleUrl).to.match(/^file:\/\/.*\/cache\/good-[0-9a-f]{16}\.mjs$/);

      const ctx = { modelsDir: '/models/good' } as BindingContext;
      expect(await plugin.binding.listModels(ctx)).to.deep.equal([{ name: '<TINY.GGUF>', path: '/models/good/tiny.gguf', kind: 'file', size: 1 }]);
      const model = await plugin.binding.loadModel(ctx, { model: 'x', contextSize: 64, sequences: 1, threads: 1 });
      expect((await model.generate('hi')).text).to.equal('hi!');
      expect(await model.detokenize!(await model.tokenize!('abc'))).to.equal('abc');

      // Same module instances as the host, not bundled copies.
      const mod = (await import(plugin.moduleUrl)) as { shared: { api: typeof hostApi; getLlama: unknown; existsSync: unknown } };
      expect(mod.shared.api.defineBinding).to.equal(hostApi.defineBinding);
      expect(mod.shared.api.MSG_TYPE).to.equal(hostApi.MSG_TYPE);
      const llama = await import('node-llama-cpp');
      expect(mod.shared.getLlama).to.equal(llama.getLlama);
      const fs = await import('node:fs');
      expect(mod.shared.existsSync).to.equal(fs.existsSync);
    });

    it('points lollms-host/plugin-api at the module the host runs', function () {
      // Under tsx the host runs plugin-api/index.ts; from dist/ it is plugin-api/index.js (tested below).
      expect(hostPluginApiUrl()).to.equal(new URL('../plugin-api/index.ts', import.meta.url).href);
    });

    it('reports a compile error with file, line and column', async function () {
      const folder = await writeTree(join(bindings, 'compile_error'), binding('compile_error', `import { defineBinding } from 'lollms-host/plugin-api';

// the next line is broken
const broken = ;
export default defineBinding({ async listModels() { return []; }, async loadModel() { throw new Error(); } });
`));
      const error = await rejection(loadBindingPlugin(folder, { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
      expect(error).to.include({ file: join(folder, 'index.ts'), line: 4, column: 16 });
      expect(error.message).to.include(folder).and.include('index.ts:4:16: Unexpected ";"');
    });

    it('refuses bare imports that are not builtins, the host contract or the plugin\'s own packages', async function () {
      const folder = await writeTree(join(bindings, 'missing_dep'), binding('missing_dep', `import { defineBinding } from 'lollms-host/plugin-api';
import leftPad from 'left-pad-nowhere';
export default defineBinding({ async listModels() { return [leftPad]; }, async loadModel() { throw new Error(); } } as never);
`));
      const error = await rejection(compileBinding(folder, 'index.ts', { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
      expect(error).to.include({ file: join(folder, 'index.ts'), line: 2 });
      expect(error.message).to.include('left-pad-nowhere');
    });

    it('does not let a plugin inside the host tree bundle the host\'s private dependencies', async function () {
      // Under the repository, esbuild's own lookup would find the host's node_modules (here: chai).
      const scratch = join(ROOT, '.lollms-host-test');
      await mkdir(scratch, { recursive: true });
      const inside = await mkdtemp(join(scratch, 'loader-'));
      try {
        const folder = await writeTree(join(inside, 'uses_chai'), binding('uses_chai', `import { defineBinding } from 'lollms-host/plugin-api';
import { expect } from 'chai';
export default defineBinding({ async listModels() { expect(1).to.equal(1); return []; }, async loadModel() { throw new Error(); } });
`));
        const error = await rejection(compileBinding(folder, 'index.ts', { cacheDir }));
        expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
        expect(error.message).to.include('"chai"');
        expect(error.line).to.equal(2);
      } finally {
        await rm(inside, { recursive: true, force: true });
      }
    });

    it('refuses a default export that is not a binding', async function () {
      const folder = await writeTree(join(bindings, 'not_binding'), binding('not_binding', `export default { async listModels() { return []; }, async loadModel() {} };\n`));
      const error = await rejection(loadBindingPlugin(folder, { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_NOT_A_BINDING');
      expect(error.message).to.include(folder);
    });

    it('reports a module that throws on import', async function () {
      const folder = await writeTree(join(bindings, 'throws'), binding('throws', `import { defineBinding } from 'lollms-host/plugin-api';
throw new Error('boom at import');
export default defineBinding({ async listModels() { return []; }, async loadModel() { throw new Error(); } });
`));
      const error = await rejection(loadBindingPlugin(folder, { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_IMPORT');
      expect(error.message).to.include(folder).and.include('boom at import');
      expect((error.cause as Error).message).to.equal('boom at import');
    });

    it('reports a missing entry as a compile error', async function () {
      const folder = await writeTree(join(bindings, 'no_entry'), { 'binding_card.yaml': 'entry: main.ts\n', 'models.yaml': '[]\n' });
      const error = await rejection(loadBindingPlugin(folder, { cacheDir }));
      expect(error.code).to.equal('LH_ERR_PLUGIN_COMPILE');
      expect(error.message).to.include(folder).and.include('main.ts');
    });

    it('gives a changed plugin a new module URL (hot reload) and prunes the old build', async function () {
      const entry = (n: number) => `import { defineBinding } from 'lollms-host/plugin-api';
export default defineBinding({ async listModels() { return [{ name: 'v${n}', path: '/x', kind: 'file', size: 0 }]; }, async loadModel() { throw new Error(); } });
`;
      const folder = await writeTree(join(bindings, 'reload'), binding('reload', entry(1)));
      const first = await loadBindingPlugin(folder, { cacheDir });
      await writeFile(join(folder, 'index.ts'), entry(2));
      const second = await loadBindingPlugin(folder, { cacheDir });
      expect(second.moduleUrl).not.to.equal(first.moduleUrl);
      expect((await second.binding.listModels({} as BindingContext))[0]?.name).to.equal('v2');
      expect((await first.binding.listModels({} as BindingContext))[0]?.name).to.equal('v1');
      expect((await readdir(cacheDir)).filter((f) => f.startsWith('reload-'))).to.deep.equal([fileURLToPath(second.moduleUrl).split('/').pop()]);
    });

    it('works from the esbuild-built dist/ (plugin-api resolved to dist/plugin-api/index.js)', async function () {
      const distLoader = join(ROOT, 'dist/core/plugins/load-binding.js');
      const sources = ['load-binding', 'compile-binding', 'manifest', 'api-range'].map((f) => join(ROOT, 'core/plugins', `${f}.ts`));
      if (!existsSync(distLoader)) this.skip(); // `npm test` builds dist/ first
      const built = (await stat(distLoader)).mtimeMs;
      for (const source of sources) if ((await stat(source)).mtimeMs > built) this.skip(); // stale build
      const folder = await writeTree(join(bindings, 'from_dist'), binding('from_dist', `import * as api from 'lollms-host/plugin-api';
export const shared = { api };
export default api.defineBinding({ async listModels() { return []; }, async loadModel() { throw new Error(); } });
`));
      const script = `
        const { loadBindingPlugin } = await import(${JSON.stringify(distLoader)});
        const api = await import(${JSON.stringify(join(ROOT, 'dist/plugin-api/index.js'))});
        const plugin = await loadBindingPlugin(${JSON.stringify(folder)}, { cacheDir: ${JSON.stringify(join(dir, 'dist-cache'))} });
        const mod = await import(plugin.moduleUrl);
        const fs = await import('node:fs');
        const source = fs.readFileSync(new URL(plugin.moduleUrl), 'utf8');
        console.log(JSON.stringify({ same: mod.shared.api.defineBinding === api.defineBinding, isBinding: api.isBinding(plugin.binding),
          apiUrl: /from "(file:[^"]*plugin-api[^"]*)"/.exec(source)?.[1] }));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--no-node-snapshot', '--input-type=module', '-e', script], { cwd: ROOT });
      expect(JSON.parse(stdout)).to.deep.equal({ same: true, isBinding: true, apiUrl: new URL('../dist/plugin-api/index.js', import.meta.url).href });
    });
  });

  describe('built-in plugins/llama_cpp', function () {
    it('loads plugins/llama_cpp as a binding', async function () {
      const folder = join(ROOT, 'plugins', 'llama_cpp');
      if (!existsSync(join(folder, 'binding_card.yaml'))) this.skip(); // not written yet
      const found = await discoverBindings([join(ROOT, 'plugins')]);
      expect(found.map((f) => f.name)).to.include('llama_cpp');
      const plugin = await loadBindingPlugin(folder, { cacheDir });
      expect(plugin.name).to.equal('llama_cpp');
      expect(hostApi.isBinding(plugin.binding)).to.equal(true);
      expect(plugin.models).to.be.an('array');
    });
  });
});
