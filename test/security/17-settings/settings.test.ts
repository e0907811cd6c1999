/**
 * Class 17: personality settings (issue 11 §4). Settings are host-wide and copied into the sandbox on every
 * call: one client saved a 50 MB `system_prompt`, and from then on every client's turn failed with the memory
 * limit, even after a restart. Now every value is bounded (`personality_setting_max_bytes` for a str or a list,
 * safe integers, the template's ranges), a refused write keeps the old values, and a poisoned value already on
 * disk is reset (or a poisoned file set aside unparsed) when the host starts again.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settingsFileName } from '../../../core/personalities/settings.js';
import { SecurityBench } from '../helpers.js';
import { request, startTestHost } from '../../helpers/host.js';

type SettingsReply = { success: boolean; error?: string; settings?: Record<string, unknown> };
const MAX = 4096;

describe('security 17: personality settings are bounded', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { personality_setting_max_bytes: MAX });
  let id: number;
  before(async () => {
    await bench.start();
    id = await bench.add('settings');
  });
  after(() => bench.stop());

  const set = (settings: Record<string, unknown>) =>
    request(bench.attacker, 'set_personality_settings', { id, settings }, 'personality_settings') as Promise<SettingsReply>;

  it('oversized str and list values, unsafe integers and out-of-range numbers are refused; the old values stay', async () => {
    expect((await set({ system_prompt: 'x'.repeat(100), tags: ['a', 'b'], count: 7 })).success).to.equal(true);
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ system_prompt: 'x'.repeat(MAX + 1) }, /system_prompt.*above the limit of 4096 bytes/],
      [{ system_prompt: 'é'.repeat(MAX / 2 + 1) }, /above the limit/],
      [{ tags: Array.from({ length: 2000 }, () => 'tag') }, /tags.*above the limit/],
      [{ tags: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) }, /nested deeper/],
      [{ count: 1e300 }, /count.*integer/],
      [{ count: 101 }, /above the maximum 100/],
      // One bad value refuses the whole write: the good one next to it is not saved either.
      [{ count: 9, system_prompt: 'y'.repeat(MAX * 2) }, /above the limit/],
    ];
    for (const [settings, expected] of refused) {
      const reply = await set(settings);
      expect(reply.success, JSON.stringify(settings).slice(0, 80)).to.equal(false);
      expect(reply.error).to.match(expected);
      expect(reply.error!.length).to.be.below(1100);
    }
    const now = (await request(bench.bystander, 'get_personality_settings', { id }, 'personality_settings')) as SettingsReply;
    expect(now.settings).to.deep.include({ system_prompt: 'x'.repeat(100), tags: ['a', 'b'], count: 7 });
    // Every client's turn still works.
    const turn = await bench.attack('settings', 'hi', { socket: bench.bystander });
    expect(turn.error).to.equal(undefined);
    expect(JSON.parse(turn.text!)).to.deep.equal({ prompt: 100, tags: 2, count: 7 });
    await bench.expectContained(turn);
  });

  it('a poisoned value already on disk is reset when the host starts again; a huge file is set aside unparsed', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lh-poisoned-'));
    try {
      const file = join(dataDir, 'settings', 'personalities', settingsFileName('sec/settings'));
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dataDir, 'settings', 'personalities'), { recursive: true });
      // Saved before the bounds existed: an 8 MB system_prompt next to a good value.
      await writeFile(file, `system_prompt: "${'p'.repeat(8 * 1024 * 1024)}"\ncount: 5\n`);
      const again = await startTestHost({ dataDir, config: { personalities_paths: [bench.zoo], personality_setting_max_bytes: MAX } });
      try {
        const socket = await again.connect();
        const added = (await request(socket, 'add_personality', { path: 'sec/settings' }, 'personality_added', 30_000)) as { id: number };
        const reply = (await request(socket, 'get_personality_settings', { id: added.id }, 'personality_settings')) as SettingsReply;
        expect(reply.settings).to.deep.include({ system_prompt: 'be nice' });
        expect(existsSync(`${file}.rejected`)).to.equal(true);
        const { generate } = await import('../../helpers/host.js');
        const turn = await generate(socket, { prompt: 'hi', personality: added.id });
        expect(turn.error).to.equal(undefined);
        expect(JSON.parse(turn.text!)).to.include({ prompt: 'be nice'.length });
      } finally {
        await again.stop();
      }
      // A file of normal size with one value over the bound: that value is reset, the others kept.
      await rm(`${file}.rejected`);
      await writeFile(file, `system_prompt: "${'q'.repeat(MAX + 10)}"\ncount: 5\n`);
      const third = await startTestHost({ dataDir, config: { personalities_paths: [bench.zoo], personality_setting_max_bytes: MAX } });
      try {
        const socket = await third.connect();
        const added = (await request(socket, 'add_personality', { path: 'sec/settings' }, 'personality_added', 30_000)) as { id: number };
        const reply = (await request(socket, 'get_personality_settings', { id: added.id }, 'personality_settings')) as SettingsReply;
        expect(reply.settings).to.deep.include({ system_prompt: 'be nice', count: 5 });
      } finally {
        await third.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
