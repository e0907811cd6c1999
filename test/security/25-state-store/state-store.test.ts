import { expect } from 'chai';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from '../../helpers/host.js';
import { SecurityBench, SECURITY_LIMITS, report } from '../helpers.js';

/** Limits of this class: ctx.state per discussion and ctx.store per personality, in UTF-8 bytes. */
const STATE_BYTES = 100_000;
const STORE_BYTES = 64 * 1024;

/**
 * Class 25: what a processor keeps (issue 14). `ctx.state` is JSON data only, bounded in UTF-8 bytes (as the
 * host counts them), kept per client discussion and per personality, and a hook that leaves a state it cannot
 * keep fails and leaves the previous one. `ctx.store` keys are names, never paths; values are JSON; the quota
 * holds; concurrent writes do not lose each other; a corrupt store file is set aside; every call is a host call.
 */
describe('security 25: ctx.state and ctx.store', function () {
  this.timeout(120_000);
  const bench = new SecurityBench(new URL('.', import.meta.url), { sandbox_max_state_bytes: STATE_BYTES, personality_store_max_bytes: STORE_BYTES });
  before(() => bench.start());
  after(() => bench.stop());

  const turn = async (name: string, prompt: string, socket = bench.attacker) => {
    const id = await bench.add(name, { processor: name.startsWith('state') ? 'state-play' : 'store-play' });
    return generate(socket, { prompt, personality: id, n_predicts: 4 });
  };
  const look = async (name = 'state-play', socket = bench.attacker) => JSON.parse((await turn(name, 'look', socket)).text ?? 'null') as Record<string, unknown>;

  describe('ctx.state', () => {
    it('a state over the limit in UTF-8 bytes (not characters) fails the hook with LH_ERR_STATE_TOO_LARGE; the last one stays', async () => {
      expect((await turn('state-play', 'set:kept')).text).to.equal('set');
      expect((await turn('state-play', 'grow')).text).to.equal('grew');
      const second = await turn('state-play', 'grow');
      expect(second.error).to.match(/ctx\.state is 180\d\d\d bytes of JSON \(UTF-8\), more than the sandbox limit of 100000 bytes/);
      expect(await look()).to.include({ v: 'kept', grow: 1 });
    });

    it('cycles, bigints, a toJSON and throwing getters fail the hook with a clear error and change nothing', async () => {
      const errors: Record<string, string | undefined> = {};
      for (const what of ['cycle', 'bigint', 'tojson', 'getter']) errors[what] = (await turn('state-play', what)).error;
      expect(errors['cycle']).to.match(/ctx\.state must hold JSON data only: .*circular/i);
      expect(errors['bigint']).to.match(/ctx\.state must hold JSON data only: .*BigInt/i);
      expect(errors['tojson']).to.match(/ctx\.state must stay an object/);
      expect(errors['getter']).to.match(/ctx\.state must hold JSON data only: boom/);
      expect(await look()).to.include({ v: 'kept', grow: 1 });
    });

    it('a prototype set on the state does not travel: the next turn gets plain data, the host prototypes stay clean', async () => {
      expect((await turn('state-play', 'proto')).text).to.equal('proto');
      const seen = await look();
      expect(seen['v']).to.equal('kept');
      expect(seen['keys']).to.deep.equal(['constructor', 'grow', 'v']);
      await bench.expectContained({ ms: 0, events: [] });
    });

    it("one personality cannot read another's state, nor one client another client's", async () => {
      expect(await look('state-peek')).to.deep.equal({ grow: 0, polluted: null, keys: [] });
      expect(await look('state-play', bench.bystander)).to.deep.equal({ grow: 0, polluted: null, keys: [] });
    });
  });

  describe('ctx.store', () => {
    it('bad keys and values are coded errors or TypeErrors; a key is a name, never a path; __proto__ is plain data', async () => {
      const result = await turn('store-abuse', 'abuse');
      expect(Object.fromEntries(report<Array<[string, string]>>({ ...result, ms: 0, events: [] }))).to.deep.equal({
        'empty key': 'LH_ERR_STORE_KEY',
        'key of 257 characters': 'LH_ERR_STORE_KEY',
        'key with a newline': 'LH_ERR_STORE_KEY',
        'key not a string': 'ok',
        'a function': 'TypeError',
        'undefined': 'TypeError',
        'a bigint': 'TypeError',
        'a cycle': 'TypeError',
        '600 KB, over the quota': 'LH_ERR_STORE_QUOTA',
        'a key like a path': 'ok',
        'read it back': '"overwritten?"',
        ['__proto__']: 'ok',
        '__proto__ back': '{"polluted":"yes"}',
        'constructor': 'ok',
        'keys': '["../../../secret.txt","__proto__","constructor"]',
      });
      // The data dir's own files are untouched, and the store wrote one file, in its folder.
      expect(await readFile(join(bench.host.dataDir, 'secret.txt'), 'utf8')).to.equal(bench.secret);
      expect(await readdir(join(bench.host.dataDir, 'store', 'personalities'))).to.deep.equal(['sec%2Fstore-abuse.json']);
      await bench.expectContained({ ms: 0, events: [] });
    });

    it('the quota holds: the set that would pass it fails with LH_ERR_STORE_QUOTA and writes nothing', async () => {
      const result = await turn('store-abuse', 'fill');
      expect(result.text).to.equal('6 LH_ERR_STORE_QUOTA');
      const file = await readFile(join(bench.host.dataDir, 'store', 'personalities', 'sec%2Fstore-abuse.json'), 'utf8');
      expect(Buffer.byteLength(file)).to.be.below(STORE_BYTES + 1024);
      expect(Object.keys(JSON.parse(file) as object).filter((k) => k.startsWith('fill-'))).to.have.length(6);
    });

    it("160 writes racing 8 at a time all land; another personality sees none of this one's keys", async () => {
      const raced = await turn('store-race', 'race');
      expect(raced.error, raced.error).to.equal(undefined);
      expect(JSON.parse(raced.text ?? 'null')).to.deep.equal({ keys: 160, sum: (159 * 160) / 2 });
      const file = JSON.parse(await readFile(join(bench.host.dataDir, 'store', 'personalities', 'sec%2Fstore-race.json'), 'utf8')) as object;
      expect(Object.keys(file)).to.have.length(160);
      expect((await turn('store-peek', 'keys')).text).to.equal('[]');
    });

    it('a corrupt store file is set aside: the personality starts empty and can write again', async () => {
      const folder = join(bench.host.dataDir, 'store', 'personalities');
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, 'sec%2Fstore-corrupt.json'), '{"half": ');
      expect((await turn('store-corrupt', 'keys')).text).to.equal('[]');
      expect((await turn('store-corrupt', 'set')).text).to.equal('["after"]');
      expect(await readFile(join(folder, 'sec%2Fstore-corrupt.json.rejected'), 'utf8')).to.equal('{"half": ');
    });

    it('every store call is a host call: 2,000 reads end the turn at sandbox_max_host_calls', async () => {
      const result = await turn('store-spam', 'spam');
      expect(result.error).to.match(/exceeded its limit of 1000 host calls per turn/);
      await bench.expectContained({ ms: 0, events: [] }, SECURITY_LIMITS.sandbox_wall_time_ms);
    });
  });
});
