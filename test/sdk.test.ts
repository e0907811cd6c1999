import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { main } from '../core/cli.js';
import { renderTemplate } from '../core/sdk/new.js';
import { startTestHost, TEST_MODEL_NAME, tinyTestModel, type TestHost } from '../core/testing.js';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { resolveTsc } from '../core/plugins/typecheck.js';
import type { PluginErrorEvent } from '../core/protocol/index.js';

/** Run the CLI in-process (the same `main` the bin runs), capturing its output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, { stdout, stderr });
  return { code, stdout: out, stderr: err };
}

/** The tsx loader of this repository, for running TypeScript tests in a folder that has no tsx. */
const TSX_LOADER = pathToFileURL(createRequire(join(PACKAGE_ROOT, 'package.json')).resolve('tsx')).href;

/**
 * Run a generated test file as its author would: `node --test`, from the project folder, with lollms-host
 * resolved through the project's node_modules (here a symlink to this repository, in its sources).
 */
function runOwnTest(cwd: string, file: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LOLLMS_HOST_') && key !== 'NODE_OPTIONS') env[key] = value;
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', '--conditions=lollms-host-source', '--import', TSX_LOADER, '--enable-source-maps', '--test', '--test-reporter=spec', file],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolveRun) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, output });
    });
  });
}

/** Run the tsc lollms-host depends on in `folder` (its tsconfig.json), as an author would run `npx tsc`. */
function runTsc(folder: string): Promise<{ code: number | null; output: string }> {
  const tsc = resolveTsc();
  if (!tsc) throw new Error('typescript is not installed');
  const child = spawn(process.execPath, [tsc, '--pretty', 'false'], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolveRun) => child.on('close', (code) => resolveRun({ code, output })));
}

/** Poll `probe` until it is true; resolves with the ms it took, or rejects after `limitMs`. */
async function within(limitMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`not true within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

describe('lollms-host new and lollms-host/testing', function () {
  this.timeout(120_000);
  /** A plugin author's project: package.json, node_modules/lollms-host, personalities/ and bindings/. */
  let project: string;
  let zoo: string;
  let bindings: string;
  let host: TestHost;
  const pluginErrors: PluginErrorEvent[] = [];

  before(async () => {
    project = await mkdtemp(join(tmpdir(), 'lollms-sdk-'));
    zoo = join(project, 'personalities');
    bindings = join(project, 'bindings');
    await mkdir(zoo);
    await mkdir(bindings);
    await mkdir(join(project, 'node_modules'));
    await symlink(PACKAGE_ROOT, join(project, 'node_modules', 'lollms-host'), 'dir');
    await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'my-plugins', private: true, type: 'module' }, null, 2)}\n`);
    // A running host that watches the project's folders, as `lollms-host serve --watch` does.
    host = await startTestHost({ personalitiesPaths: [zoo], bindingsPaths: [bindings], watch: true });
    host.socket.on('plugin_error', (e) => pluginErrors.push(e));
  });
  after(async () => {
    await host?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('validates the kind, the names and the flags: usage errors exit 2 and create nothing', async () => {
    const bad: Array<[string[], string]> = [
      [['new'], 'needs a kind'],
      [['new', 'plugin', 'x'], 'unknown kind "plugin"'],
      [['new', 'personality'], 'needs a name'],
      [['new', 'binding', 'a', 'b'], 'takes one name'],
      [['new', 'binding', 'x', '--language', 'french'], '--language: only for new personality'],
      [['new', 'binding', 'x', '--with-processor'], '--with-processor: only for new personality'],
      [['new', 'personality', 'x', '--frobnicate'], '--frobnicate'],
      [['new', 'personality', 'x', '--language', '../up'], 'invalid language "../up"'],
      [['new', 'personality', 'x', '--category', 'a/b'], 'invalid category "a/b"'],
      [['new', 'personality', 'x', '--folder', 'a b'], 'invalid folder name "a b"'],
      [['new', 'personality', '日本語'], 'gives no folder name: give one with --folder'],
      [['new', 'binding', 'x', '--folder', 'y'], '--folder: only for new personality'],
    ];
    for (const name of ['../evil', 'a/b', 'a\\b', '.hidden', '-dash', '_under', 'x'.repeat(65), 'trailing ', 'quote"d', 'c:\\x']) {
      // `--` so that a name starting with "-" is not taken for a flag.
      bad.push([['new', 'binding', '--dir', bindings, '--', name], `invalid binding name "${name}"`]);
      bad.push([['new', 'personality', '--dir', zoo, '--', name], `invalid personality name "${name}"`]);
    }
    // A binding's name is its folder name; a personality's may have spaces, dots and accents (its folder is derived).
    for (const name of ['has space', 'dot.ted', 'é']) bad.push([['new', 'binding', '--dir', bindings, '--', name], `invalid binding name "${name}"`]);
    for (const [args, message] of bad) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr, args.join(' ')).to.contain(message);
    }
    expect(await filesUnder(zoo)).to.deep.equal([]);
    expect(await filesUnder(bindings)).to.deep.equal([]);
    // The longest valid name and mixed case are fine.
    const long = 'A'.repeat(64);
    expect((await cli(['new', 'binding', long, '--dir', join(project, 'scratch')])).code).to.equal(0);
    const help = await cli(['--help']);
    expect(help.stdout).to.contain('lollms-host new personality <name>').and.to.contain('lollms-host new binding <name>');
  });

  it('refuses an existing folder without --force; --force rewrites the template files and keeps the others', async () => {
    const dir = join(project, 'force');
    expect((await cli(['new', 'personality', 'twice', '--dir', dir])).code).to.equal(0);
    const folder = join(dir, 'english', 'custom', 'twice');
    await writeFile(join(folder, 'config.yaml'), 'name: edited\n');
    await writeFile(join(folder, 'notes.md'), 'mine\n');
    const again = await cli(['new', 'personality', 'twice', '--dir', dir]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('already exists').and.to.contain('--force');
    expect(await readFile(join(folder, 'config.yaml'), 'utf8')).to.equal('name: edited\n');
    const forced = await cli(['new', 'personality', 'twice', '--dir', dir, '--with-processor', '--force']);
    expect(forced.code).to.equal(0);
    expect(forced.stdout).to.contain('Wrote personality "twice"');
    expect(await readFile(join(folder, 'config.yaml'), 'utf8')).to.contain('name: "twice"').and.to.contain('processor_cfg:');
    expect(await readFile(join(folder, 'notes.md'), 'utf8')).to.equal('mine\n');
    expect(await filesUnder(folder)).to.include(join('scripts', 'processor.ts'));
    // A file where the folder would go is refused even with --force.
    await mkdir(join(dir, 'b'), { recursive: true });
    await writeFile(join(dir, 'b', 'file'), '');
    const onFile = await cli(['new', 'binding', 'file', '--dir', join(dir, 'b'), '--force']);
    expect(onFile.code).to.equal(1);
    expect(onFile.stderr).to.contain('is not a folder');
    // No temp folder is left behind.
    expect((await readdir(join(dir, 'english', 'custom'))).filter((n) => n.startsWith('.'))).to.deep.equal([]);
  });

  it('renders sections and variables, and leaves other {{...}} alone', () => {
    const text = 'a {{name}} {{date}}\n# {{#processor}}\nwith\n# {{/processor}}\n// {{^processor}}\nwithout\n// {{/processor}}\nend';
    expect(renderTemplate(text, { name: 'n' }, { processor: true })).to.equal('a n {{date}}\nwith\nend');
    expect(renderTemplate(text, { name: 'n' }, { processor: false })).to.equal('a n {{date}}\nwithout\nend');
    expect(() => renderTemplate('# {{#nope}}\n# {{/nope}}', {}, { processor: true })).to.throw('unknown section flag');
    expect(() => renderTemplate('# {{#processor}}\n', {}, { processor: true })).to.throw('not closed');
  });

  describe('what new creates passes check, is listed by a watching host within a second, generates and passes its own test', () => {
    it('a personality with --with-processor', async () => {
      const made = await cli(['new', 'personality', 'my_helper', '--dir', zoo, '--with-processor']);
      expect(made.code, made.stderr).to.equal(0);
      const folder = join(zoo, 'english', 'custom', 'my_helper');
      expect(await filesUnder(folder)).to.deep.equal(['assets/logo.png', 'config.yaml', 'scripts/processor.ts', 'test/my_helper.test.ts', 'tsconfig.json']);
      // The project resolves lollms-host through its node_modules: the tsconfig is the template's, as is.
      expect(await readFile(join(folder, 'tsconfig.json'), 'utf8')).to.equal(await readFile(join(PACKAGE_ROOT, 'sdk-templates', 'personality', 'tsconfig.json'), 'utf8'));
      const tsc = await runTsc(folder);
      expect(tsc.code, tsc.output).to.equal(0);
      const config = await readFile(join(folder, 'config.yaml'), 'utf8');
      for (const key of ['host_api: "^1.1.0"', 'callable_by: true', 'processor_cfg:', 'custom_workflow: true', '{{date}}']) expect(config).to.contain(key);

      const listedIn = await within(1000, async () =>
        (await host.listPersonalities())['english']?.['custom']?.some((p) => p.folder === 'my_helper' && p.has_scripts && p.has_logo) ?? false);
      expect(listedIn).to.be.below(1000);

      const check = await cli(['check', folder]);
      expect(check.code, check.stderr).to.equal(0);
      expect(check.stdout).to.contain('ok (personality "my_helper"').and.to.contain('processor trial load').and.to.contain('processor types');
      expect(check.stderr).to.equal('');

      const { id, name } = await host.addPersonality('english/custom/my_helper');
      expect(name).to.equal('my_helper');
      const result = await host.generate('What is a binding?', { personality: id });
      expect(result.error).to.equal(undefined);
      expect(result.messages.filter((m) => m.type_name === 'MSG_TYPE_STEP_START').map((m) => m.content)).to.deep.equal(['Drafting an answer', 'Improving the draft']);
      expect(result.messages.filter((m) => m.type_name === 'MSG_TYPE_STEP_END').map((m) => m.metadata['status'])).to.deep.equal([true, true]);
      expect(result.chunks.join('')).to.equal(result.text);
      expect(await host.getSettings(id)).to.deep.equal({ review: true, max_tokens: 256 });

      const own = await runOwnTest(project, join(folder, 'test', 'my_helper.test.ts'));
      expect(own.code, own.output).to.equal(0);
      expect(own.output).to.match(/pass 5\b/).and.to.match(/fail 0\b/);
      expect(pluginErrors.filter((e) => e.path.startsWith(folder))).to.deep.equal([]);
    });

    it('a personality without a processor, in another language and category', async () => {
      const made = await cli(['new', 'personality', 'Plain-1', '--dir', zoo, '--language', 'french', '--category', 'tests']);
      expect(made.code, made.stderr).to.equal(0);
      const folder = join(zoo, 'french', 'tests', 'Plain-1');
      expect(await filesUnder(folder)).to.deep.equal(['assets/logo.png', 'config.yaml', 'test/Plain-1.test.ts']);
      const config = await readFile(join(folder, 'config.yaml'), 'utf8');
      expect(config).not.to.contain('processor_cfg');
      expect(config).to.contain('language: "french"').and.to.contain('category: "tests"');

      expect(await within(1000, async () => (await host.listPersonalities())['french']?.['tests']?.some((p) => p.folder === 'Plain-1') ?? false)).to.be.below(1000);
      const check = await cli(['check', folder]);
      expect(check.code, check.stderr).to.equal(0);

      const { id } = await host.addPersonality(folder); // an absolute folder works too
      const result = await host.generate('Hello', { personality: id, nPredicts: 8 });
      expect(result.error).to.equal(undefined);
      expect(result.messages).to.deep.equal([]);
      expect(result.chunks.join('')).to.equal(result.text);

      const own = await runOwnTest(project, join(folder, 'test', 'Plain-1.test.ts'));
      expect(own.code, own.output).to.equal(0);
      expect(own.output).to.match(/pass 2\b/);
    });

    it('a binding', async () => {
      const made = await cli(['new', 'binding', 'my_binding', '--dir', bindings]);
      expect(made.code, made.stderr).to.equal(0);
      const folder = join(bindings, 'my_binding');
      expect(await filesUnder(folder)).to.deep.equal(['binding_card.yaml', 'index.ts', 'models.yaml', 'test/my_binding.test.ts', 'tsconfig.json']);
      // Its index.ts and its test type-check where they land, with the host's node-llama-cpp and Node types.
      const tsc = await runTsc(folder);
      expect(tsc.code, tsc.output).to.equal(0);
      expect(await readFile(join(folder, 'binding_card.yaml'), 'utf8')).to.contain('host_api: "^1.1.0"').and.to.contain('entry: index.ts');

      expect(await within(1000, async () => (await host.listBindings()).some((b) => b.name === 'my_binding'))).to.be.below(1000);
      const check = await cli(['check', folder]);
      expect(check.code, check.stderr).to.equal(0);
      expect(check.stdout).to.contain('ok (binding "my_binding" 0.1.0');

      await host.selectBinding('my_binding');
      try {
        await copyFile(await tinyTestModel(), join(host.modelsDir('my_binding'), TEST_MODEL_NAME));
        await host.selectModel(TEST_MODEL_NAME);
        const result = await host.generate('Once upon a time', { nPredicts: 12, parameters: { temperature: 0 } });
        expect(result.error).to.equal(undefined);
        expect(result.chunks.length).to.be.greaterThan(0);
        expect(result.chunks.join('')).to.equal(result.text);
        expect((await host.tokenize('hello')).length).to.be.greaterThan(0);
      } finally {
        await host.selectBinding('llama_cpp');
        await host.selectModel(TEST_MODEL_NAME);
      }

      const own = await runOwnTest(project, join(folder, 'test', 'my_binding.test.ts'));
      expect(own.code, own.output).to.equal(0);
      expect(own.output).to.match(/pass 8\b/).and.to.match(/fail 0\b/);
      expect(pluginErrors.filter((e) => e.path.startsWith(folder))).to.deep.equal([]);
    });
  });

  describe('names and tsconfig.json', () => {
    it('a personality name with spaces and accents gets a safe folder name; --folder chooses another', async () => {
      const made = await cli(['new', 'personality', 'ASCII Artist', '--dir', zoo]);
      expect(made.code, made.stderr).to.equal(0);
      const folder = join(zoo, 'english', 'custom', 'ascii_artist');
      expect(made.stdout).to.contain(`Created personality "ASCII Artist" in ${folder}`).and.to.contain('add_personality {"path": "english/custom/ascii_artist"}');
      expect(await filesUnder(folder)).to.deep.equal(['assets/logo.png', 'config.yaml', 'test/ascii_artist.test.ts']);
      const config = await readFile(join(folder, 'config.yaml'), 'utf8');
      expect(config).to.contain('name: "ASCII Artist"').and.to.contain('add_personality {path: "english/custom/ascii_artist"}');
      const check = await cli(['check', folder]);
      expect(check.code, check.stderr).to.equal(0);
      expect(check.stderr, 'the derived folder matches the name: no warning').to.equal('');

      expect((await cli(['new', 'personality', 'Café Crème', '--dir', zoo])).code).to.equal(0);
      expect(await filesUnder(join(zoo, 'english', 'custom', 'cafe_creme'))).to.include('config.yaml');
      const chosen = await cli(['new', 'personality', '日本語', '--folder', 'nihongo', '--dir', zoo]);
      expect(chosen.code, chosen.stderr).to.equal(0);
      expect(await readFile(join(zoo, 'english', 'custom', 'nihongo', 'config.yaml'), 'utf8')).to.contain('name: "日本語"');
    });

    it('outside any project the tsconfig.json points at this lollms-host, and tsc passes there', async () => {
      const lone = await mkdtemp(join(tmpdir(), 'lollms-lone-zoo-'));
      try {
        expect((await cli(['new', 'personality', 'lone', '--dir', lone, '--with-processor'])).code).to.equal(0);
        const folder = join(lone, 'english', 'custom', 'lone');
        const config = JSON.parse(await readFile(join(folder, 'tsconfig.json'), 'utf8')) as {
          compilerOptions: { paths: Record<string, string[]>; types: string[] };
          files: string[];
        };
        expect(config.compilerOptions.paths['lollms-host/plugin-api']![0]).to.match(/^\.\.\/.*plugin-api\/index\.ts$/);
        expect(config.compilerOptions.types).to.deep.equal([]);
        expect(config.files[0]).to.match(/plugin-api\/sandbox-globals\.d\.ts$/);
        const tsc = await runTsc(folder);
        expect(tsc.code, tsc.output).to.equal(0);
        // The sandbox's rules hold under it: a bare JSON import type-checks, setTimeout does not exist.
        await writeFile(join(folder, 'scripts', 'data.json'), '{"n": 1}');
        await writeFile(join(folder, 'scripts', 'extra.ts'), "import data from './data.json';\nexport const n: number = data.n;\nsetTimeout(() => n, 1);\n");
        const strict = await runTsc(folder);
        expect(strict.code).not.to.equal(0);
        expect(strict.output.trim()).to.equal("scripts/extra.ts(3,1): error TS2304: Cannot find name 'setTimeout'.");
      } finally {
        await rm(lone, { recursive: true, force: true });
      }
    });

    it("the template's workflow answers the user: without review it generates after the AI prefix", async () => {
      const { default: template, answerPrompt } = await import('../sdk-templates/personality/scripts/processor.js');
      const prompts: string[] = [];
      const ctx = {
        settings: { review: false, max_tokens: 16 },
        personality: { link_text: '\n', ai_message_prefix: '!@> Helper:\n' },
        generate: async (prompt: string) => {
          prompts.push(prompt);
          return 'answer';
        },
      } as unknown as Parameters<typeof answerPrompt>[1];
      const input = { prompt: 'Hi', previousDiscussion: 'conditioning\n!@> User:\nHi' };
      expect(await template.runWorkflow!(input, ctx)).to.equal('answer');
      expect(prompts).to.deep.equal(['conditioning\n!@> User:\nHi\n!@> Helper:\n']);
    });
  });

  describe('lollms-host/testing', () => {
    it('throws with the reason when the binding or the model cannot load', async () => {
      let error: unknown;
      try {
        await startTestHost({ binding: 'no_such_binding' });
      } catch (e) {
        error = e;
      }
      expect(String(error)).to.contain('binding "no_such_binding" failed to load').and.to.contain('no binding named');
      error = undefined;
      try {
        await startTestHost({ model: 'missing.gguf' });
      } catch (e) {
        error = e;
      }
      expect(String(error)).to.contain('model "missing.gguf" of binding "llama_cpp" failed to load');
    });

    it('starts without a binding or model when asked, and reports add_personality failures', async () => {
      const bare = await startTestHost({ binding: null, builtins: false });
      try {
        expect(bare.host.bindings.activeBinding).to.equal(undefined);
        const result = await bare.generate('hi');
        expect(result.error).to.contain('No model loaded');
        expect(result.text).to.equal('');
        let error: unknown;
        try {
          await bare.addPersonality('english/generic/nope');
        } catch (e) {
          error = e;
        }
        expect(String(error)).to.contain('add_personality failed');
        try {
          await bare.addPersonality(tmpdir());
        } catch (e) {
          error = e;
        }
        expect(String(error)).to.contain('is not inside a personalities path');
      } finally {
        await bare.close();
      }
      expect(await readdir(bare.dataDir).catch(() => 'gone')).to.equal('gone');
    });
  });
});
