import { expect } from 'chai';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codedRejection } from './helpers/assert.js';
import { next, request, startTestHost } from './helpers/host.js';
import { MAX_PERSONALITY_CONFIG_BYTES, loadPersonalityConfig } from '../core/personalities/config.js';
import { ZooCache, listPersonalities, type ZooOptions } from '../core/personalities/zoo.js';
import { LollmsHostError } from '../core/errors.js';

async function personality(root: string, rel: string, config: string): Promise<string> {
  const folder = join(root, ...rel.split('/'));
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'config.yaml'), config);
  return folder;
}

const names = (list: Awaited<ReturnType<typeof listPersonalities>>) =>
  Object.values(list).flatMap((byCategory) => Object.values(byCategory).flat().map((p) => `${p.folder}=${p.name}`)).sort();

/** A flow-style config of about `bytes` bytes: the shape that once took the host's heap down. */
function hugeConfig(bytes: number): string {
  const item = '[1, [2, [3, "x"]]], ';
  return `name: huge\nanti_prompts: [${item.repeat(Math.ceil(bytes / item.length))}]\n`;
}

describe('personality zoo: size cap and cached listings (issues 11 §4, 20)', () => {
  let zoo: string;
  beforeEach(async () => {
    zoo = await realpath(await mkdtemp(join(tmpdir(), 'lollms-zoo-cache-')));
  });
  afterEach(() => rm(zoo, { recursive: true, force: true }));

  it('refuses a config.yaml over the size cap with a clear coded error, before parsing it', async () => {
    const folder = await personality(zoo, 'english/big/huge', hugeConfig(MAX_PERSONALITY_CONFIG_BYTES + 1));
    const error = await codedRejection(loadPersonalityConfig(folder));
    expect(error.code).to.equal('LH_ERR_PERSONALITY_CONFIG_TOO_LARGE');
    expect(error.message).to.contain(join(folder, 'config.yaml')).and.contain('larger than the 256 KiB');
    // 20 MB: refused from its size alone (no read, no parse), so it costs nothing.
    await writeFile(join(folder, 'config.yaml'), hugeConfig(20 * 1024 * 1024));
    expect((await codedRejection(loadPersonalityConfig(folder))).message).to.match(/: 2\d\.\d MB is larger than/);
    // Just under the cap still loads.
    await personality(zoo, 'english/big/fits', `name: fits\n# ${'x'.repeat(MAX_PERSONALITY_CONFIG_BYTES - 100)}\n`);
    expect((await loadPersonalityConfig(join(zoo, 'english/big/fits'))).name).to.equal('fits');
  });

  it('lists the other personalities when one config is too large, and reports it', async () => {
    await personality(zoo, 'english/big/huge', hugeConfig(2 * MAX_PERSONALITY_CONFIG_BYTES));
    await personality(zoo, 'english/big/small', 'name: Small\n');
    const errors: unknown[] = [];
    const list = await listPersonalities([zoo], { onError: (_folder, error) => errors.push(error) });
    expect(names(list)).to.deep.equal(['small=Small']);
    expect(errors.map((e) => (e as LollmsHostError).code)).to.deep.equal(['LH_ERR_PERSONALITY_CONFIG_TOO_LARGE']);
  });

  it('parses a config once per version of its file, and again after an edit', async () => {
    const folder = await personality(zoo, 'english/odd/one', "name: One\nlink_text: '\n'\n");
    await personality(zoo, 'english/odd/broken', 'name: [broken\n');
    const cache = new ZooCache();
    const warnings: string[] = [];
    const errors: string[] = [];
    const options: ZooOptions = { cache, onWarning: (where) => warnings.push(where), onError: (f) => errors.push(f) };

    expect(names(await listPersonalities([zoo], options))).to.deep.equal(['one=One']);
    expect(names(await listPersonalities([zoo], options))).to.deep.equal(['one=One']);
    // The PyYAML oddity and the broken file are reported once, not at every listing.
    expect(warnings).to.have.length(1);
    expect(errors).to.have.length(1);

    await writeFile(join(folder, 'config.yaml'), "name: One again\nlink_text: '\n'\n");
    expect(names(await listPersonalities([zoo], options))).to.deep.equal(['one=One again']);
    expect(warnings).to.have.length(2);
    await personality(zoo, 'english/odd/two', 'name: Two\n');
    expect(names(await listPersonalities([zoo], options))).to.deep.equal(['one=One again', 'two=Two']);
    await rm(join(zoo, 'english/odd/two'), { recursive: true });
    expect(names(await listPersonalities([zoo], options))).to.deep.equal(['one=One again']);
    expect(errors).to.have.length(1);
  });

  it('while watched, serves the last listing from memory until the watcher reports a change', async () => {
    await personality(zoo, 'english/w/a', 'name: A\n');
    const cache = new ZooCache();
    cache.watched = true;
    const first = await listPersonalities([zoo], { cache });
    expect(names(first)).to.deep.equal(['a=A']);
    // No file system access: a removal the watcher has not reported yet is not seen...
    await rm(join(zoo, 'english/w/a'), { recursive: true });
    await personality(zoo, 'english/w/b', 'name: B\n');
    expect(names(await listPersonalities([zoo], { cache }))).to.deep.equal(['a=A']);
    // ...and is once it has.
    cache.changed();
    expect(names(await listPersonalities([zoo], { cache }))).to.deep.equal(['b=B']);
    cache.watched = false;
    await personality(zoo, 'english/w/c', 'name: C\n');
    expect(names(await listPersonalities([zoo], { cache }))).to.deep.equal(['b=B', 'c=C']);
  });

  it('a host with the watcher on lists a watched edit, and refuses to mount a huge config', async function () {
    this.timeout(60_000);
    const folder = await personality(zoo, 'english/live/p', 'name: Before\n');
    await personality(zoo, 'english/live/huge', hugeConfig(MAX_PERSONALITY_CONFIG_BYTES * 4));
    const host = await startTestHost({ config: { watch: true, personalities_paths: [zoo], personalities: [] } });
    try {
      const socket = await host.connect();
      const list = async () => names((await request(socket, 'list_available_personalities', {}, 'personalities_list')).personalities);
      expect(await list()).to.include('p=Before').and.not.include('huge=huge');
      expect(host.host.zoo.watched).to.equal(true);
      const reloaded = next(socket, 'plugin_reloaded');
      await writeFile(join(folder, 'config.yaml'), 'name: After\n');
      expect((await reloaded).name).to.equal('After');
      expect(await list()).to.include('p=After').and.not.include('p=Before');
      const refused = await request(socket, 'add_personality', { path: 'english/live/huge' }, 'personality_add_failed');
      expect(refused.error).to.contain('larger than the 256 KiB');
    } finally {
      await host.stop();
    }
  });
});
