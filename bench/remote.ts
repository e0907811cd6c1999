/**
 * The openai_remote binding against the engine it fronts: the official `openai` SDK (its own process) streams
 * the same chat completion from an engine host serving the bench-preset model, once directly and once through a
 * front host (its own process) whose openai_remote binding has that engine as its one endpoint. Same messages,
 * sampling, seed and token count; rounds interleaved. Prints `remote/direct tokens/s ratio` (remote tokens/s
 * over direct tokens/s, median of the rounds; goal >= 0.95) and `remote first-chunk overhead ms`.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/remote.ts`
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternateRounds, median, startBenchHost, streamBenchSettings, type SdkRun, type StreamBenchOptions } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const MESSAGES = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'Tell me about the world.' },
];
const SAMPLING = { temperature: 0.8, top_k: 40, top_p: 0.95, repeat_penalty: 1, seed: 1234 };

export type RemoteBenchOptions = StreamBenchOptions;


export async function runRemoteBench(options: RemoteBenchOptions = {}): Promise<{ ratio: number; firstChunkOverheadMs: number }> {
  const { print, rounds, tokens, threads } = streamBenchSettings(options);
  const engine = await startBenchHost(threads, 'openai-client.ts');
  const front = fork(resolve(here, 'remote-front.ts'), [engine.host.url], { execArgv: ['--no-node-snapshot', '--conditions=lollms-host-source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const frontExited = new Promise((r) => front.once('exit', r));
  try {
    const frontUrl = await new Promise<string>((resolveUrl, reject) => {
      front.once('message', (m) => resolveUrl((m as { url: string }).url));
      front.once('exit', (code) => reject(new Error(`the front host exited with ${code}`)));
    });
    const run = (url?: string) => engine.ask<SdkRun>({ kind: 'run', ...(url ? { url, model: 'bench' } : { model: 'bench.reference' }), messages: MESSAGES, max_tokens: tokens, sampling: SAMPLING });
    const direct = () => run();
    const remote = () => run(frontUrl);
    print(`threads: ${threads}`);
    print(`tokens per run: ${tokens}`);
    print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
    const warmRemote = await remote();
    const warmDirect = await direct();
    print(`same output: ${warmRemote.text === warmDirect.text ? 'yes' : 'no'}`);
    const ratios: number[] = [];
    const overheads: number[] = [];
    await alternateRounds(rounds, remote, direct, (round, r, d) => {
      if (r.tokens !== d.tokens) print(`warning: round ${round} token counts differ: remote ${r.tokens}, direct ${d.tokens}`);
      ratios.push((r.tokens / r.totalMs) / (d.tokens / d.totalMs));
      overheads.push(r.firstChunkMs - d.firstChunkMs);
      print(`round ${round} remote tokens/s: ${((r.tokens / r.totalMs) * 1000).toFixed(1)}, first chunk ${r.firstChunkMs.toFixed(1)} ms`);
      print(`round ${round} direct tokens/s: ${((d.tokens / d.totalMs) * 1000).toFixed(1)}, first chunk ${d.firstChunkMs.toFixed(1)} ms`);
    });
    const result = { ratio: median(ratios), firstChunkOverheadMs: median(overheads) };
    print(`remote/direct tokens/s ratio: ${result.ratio.toFixed(2)}`);
    print(`remote first-chunk overhead ms: ${result.firstChunkOverheadMs.toFixed(1)}`);
    return result;
  } finally {
    if (front.exitCode === null && front.connected) front.send('exit');
    await frontExited;
    await engine.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runRemoteBench();
}
