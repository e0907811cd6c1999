import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { writeTestModel } from '../core/bindings/test-model.js';
import { startHost } from '../core/host.js';
import { locationFlags } from '../core/util/cli-hint.js';
import { capturingLogger } from './helpers/logger.js';
import { cli } from './helpers/cli.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lollms-host.js');

/** The built CLI as a user runs it (the bin re-executes itself with --no-node-snapshot). */
function spawnCli(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('lollms-host list / use / rm (issue 13: a CLI operators recognise)', function () {
  this.timeout(60_000);
  let dir: string;
  let models: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-cli-models-'));
    models = join(dir, 'models', 'llama_cpp');
    await mkdir(models, { recursive: true });
    await writeTestModel(join(models, 'alpha.gguf'), { preset: 'tiny', seed: 1 });
    await writeTestModel(join(models, 'beta.gguf'), { preset: 'tiny', seed: 2 });
    // Install times fixed, not left to the clock's resolution: beta is the model installed last.
    await utimes(join(models, 'alpha.gguf'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
    await utimes(join(models, 'beta.gguf'), new Date('2026-01-02T00:00:00Z'), new Date('2026-01-02T00:00:00Z'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('an unknown command lists the commands there are', () => {
    const out = spawnCli(['lisst']);
    expect(out.code).to.equal(2);
    expect(out.stderr).to.contain('unknown command "lisst"').and.contain('list, use, rm, pull');
    const help = spawnCli(['--help']);
    expect(help.stdout).to.contain('lollms-host list').and.contain('lollms-host use <model>').and.contain('lollms-host rm <model>').and.contain('--bindings_path DIR');
  });

  it('list shows every installed model with its binding and size, and marks the one a start serves', async () => {
    const before = await cli(['list', '--data-dir', dir]);
    expect(before.code, before.stderr).to.equal(0);
    const rows = before.stdout.split('\n');
    expect(rows[0]).to.match(/^\s+NAME\s+BINDING\s+SIZE$/);
    expect(rows.find((r) => r.includes('alpha.gguf'))).to.match(/^ {2}alpha\.gguf\s+llama_cpp\s+5\d\d KB$/);
    // Nothing selected: the start serves the real model installed last, and list says so.
    expect(rows.find((r) => r.includes('beta.gguf'))).to.match(/^\* beta\.gguf\s+llama_cpp\s+5\d\d KB\s+\(installed last\)$/);
    expect(before.stdout).to.contain(`No model is selected (model_name): the next start serves beta.gguf (installed last); \`lollms-host use <model> --data-dir ${dir}\` selects one.`);

    const used = await cli(['use', 'alpha.gguf', '--data-dir', dir]);
    expect(used.code, used.stderr).to.equal(0);
    expect(used.stdout).to.contain('llama_cpp/alpha.gguf is selected');
    const after = await cli(['list', '--data-dir', dir]);
    expect(after.stdout.split('\n').find((r) => r.includes('alpha.gguf'))).to.match(/^\* alpha\.gguf.*\(model_name\)$/);
    expect(after.stdout.split('\n').find((r) => r.includes('beta.gguf'))).to.match(/^ {2}beta\.gguf/);
    expect(after.stdout).not.to.contain('No model is selected');
  });

  it('use saves the selection in the config (keeping its comments) and refuses a model that is not installed', async () => {
    expect((await cli(['use', 'alpha.gguf', '--data-dir', dir])).code).to.equal(0);
    const text = await readFile(join(dir, 'config.yaml'), 'utf8');
    expect(YAML.parse(text)).to.include({ model_name: 'alpha.gguf', binding_name: 'llama_cpp' });
    expect(text).to.contain('# Context size in tokens');

    const missing = await cli(['use', 'gamma.gguf', '--data-dir', dir]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('model "gamma.gguf" is not installed for binding "llama_cpp" (installed: alpha.gguf, beta.gguf)');
    expect(missing.stderr).to.contain(`lollms-host pull gamma.gguf --data-dir ${dir}`);
    expect(YAML.parse(await readFile(join(dir, 'config.yaml'), 'utf8'))).to.include({ model_name: 'alpha.gguf' });
    expect((await cli(['use', '../config.yaml', '--data-dir', dir])).code).to.equal(2);
    expect((await cli(['use', '--data-dir', dir])).code).to.equal(2);
  });

  it('rm deletes the model and its partial download, and clears it when it was selected', async () => {
    expect((await cli(['use', 'beta.gguf', '--data-dir', dir])).code).to.equal(0);
    await writeFile(join(models, 'beta.gguf.part'), 'partial');
    await writeFile(join(models, 'far.reference'), `${join(models, 'alpha.gguf')}\n`);
    const out = await cli(['rm', 'beta.gguf', '--data-dir', dir]);
    expect(out.code, out.stderr).to.equal(0);
    expect(out.stdout).to.contain('deleted llama_cpp/beta.gguf').and.contain('model_name is cleared');
    expect((await readdir(models)).sort()).to.deep.equal(['alpha.gguf', 'far.reference']);
    expect(YAML.parse(await readFile(join(dir, 'config.yaml'), 'utf8'))).to.include({ model_name: null });
    // A reference is removed, never the file it points to.
    expect((await cli(['rm', 'far.reference', '--data-dir', dir])).code).to.equal(0);
    expect(existsSync(join(models, 'alpha.gguf'))).to.equal(true);
    const again = await cli(['rm', 'beta.gguf', '--data-dir', dir]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('is not installed');
  });

  it('honours --models_path and --config, and the hints repeat them', async () => {
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(join(elsewhere, 'llama_cpp'), { recursive: true });
    await writeTestModel(join(elsewhere, 'llama_cpp', 'far.gguf'), { preset: 'tiny', seed: 3 });
    const configFile = join(dir, 'other.yaml');
    const listed = await cli(['list', '--data-dir', dir, '--models_path', elsewhere, '--config', configFile]);
    expect(listed.stdout).to.contain('far.gguf').and.not.contain('alpha.gguf');
    expect(listed.stdout).to.contain(`--data-dir ${dir} --config ${configFile} --models_path ${elsewhere}`);
    expect((await cli(['use', 'far.gguf', '--data-dir', dir, '--models-path', elsewhere, '--config', configFile])).code).to.equal(0);
    expect(YAML.parse(await readFile(configFile, 'utf8'))).to.include({ model_name: 'far.gguf' });
    expect(locationFlags({ dataDir: dir, configFile: join(dir, 'config.yaml'), modelsPath: join(dir, 'models'), binding: 'llama_cpp' })).to.equal(` --data-dir ${dir}`);
    expect(locationFlags({ dataDir: "/a b/it's", configFile: "/a b/it's/config.yaml", modelsPath: "/a b/it's/models", binding: 'x' })).to.equal(
      ` --data-dir '/a b/it'\\''s' --binding x`,
    );
  });

  it('a host with several models and none selected serves the one installed last and says so; unknown config keys warn', async () => {
    await writeFile(join(dir, 'config.yaml'), 'model_name: null\ntemprature: 0.1\n');
    const { logger, lines } = capturingLogger();
    const handle = await startHost({ dataDir: dir, port: 0, env: {}, logger, config: { watch: false, n_threads: 1, enable_gpu: false } });
    try {
      const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
      expect(warnings).to.include(`${join(dir, 'config.yaml')}:2:1: unknown config key "temprature" (did you mean "temperature"?); it is ignored`);
      expect(handle.host.bindings.model?.name).to.equal('beta.gguf');
      expect(lines.map((l) => l.msg)).to.include('serving beta.gguf (the real model installed last)');
      expect(warnings.filter((m) => m.includes('TEST model'))).to.deep.equal([]);
    } finally {
      await handle.close();
    }
  });

  it('logs "model loaded" once per load', async () => {
    await writeFile(join(dir, 'config.yaml'), 'model_name: alpha.gguf\n');
    const { logger, lines } = capturingLogger();
    const handle = await startHost({ dataDir: dir, port: 0, env: {}, logger, config: { watch: false, n_threads: 1, enable_gpu: false } });
    try {
      expect(handle.host.bindings.model?.name).to.equal('alpha.gguf');
      expect(lines.filter((l) => l.msg === 'model loaded')).to.have.length(1);
    } finally {
      await handle.close();
    }
  });
});
