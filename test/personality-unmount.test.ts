import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { LollmsClient, LollmsRequestError } from '../client/index.js';
import { startHost } from '../core/host.js';
import { capturingLogger } from './helpers/logger.js';
import { generate, request, startTestHost, type TestHost } from './helpers/host.js';
import { writePersonality } from './helpers/zoo.js';

describe('personalities can be unmounted (issue 13)', function () {
  this.timeout(60_000);

  describe('remove_personality', () => {
    let host: TestHost;
    let zoo: string;
    before(async () => {
      zoo = await mkdtemp(join(tmpdir(), 'lollms-unmount-zoo-'));
      for (const name of ['one', 'two', 'three']) await writePersonality(zoo, `english/mine/${name}`, `name: ${name[0]!.toUpperCase()}${name.slice(1)}\n`);
      host = await startTestHost({ config: { personalities_paths: [zoo], personalities: ['english/generic/lollms', 'english/mine/one', 'english/mine/two'] } });
    });
    after(async () => {
      await host?.stop();
      await rm(zoo, { recursive: true, force: true });
    });

    const config = async () => YAML.parse(await readFile(host.host.paths.configFile, 'utf8')) as { personalities: string[]; active_personality_id: number };

    it('unmounts by id, keeps the ids of the others, drops it from the config, and the next add takes the freed id', async () => {
      const socket = await host.connect();
      expect(await request(socket, 'activate_personality', { id: 2 }, 'activate_personality')).to.deep.equal({ success: true, name: 'Two', id: 2 });
      expect(await request(socket, 'remove_personality', { id: 1 }, 'personality_removed')).to.deep.equal({ success: true, name: 'One', id: 1 });
      // The freed id is a hole: nothing moves.
      expect(await request(socket, 'list_active_personalities', undefined, 'active_personalities_list')).to.deep.equal({ success: true, personalities: ['lollms', '', 'Two'] });
      expect(await (await fetch(`${host.url}/list_mounted_personalities`)).json()).to.deep.equal(['english/generic/lollms', '', 'english/mine/two']);
      expect((await generate(socket, { prompt: 'x', personality: 2, n_predicts: 2 })).error).to.equal(undefined);
      expect((await generate(socket, { prompt: 'x', personality: 1, n_predicts: 2 })).error).to.contain('removed (remove_personality)');
      // The config holds the live ones; the active one is saved by its place among them, so a restart keeps it active.
      expect(await config()).to.deep.include({ personalities: ['english/generic/lollms', 'english/mine/two'], active_personality_id: 1 });

      expect(await request(socket, 'add_personality', { path: 'english/mine/three' }, 'personality_added')).to.deep.equal({ success: true, name: 'Three', id: 1 });
      expect(await request(socket, 'list_active_personalities', undefined, 'active_personalities_list')).to.deep.equal({ success: true, personalities: ['lollms', 'Three', 'Two'] });
      expect((await config()).personalities).to.deep.equal(['english/generic/lollms', 'english/mine/three', 'english/mine/two']);
    });

    it('refuses an id that is not mounted, or was removed, with the id in the failure', async () => {
      const socket = await host.connect();
      expect(await request(socket, 'remove_personality', { id: 7 }, 'personality_removed')).to.deep.equal({ success: false, id: 7, error: 'personality 7 is not mounted (see list_active_personalities)' });
      const removed = await request(socket, 'remove_personality', { id: 1 }, 'personality_removed');
      expect(removed).to.deep.include({ success: true, id: 1 });
      expect(await request(socket, 'remove_personality', { id: 1 }, 'personality_removed')).to.deep.include({ success: false, id: 1 });
      const bad = (await request(socket, 'remove_personality', { id: 'one' }, 'personality_removed')) as { success: boolean; error: string };
      expect(bad.success).to.equal(false);
      expect(bad.error).to.contain('invalid payload for "remove_personality": field "id"');
    });

    it('is typed in the client', async () => {
      const client = new LollmsClient({ url: host.url });
      try {
        await client.connect();
        const { id } = await client.addPersonality('english/mine/one');
        expect(await client.removePersonality(id)).to.deep.equal({ success: true, name: 'One', id });
        const refused = await client.removePersonality(id).then(() => undefined, (error: unknown) => error);
        expect(refused).to.be.instanceOf(LollmsRequestError);
      } finally {
        await client.close();
      }
    });
  });

  describe('a configured personality whose folder is gone', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lollms-gone-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('is reported once, at warn, and dropped from the config; the active one keeps being active', async () => {
      const zoo = join(dir, 'zoo');
      await writePersonality(zoo, 'english/mine/kept', 'name: Kept\n');
      const data = join(dir, 'data');
      const start = async () => {
        const { logger, lines } = capturingLogger();
        const handle = await startHost({ dataDir: data, port: 0, env: {}, logger, config: { watch: false, n_threads: 1, enable_gpu: false, personalities_paths: [zoo] } });
        const names = handle.host.personalities.mounted.map((m) => m.name);
        await handle.close();
        return { lines, names };
      };
      await start();
      await writeFile(join(data, 'config.yaml'), 'personalities: [english/generic/lollms, english/mine/vanished, english/mine/kept]\nactive_personality_id: 2\n');
      const first = await start();
      expect(first.names).to.deep.equal(['lollms', 'Kept']);
      const reports = first.lines.filter((l) => String(l.msg).includes('english/mine/vanished'));
      expect(reports.map((l) => [l.level, l.msg])).to.deep.equal([
        [40, 'personality "english/mine/vanished" is in the config, but its folder is gone: dropped from the config\'s personalities (add_personality mounts it again once it is back)'],
      ]);
      expect(YAML.parse(await readFile(join(data, 'config.yaml'), 'utf8'))).to.deep.include({ personalities: ['english/generic/lollms', 'english/mine/kept'], active_personality_id: 1 });
      // The next start has nothing to say about it, and logs no error.
      const second = await start();
      expect(second.names).to.deep.equal(['lollms', 'Kept']);
      expect(second.lines.filter((l) => String(l.msg).includes('vanished') || l.level >= 50)).to.deep.equal([]);
    });
  });
});
