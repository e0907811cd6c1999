import { expect } from 'chai';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ConfigStore, defaultConfigText, saveConfigFile } from '../core/config.js';
import { writeFileAtomic } from '../core/util/atomic-write.js';
import { LollmsHostError } from '../core/errors.js';

describe('config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lollms-config-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('uses the original key names and defaults', async () => {
    const store = await ConfigStore.load({ file: join(dir, 'missing.yaml'), env: {} });
    expect(store.values).to.include({ port: 9600, host: '127.0.0.1', seed: -1, n_predict: 1024, ctx_size: 2048, temperature: 0.9, top_k: 50, top_p: 0.95, repeat_last_n: 40, repeat_penalty: 1.2 });
    expect(store.values.personalities).to.deep.equal(['english/generic/lollms']);
    expect(store.sources.port).to.equal('default');
  });

  it('keeps unknown keys and comments through a save round trip', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, '# my comment\nport: 9700\nmy_own_key: {a: 1}\nbinding_name: llama_cpp # inline\n');
    const store = await ConfigStore.load({ file, env: {} });
    await store.update({ model_name: 'x.gguf', port: 9800 });
    const text = await readFile(file, 'utf8');
    expect(text).to.contain('# my comment');
    expect(text).to.contain('# inline');
    const parsed = YAML.parse(text) as Record<string, unknown>;
    expect(parsed).to.deep.include({ my_own_key: { a: 1 }, model_name: 'x.gguf', port: 9800, binding_name: 'llama_cpp' });
    const again = await ConfigStore.load({ file, env: {} });
    expect(again.values.model_name).to.equal('x.gguf');
  });

  it('names the file and line of a YAML syntax error', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'port: 9600\nhost: [unclosed\nseed: 1\n');
    const error = await ConfigStore.load({ file, env: {} }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(LollmsHostError);
    expect((error as LollmsHostError).code).to.equal('LH_ERR_CONFIG_SYNTAX');
    expect((error as LollmsHostError).message).to.contain(file);
    expect((error as LollmsHostError).line).to.be.a('number').and.to.be.greaterThan(1);
  });

  it('refuses a wrong type, naming the key, the file, the line and the column', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, '# comment\nhost: 127.0.0.1\nsandbox:\n  x: 1\n  port_: 2\n  port: 3\nport: "not a number"\n');
    const error = (await ConfigStore.load({ file, env: {} }).catch((e: unknown) => e)) as LollmsHostError;
    expect(error.code).to.equal('LH_ERR_CONFIG_INVALID');
    expect(error.message).to.contain('"port"').and.to.contain(`${file}:7:1:`);
    expect(error).to.include({ file, line: 7, column: 1 });
    await writeFile(file, 'top_p: 7\n');
    const impossible = (await ConfigStore.load({ file, env: {} }).catch((e: unknown) => e)) as LollmsHostError;
    expect(impossible.message).to.contain('"top_p"');
  });

  it('warns about keys it does not know, naming the nearest known key (file and environment)', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'port: 9700\n  # indented comment\ntemprature: 0.1\nmy_own_key: 1\n');
    const store = await ConfigStore.load({ file, env: { LOLLMS_HOST_PROT: '1', LOLLMS_HOST_HOME: '/x', LOLLMS_HOST_PORT: '9701' } });
    expect(store.warnings).to.deep.equal([
      `${file}:3:1: unknown config key "temprature" (did you mean "temperature"?); it is ignored`,
      `${file}:4:1: unknown config key "my_own_key"; it is ignored`,
      'environment: unknown variable "LOLLMS_HOST_PROT" (did you mean "LOLLMS_HOST_PORT"?); it is ignored',
    ]);
    expect(store.values.temperature).to.equal(0.9);
    const clean = await ConfigStore.load({ file: join(dir, 'fresh.yaml'), env: {} });
    expect(clean.warnings).to.deep.equal([]);
  });

  it('applies flag > environment > file > default', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'port: 9700\ntemperature: 0.1\ntop_k: 10\n');
    const env = { LOLLMS_HOST_TEMPERATURE: '0.5', LOLLMS_HOST_PORT: '9701' };
    const store = await ConfigStore.load({ file, env, cli: { port: 9702 } });
    expect(store.values.top_k).to.equal(10);
    expect(store.sources.top_k).to.equal('file');
    expect(store.values.temperature).to.equal(0.5);
    expect(store.sources.temperature).to.equal('env');
    expect(store.values.port).to.equal(9702);
    expect(store.sources.port).to.equal('cli');
    expect(store.values.seed).to.equal(-1);
    expect(store.sources.seed).to.equal('default');
  });

  it('keeps a private config private across saves', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'api_key: secret\n');
    await chmod(file, 0o600);
    const store = await ConfigStore.load({ file, env: {} });
    await store.update({ temperature: 0.5 });
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('redacts the API key', async () => {
    const store = await ConfigStore.load({ file: join(dir, 'none.yaml'), env: { LOLLMS_HOST_API_KEY: 'secret' } });
    expect(store.redacted().api_key).to.equal('***');
    expect(store.describe()).not.to.contain('secret');
  });

  it('leaves the previous file intact when a save fails half-way', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, defaultConfigText());
    const before = await readFile(file, 'utf8');
    async function* halfThenFail() {
      yield Buffer.from('port: 1\nhost: ');
      throw new Error('disk full');
    }
    const error = await writeFileAtomic(file, halfThenFail()).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(Error).with.property('message', 'disk full');
    expect(await readFile(file, 'utf8')).to.equal(before);
    expect(YAML.parse(before)).to.have.property('port', 9600);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('writes a commented default config that loads back to the defaults', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, defaultConfigText());
    expect(await readFile(file, 'utf8')).to.contain('# Context size in tokens');
    const store = await ConfigStore.load({ file, env: {} });
    expect(store.values.port).to.equal(9600);
    await saveConfigFile(file, { port: 1234 });
    expect(await readFile(file, 'utf8')).to.contain('# Context size in tokens');
  });
});
