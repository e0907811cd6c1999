import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { startHost } from '../core/host.js';
import { becomesDefault, chooseStartupModel } from '../core/bindings/startup-model.js';
import { capturingLogger } from './helpers/logger.js';
import { tinyModel } from './helpers/models.js';
import { cli } from './helpers/cli.js';

const TEST_MODEL = 'tiny-random-llama.gguf';
const at = (day: number) => Date.UTC(2026, 0, day);

describe('the model people pulled is the model that serves (issue 13)', function () {
  this.timeout(60_000);

  describe('the rule', () => {
    it('prefers model_name, then the real model installed last, then the test model', () => {
      const installed = [
        { name: TEST_MODEL, installedAt: at(9) },
        { name: 'a.gguf', installedAt: at(1) },
        { name: 'b.gguf', installedAt: at(2) },
      ];
      expect(chooseStartupModel(installed, 'a.gguf')).to.deep.equal({ model: 'a.gguf', reason: 'configured' });
      expect(chooseStartupModel(installed, null)).to.deep.equal({ model: 'b.gguf', reason: 'last-installed' });
      // The test model never wins over a real one, even when it is model_name (as old hosts wrote it).
      expect(chooseStartupModel(installed, TEST_MODEL)).to.deep.equal({ model: 'b.gguf', reason: 'last-installed' });
      expect(chooseStartupModel(installed, 'gone.gguf')).to.deep.equal({ model: 'b.gguf', reason: 'last-installed' });
      // Equal (or unknown) install times: the name decides, never chance.
      expect(chooseStartupModel([{ name: 'z.gguf', installedAt: 0 }, { name: 'y.gguf', installedAt: 0 }], null).model).to.equal('y.gguf');
      expect(chooseStartupModel([{ name: TEST_MODEL, installedAt: at(1) }], null)).to.deep.equal({ model: TEST_MODEL, reason: 'test-model' });
      expect(chooseStartupModel([], 'a.gguf')).to.deep.equal({ model: undefined, reason: 'none' });
    });

    it('a pulled model becomes the default when the config names no real installed model', () => {
      expect(becomesDefault(null, false, 'a.gguf')).to.equal(true);
      expect(becomesDefault(TEST_MODEL, true, 'a.gguf')).to.equal(true);
      expect(becomesDefault('gone.gguf', false, 'a.gguf')).to.equal(true);
      expect(becomesDefault('b.gguf', true, 'a.gguf')).to.equal(false);
      expect(becomesDefault(null, false, TEST_MODEL)).to.equal(false);
    });
  });

  describe('the host', () => {
    let dir: string;
    let models: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lollms-startup-model-'));
      models = join(dir, 'models', 'llama_cpp');
      await mkdir(models, { recursive: true });
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    /** Start a host on `dir`, wait for it, stop it; what it served and logged. */
    async function startOnce(): Promise<{ model: string | undefined; warnings: string[]; infos: string[]; configModel: unknown }> {
      const { logger, lines } = capturingLogger();
      const handle = await startHost({ dataDir: dir, port: 0, env: {}, logger, config: { watch: false, n_threads: 1, enable_gpu: false } });
      try {
        return {
          model: handle.host.bindings.model?.name,
          warnings: lines.filter((l) => l.level === 40).map((l) => l.msg),
          infos: lines.filter((l) => l.level === 30).map((l) => l.msg),
          configModel: (YAML.parse(await readFile(join(dir, 'config.yaml'), 'utf8')) as { model_name: unknown }).model_name,
        };
      } finally {
        await handle.close();
      }
    }

    const testModelWarning = (w: string) => w.startsWith(`serving ${TEST_MODEL}, a random-weight TEST model`);

    it('a data dir with exactly one real model serves it', async () => {
      await copyFile(await tinyModel(), join(models, 'only.gguf'));
      const started = await startOnce();
      expect(started.model).to.equal('only.gguf');
      expect(started.infos).to.include('serving only.gguf (the real model installed last)');
      expect(started.warnings.filter(testModelWarning)).to.deep.equal([]);
    });

    it('a fresh data dir serves the test model without saving it, warns at every start, and a real model installed later serves next', async () => {
      const first = await startOnce();
      expect(first.model).to.equal(TEST_MODEL);
      expect(first.configModel).to.equal(null);
      expect(first.warnings.filter(testModelWarning)).to.have.length(1);
      const second = await startOnce();
      expect(second.model).to.equal(TEST_MODEL);
      expect(second.warnings.filter(testModelWarning)).to.have.length(1);
      // A real model arrives (as pull or install_model put it): the plain restart serves it.
      await copyFile(await tinyModel(2), join(models, 'real.gguf'));
      const third = await startOnce();
      expect(third.model).to.equal('real.gguf');
      expect(third.warnings.filter(testModelWarning)).to.deep.equal([]);
    });

    it('a config that names the test model (as older hosts wrote it) serves the real model, and says why', async () => {
      await copyFile(await tinyModel(), join(models, TEST_MODEL));
      await copyFile(await tinyModel(2), join(models, 'real.gguf'));
      await writeFile(join(dir, 'config.yaml'), `model_name: ${TEST_MODEL}\n`);
      const started = await startOnce();
      expect(started.model).to.equal('real.gguf');
      expect(started.warnings).to.include(
        `model_name "${TEST_MODEL}" is the test model, and a real model is installed: serving real.gguf, the real model installed last. \`lollms-host use <model> --data-dir ${dir}\` selects another.`,
      );
    });

    it('model_name wins over a model installed later; a model_name that is gone falls back to the one installed last', async () => {
      await copyFile(await tinyModel(), join(models, 'chosen.gguf'));
      await copyFile(await tinyModel(2), join(models, 'newer.gguf'));
      await utimes(join(models, 'chosen.gguf'), at(1) / 1000, at(1) / 1000);
      await utimes(join(models, 'newer.gguf'), at(2) / 1000, at(2) / 1000);
      await writeFile(join(dir, 'config.yaml'), 'model_name: chosen.gguf\n');
      expect((await startOnce()).model).to.equal('chosen.gguf');
      await rm(join(models, 'chosen.gguf'));
      const fallback = await startOnce();
      expect(fallback.model).to.equal('newer.gguf');
      expect(fallback.warnings).to.include(`model_name "chosen.gguf" is not installed: serving newer.gguf, the real model installed last. \`lollms-host use <model> --data-dir ${dir}\` selects another.`);
    });
  });

  describe('pull', () => {
    let dir: string;
    let server: Server;
    let base: string;
    before(async () => {
      const bytes = await readFile(await tinyModel(3));
      server = createServer((req, res) => {
        if (req.url === '/first.gguf' || req.url === '/second.gguf') res.end(bytes);
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lollms-pull-default-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    const configModel = async () => (YAML.parse(await readFile(join(dir, 'config.yaml'), 'utf8')) as { model_name: unknown }).model_name;

    it('the first real model pulled becomes the default; a later one does not replace it', async () => {
      // The fresh host wrote the test model: it is not what model_name names.
      const handle = await startHost({ dataDir: dir, port: 0, env: {}, config: { watch: false, n_threads: 1, enable_gpu: false, log_level: 'silent' } });
      await handle.close();
      const first = await cli(['pull', `${base}/first.gguf`, '--data-dir', dir]);
      expect(first.code, first.stdout + first.stderr).to.equal(0);
      expect(first.stdout).to.contain(`first.gguf is now the default model (model_name in ${join(dir, 'config.yaml')}): the next start serves it`);
      expect(await configModel()).to.equal('first.gguf');
      // The comments of the config the host wrote are kept.
      expect(await readFile(join(dir, 'config.yaml'), 'utf8')).to.contain('# Context size in tokens');

      const second = await cli(['pull', `${base}/second.gguf`, '--data-dir', dir]);
      expect(second.code).to.equal(0);
      expect(second.stdout).not.to.contain('is now the default model');
      expect(await configModel()).to.equal('first.gguf');

      const restarted = await startHost({ dataDir: dir, port: 0, env: {}, config: { watch: false, n_threads: 1, enable_gpu: false, log_level: 'silent' } });
      try {
        expect(restarted.host.bindings.model?.name).to.equal('first.gguf');
      } finally {
        await restarted.close();
      }
    });

    it('a pull into a data dir without a config creates the commented config with the default set', async () => {
      const out = await cli(['pull', `${base}/first.gguf`, '--data-dir', dir]);
      expect(out.code, out.stdout).to.equal(0);
      const text = await readFile(join(dir, 'config.yaml'), 'utf8');
      expect(YAML.parse(text)).to.include({ model_name: 'first.gguf', binding_name: 'llama_cpp' });
      expect(text).to.contain('# Context size in tokens');
    });
  });
});
