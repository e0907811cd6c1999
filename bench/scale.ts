/**
 * One host at scale (issue 18), measured side by side in one run:
 *
 * - `idle personality first-request overhead ms`: a processor personality's request after the pool ended its
 *   idle sandbox process (the spare ready, as after minutes of idleness), minus the same request on its running
 *   process, in alternating pairs through socket.io; median of the pairs. Goal <= 150.
 * - `rss per mounted processor personality MB`: resident memory of a host and every process below it with 300
 *   processor personalities mounted (made from one template, on the test model), minus the same host with none,
 *   over 300. Goal <= 3. Also the totals (goal: under 1 GB), PSS (shared pages split between processes), and the
 *   figures once every idle process was ended.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/scale.ts`
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHost } from '../core/host.js';
import { connectTestClient, nextEvent } from '../core/testing.js';
import { median } from './common.js';
// The test's own fixtures: the same template and child host as the memory test of test/sandbox-pool.test.ts.
import { writePersonality } from '../test/helpers/zoo.js';

const MB = 1024 * 1024;

const PROCESSOR = `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({
  async runWorkflow(input, ctx) {
    ctx.step('thinking');
    return 'answer to ' + input.prompt;
  },
});
`;

export interface ScaleBenchOptions {
  /** Warm/cold pairs. Default 15. */
  pairs?: number;
  /** Processor personalities mounted for the memory figures. Default 300. */
  personalities?: number;
  print?: (line: string) => void;
}

export interface ScaleBenchResult {
  idleFirstRequestOverheadMs: number;
  rssPerPersonalityMb: number;
}

/** Warm and cold requests to one processor personality. */
async function idleOverhead(pairs: number, print: (line: string) => void): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lollms-bench-idle-'));
  const zoo = join(dataDir, 'zoo');
  await writePersonality(zoo, 'english/bench/idle', 'name: Idle bench\nprocessor_cfg: {custom_workflow: true}\n', { 'scripts/processor.ts': PROCESSOR });
  const handle = await startHost({
    port: 0, dataDir, env: {},
    config: { personalities_paths: [zoo], personalities: ['english/bench/idle'], n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent' },
  });
  const socket = await connectTestClient(handle.url);
  const ask = async () => {
    const start = performance.now();
    const done = nextEvent(socket, 'text_generated', 30_000);
    socket.emit('generate_text', { prompt: 'x', personality: 0 });
    await done;
    return performance.now() - start;
  };
  try {
    const pool = handle.host.sandboxPool;
    await ask();
    const warm: number[] = [];
    const cold: number[] = [];
    const overheads: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const w = await ask();
      pool.reclaimIdle();
      // Idle for a while: the process is gone and the spare is ready, as for a personality idle for minutes.
      while (pool.processes > 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 700));
      const c = await ask();
      warm.push(w);
      cold.push(c);
      overheads.push(c - w);
    }
    print(`warm personality request ms (median): ${median(warm).toFixed(1)}`);
    print(`idle personality request ms (median): ${median(cold).toFixed(1)}`);
    const overhead = median(overheads);
    print(`idle personality first-request overhead ms: ${overhead.toFixed(1)}`);
    return overhead;
  } finally {
    socket.close();
    await handle.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

type Memory = { memory: { rss: number; pss: number; processes: number }; processes: number };

/** A child host with `count` processor personalities: its memory as mounted, and once idle processes were ended. */
async function hostMemory(count: number): Promise<{ mounted: Memory; idle: Memory; mountMs: number }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('../test/helpers/many-personalities-host.ts', import.meta.url)), [], {
    execArgv: ['--no-node-snapshot', '--conditions=lollms-host-source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies: Array<(reply: unknown) => void> = [];
  child.on('message', (reply) => replies.shift()?.(reply));
  const ask = <T>(command: unknown) =>
    new Promise<T>((resolveReply, reject) => {
      replies.push((reply) => ((reply as { error?: string }).error ? reject(new Error((reply as { error: string }).error)) : resolveReply(reply as T)));
      child.send(command as never);
    });
  await new Promise<void>((r) => replies.push(() => r()));
  try {
    const started = await ask<{ mountMs: number }>({ kind: 'start', count, config: {} });
    const mounted = await ask<Memory>({ kind: 'memory' });
    await ask({ kind: 'reclaim' });
    const idle = await ask<Memory>({ kind: 'memory' });
    return { mounted, idle, mountMs: started.mountMs };
  } finally {
    await ask({ kind: 'exit' }).catch(() => {});
    child.kill();
  }
}

export async function runScaleBench(options: ScaleBenchOptions = {}): Promise<ScaleBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const count = options.personalities ?? 300;
  print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
  const idleFirstRequestOverheadMs = await idleOverhead(options.pairs ?? 15, print);
  const none = await hostMemory(0);
  const many = await hostMemory(count);
  const mb = (bytes: number) => (bytes / MB).toFixed(0);
  print(`processor personalities mounted: ${count}`);
  print(`mount ms per processor personality: ${(many.mountMs / count).toFixed(1)}`);
  print(`sandbox processes running after the mount: ${many.mounted.processes}`);
  print(`rss host + sandboxes MB, none mounted: ${mb(none.mounted.memory.rss)}`);
  print(`rss host + sandboxes MB, ${count} mounted: ${mb(many.mounted.memory.rss)}`);
  print(`pss host + sandboxes MB, ${count} mounted: ${mb(many.mounted.memory.pss)}`);
  print(`rss host + sandboxes MB, ${count} mounted, idle processes ended: ${mb(many.idle.memory.rss)}`);
  const rssPerPersonalityMb = (many.mounted.memory.rss - none.mounted.memory.rss) / count / MB;
  print(`rss per mounted processor personality MB, idle processes ended: ${((many.idle.memory.rss - none.idle.memory.rss) / count / MB).toFixed(2)}`);
  print(`rss per mounted processor personality MB: ${rssPerPersonalityMb.toFixed(2)}`);
  return { idleFirstRequestOverheadMs, rssPerPersonalityMb };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runScaleBench();
}
