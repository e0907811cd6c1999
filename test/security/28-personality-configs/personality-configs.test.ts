/**
 * Class 28: personality configs (issue 11 §4). `config.yaml` was parsed in the host with no size limit, at every
 * listing: a 20 MB flow-style config crashed the host (V8 heap out of memory) on one
 * `list_available_personalities`, an 8 MB one cost 21 s and 4 GB RSS per listing.
 *
 * Now a config over 256 KiB is refused from its size, unread (`LH_ERR_PERSONALITY_CONFIG_TOO_LARGE`), by the
 * listing (which lists the others) and by `add_personality`; listings come from a cache that the watcher (or the
 * files' change times) refreshes. Driven through a real host over socket.io.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_PERSONALITY_CONFIG_BYTES } from '../../../core/personalities/config.js';
import { LoopWatch } from '../../helpers/event-loop.js';
import { request, startTestHost, type TestHost, type TestSocket } from '../../helpers/host.js';

/** A flow-style config of about `bytes` bytes: the shape that took the host's heap down. */
function flowConfig(bytes: number): string {
  const item = '[1, [2, [3, "x"]]], ';
  return `name: huge\nanti_prompts: [${item.repeat(Math.ceil(bytes / item.length))}]\n`;
}

type Listing = Record<string, Record<string, Array<{ folder: string; name: string }>>>;
const folders = (list: Listing) => Object.values(list).flatMap((byCategory) => Object.values(byCategory).flat().map((p) => p.folder)).sort();

describe('security 28: personality configs cannot crash or stall the host', function () {
  this.timeout(120_000);
  let zoo: string;
  let host: TestHost;
  let socket: TestSocket;

  before(async () => {
    zoo = await mkdtemp(join(tmpdir(), 'lh-security-zoo-'));
    const write = async (rel: string, text: string) => {
      await mkdir(join(zoo, rel), { recursive: true });
      await writeFile(join(zoo, rel, 'config.yaml'), text);
    };
    await write('english/attack/flow20mb', flowConfig(20 * 1024 * 1024));
    await write('english/attack/flow8mb', flowConfig(8 * 1024 * 1024));
    await write('english/attack/just-over', flowConfig(MAX_PERSONALITY_CONFIG_BYTES + 1));
    await write('english/ok/plain', 'name: Plain\npersonality_conditioning: "test"\n');
    host = await startTestHost({ config: { personalities_paths: [zoo], personalities: [] } });
    socket = await host.connect();
  });
  after(async () => {
    await host?.stop();
    if (zoo) await rm(zoo, { recursive: true, force: true });
  });

  it('listings leave the oversized configs out unread, list the others, and never hold the event loop', async () => {
    const rssBefore = process.memoryUsage().rss;
    const watch = new LoopWatch().start();
    for (let i = 0; i < 5; i++) {
      const reply = (await request(socket, 'list_available_personalities', {}, 'personalities_list', 30_000)) as { personalities: Listing; error?: string };
      expect(reply.error).to.equal(undefined);
      // The built-in personalities are listed too.
      const listed = folders(reply.personalities);
      expect(listed).to.include('plain');
      for (const attack of ['flow20mb', 'flow8mb', 'just-over']) expect(listed).not.to.include(attack);
    }
    const loop = watch.stop();
    expect(loop.maxHeldCpuMs, `loop held ${loop.maxHeldCpuMs} ms of CPU`).to.be.below(200);
    // Parsing 20 MB of flow-style YAML took gigabytes; reading it at all would take 20 MB.
    expect(process.memoryUsage().rss - rssBefore).to.be.below(16 * 1024 * 1024);
    const health = await fetch(`${host.url}/health`);
    expect(health.status).to.equal(200);
    await health.body?.cancel();
  });

  it('add_personality refuses them with a coded error that names no server path', async () => {
    for (const name of ['flow20mb', 'flow8mb', 'just-over']) {
      const reply = (await request(socket, 'add_personality', { path: `english/attack/${name}` }, 'personality_add_failed', 30_000)) as { error: string };
      expect(reply.error).to.contain('larger than the 256 KiB a personality config may have');
      expect(reply.error).not.to.contain(zoo);
    }
    const added = (await request(socket, 'add_personality', { path: 'english/ok/plain' }, 'personality_added', 30_000)) as { id: number };
    expect(added.id).to.be.a('number');
  });
});
