/**
 * A host with many processor personalities, run in a child process of its own so that its memory can be
 * measured apart from the test runner's. Forked by test/sandbox-pool.test.ts; it takes commands over IPC:
 * `{kind: 'start', count, config}` writes `count` personalities from one template, starts the host with all of
 * them mounted and answers `{url, pid}`; `{kind: 'memory'}` answers the memory of the host and every process
 * below it, with the pool's process count; `{kind: 'reclaim'}` ends every idle sandbox process and answers once
 * they are gone; `{kind: 'exit'}` closes the host and ends. `bench/scale.ts` forks it too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, type HostHandle } from '../../core/host.js';
import type { HostConfig } from '../../core/config.js';
import { processTreeMemory } from '../../core/util/process-memory.js';
import { writePersonality } from './zoo.js';

/** The template every generated personality is made from: a processor that answers with its own number. */
export const TEMPLATE_PROCESSOR = (n: number) => `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({
  settings: { greeting: { type: 'str', value: 'hello', help: 'what it says first' } },
  async runWorkflow(input, ctx) {
    ctx.step('personality ${n}');
    return ctx.settings.greeting + ' from ${n}';
  },
});
`;

type Command = { kind: 'start'; count: number; config: Partial<HostConfig> } | { kind: 'memory' } | { kind: 'reclaim' } | { kind: 'exit' };

if (!process.send) throw new Error('forked by a test, with an IPC channel');
let handle: HostHandle | undefined;
let dataDir: string | undefined;
const send = (message: unknown) => process.send!(message);

process.on('message', (command: Command) => {
  void (async () => {
    try {
      if (command.kind === 'start') {
        dataDir = await mkdtemp(join(tmpdir(), 'lollms-many-'));
        const zoo = join(dataDir, 'zoo');
        const paths: string[] = [];
        for (let n = 0; n < command.count; n++) {
          const path = `english/generated/p${n}`;
          await writePersonality(zoo, path, `name: Generated ${n}\nauthor: tests\nprocessor_cfg: {custom_workflow: true}\n`, { 'scripts/processor.ts': TEMPLATE_PROCESSOR(n) });
          paths.push(path);
        }
        const started = performance.now();
        handle = await startHost({
          port: 0,
          dataDir,
          env: {},
          config: { personalities_paths: [zoo], personalities: paths, n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent', ...command.config },
        });
        send({ url: handle.url, mountMs: performance.now() - started, mounted: handle.host.personalities.mounted.filter((m) => m.current).length });
      } else if (command.kind === 'memory') {
        send({ memory: await processTreeMemory(), processes: handle?.host.sandboxPool.processes });
      } else if (command.kind === 'reclaim') {
        const pool = handle!.host.sandboxPool;
        pool.reclaimIdle();
        while (pool.processes > 0) await new Promise((r) => setTimeout(r, 10));
        send({ processes: pool.processes });
      } else {
        await handle?.close();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
        send({ closed: true });
        process.disconnect();
      }
    } catch (error) {
      send({ error: String((error as Error)?.stack ?? error) });
    }
  })();
});
send({ ready: true });
