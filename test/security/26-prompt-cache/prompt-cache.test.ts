/**
 * Class 26: prompt caches between clients (issue 11 §5), through a real host. llama.cpp evaluates a prompt that
 * extends the prompt cached on its sequence faster (only the new tokens); with one cache for all clients, a
 * client could learn another client's prompt by timing guesses. The host passes each client's id as the
 * binding's `session`, and the binding reuses a cache only within a session.
 *
 * The proof is the binding's own count of prompt tokens it took from its cache (`prompt_cached_tokens` of
 * `GET /status`), not timing: client B's prompt, which extends client A's, is evaluated in full. The controls
 * show the count is real: A's own longer prompt does reuse A's prefix.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusReport } from '../../../core/transports/http/status.js';
import { generate, request, startTestHost, type TestHost, type TestSocket } from '../../helpers/host.js';

/** A's prompt, and B's: A's plus more (the guess that a shared cache would have answered fast). */
const PREFIX = 'hello world, the cat sat on the mat. '.repeat(6);
const EXTENDED = `${PREFIX}the end of the hello world.`;

type Generation = StatusReport['recent_generations'][number];

async function lastGeneration(host: TestHost): Promise<Generation> {
  const status = (await (await fetch(`${host.url}/status`)).json()) as StatusReport;
  const last = status.recent_generations.at(-1);
  if (!last) throw new Error('no generation in /status');
  return last;
}

/** A raw generation of `socket`; the host's record of it. */
async function raw(host: TestHost, socket: TestSocket, prompt: string): Promise<Generation> {
  const result = await generate(socket, { prompt, personality: -1, n_predicts: 2, seed: 1 });
  expect(result.error, result.error).to.equal(undefined);
  const record = await lastGeneration(host);
  expect(record).to.include({ mode: 'raw', outcome: 'done' });
  return record;
}

for (const parallel of [1, 2]) {
  describe(`security 26: prompt caches between clients (parallel: ${parallel})`, function () {
    this.timeout(60_000);
    let host: TestHost;
    let zoo: string;
    let alice: TestSocket;
    let bob: TestSocket;

    before(async () => {
      zoo = await mkdtemp(join(tmpdir(), 'lh-security-cache-'));
      // A processor whose workflow generates from the user's prompt: its ctx.generate carries the session too.
      const dir = join(zoo, 'sec', 'echo');
      await mkdir(join(dir, 'scripts'), { recursive: true });
      await writeFile(join(dir, 'config.yaml'), 'name: echo\nauthor: security-suite\nversion: 1.0.0\npersonality_conditioning: ""\nanti_prompts: []\nmodel_n_predicts: 2\n');
      await writeFile(
        join(dir, 'scripts', 'processor.ts'),
        `export default { async runWorkflow(input, ctx) { return ctx.generate(input.prompt, { maxTokens: 2, seed: 1 }); } };\n`,
      );
      host = await startTestHost({ config: { personalities_paths: [zoo], parallel, ctx_size: 1024 } });
      alice = await host.connect();
      bob = await host.connect();
    });
    after(async () => {
      await host?.stop();
      if (zoo) await rm(zoo, { recursive: true, force: true });
    });

    it("B's prompt that extends A's is evaluated in full; A's own longer prompt reuses A's prefix (raw mode)", async () => {
      const a = await raw(host, alice, PREFIX);
      expect(a.prompt_tokens).to.be.greaterThan(50);
      const b = await raw(host, bob, EXTENDED);
      expect(b.prompt_tokens).to.be.greaterThan(a.prompt_tokens);
      expect(b.prompt_cached_tokens, "B was served from A's cache").to.equal(0);
      // A again, with the longer prompt: A's prefix comes from A's own cache (with one sequence, B's turn
      // cleared it; with two, A kept its own).
      const again = await raw(host, alice, PREFIX);
      const cachedBefore = parallel === 1 ? 0 : a.prompt_tokens - 1;
      expect(again.prompt_cached_tokens).to.equal(cachedBefore);
      const own = await raw(host, alice, EXTENDED);
      expect(own.prompt_cached_tokens, "A's own prefix").to.be.at.least(a.prompt_tokens - 2);
      // B guesses once more, right after A ran that very prompt.
      const guess = await raw(host, bob, EXTENDED);
      if (parallel === 1) expect(guess.prompt_cached_tokens, "B was served from A's cache").to.equal(0);
      else expect(guess.prompt_cached_tokens, "B's own earlier prompt, kept in B's sequence").to.equal(b.prompt_tokens - 1);
    });

    it("a processor's ctx.generate of B never reuses A's cached prompt", async () => {
      // Two new clients: neither has a cache of its own yet.
      const carol = await host.connect();
      const dave = await host.connect();
      const added = (await request(carol, 'add_personality', { path: 'sec/echo' }, 'personality_added', 30_000)) as { id: number };
      const turn = async (socket: TestSocket, prompt: string): Promise<Generation> => {
        const result = await generate(socket, { prompt, personality: added.id, n_predicts: 2 });
        expect(result.error, result.error).to.equal(undefined);
        return lastGeneration(host);
      };
      const a = await turn(carol, PREFIX);
      expect(a.prompt_tokens).to.be.greaterThan(50);
      const b = await turn(dave, EXTENDED);
      expect(b.prompt_cached_tokens, "B's workflow was served from A's cache").to.equal(0);
      const own = await turn(carol, `${PREFIX}${EXTENDED}`);
      if (parallel === 2) expect(own.prompt_cached_tokens, "A's own prefix").to.be.at.least(a.prompt_tokens - 2);
    });
  });
}
