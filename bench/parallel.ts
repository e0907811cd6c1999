/**
 * Parallel generation (issue 18): 4 socket.io clients (in a separate process) on a host with 4 slots, against a
 * bare node-llama-cpp loop on 4 sequences of one context in this process, and against 1 client on a host with 1
 * slot. Same bench-preset model, prompt, sampling, seed, threads and tokens on every side; rounds interleaved
 * (the order turns each round, so a drift of machine speed favours no side).
 *
 * Prints `parallel aggregate/bare ratio` (host 4x4 over bare 4 sequences, in aggregate tokens/s; goal >= 0.95)
 * and `parallel speedup` (host 4x4 over host 1x1, reported as measured: it depends on the engine and threads).
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/parallel.ts`
 */
import { fork } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaCompletion } from 'node-llama-cpp';
import { startHost, type HostHandle } from '../core/host.js';
import { createLlamaEngine } from '../core/bindings/engine.js';
import { effectiveThreads } from '../core/config.js';
import { benchModel, median } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROMPT = 'the world is';
const SEED = 1234;
const SAMPLING = { temperature: 0.8, top_k: 40, top_p: 0.95, repeat_penalty: 1, repeat_last_n: 64, seed: SEED };

export interface ParallelBenchOptions {
  /** Interleaved rounds after a warm-up. Default 5. */
  rounds?: number;
  /** Tokens per generation. Default 128. */
  tokens?: number;
  /** Clients (and slots, and bare sequences). Default 4. */
  clients?: number;
  /** Engine threads, for the hosts and the bare loop. Default cores - 1. */
  threads?: number;
  print?: (line: string) => void;
}

export interface ParallelBenchResult {
  /** Host with `clients` slots and clients over the bare loop on as many sequences (aggregate tokens/s). */
  ratio: number;
  /** Host with `clients` slots and clients over a host with 1 slot and 1 client (aggregate tokens/s). */
  speedup: number;
}

/** A host on the bench model with `parallel` slots, in a data dir of its own. */
async function benchHost(modelPath: string, parallel: number, threads: number): Promise<{ handle: HostHandle; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lollms-bench-parallel-'));
  await mkdir(join(dataDir, 'models', 'llama_cpp'), { recursive: true });
  await writeFile(join(dataDir, 'models', 'llama_cpp', 'bench.reference'), modelPath);
  const handle = await startHost({
    port: 0,
    dataDir,
    env: {},
    config: { model_name: 'bench.reference', parallel, n_threads: threads, enable_gpu: false, watch: false, log_level: 'silent', personalities: [] },
  });
  return { handle, dataDir };
}

export async function runParallelBench(options: ParallelBenchOptions = {}): Promise<ParallelBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const rounds = options.rounds ?? 5;
  const tokens = options.tokens ?? 128;
  const clients = options.clients ?? 4;
  const threads = options.threads ?? effectiveThreads({ n_threads: 0 });
  const modelPath = await benchModel(join(here, '.models'));
  const wide = await benchHost(modelPath, clients, threads);
  const narrow = await benchHost(modelPath, 1, threads);
  const client = fork(resolve(here, 'socket-client.ts'), [wide.handle.url], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(command: unknown) =>
    new Promise<T>((resolveAnswer, reject) => {
      client.once('message', (answer) => ((answer as { error?: string }).error ? reject(new Error((answer as { error: string }).error)) : resolveAnswer(answer as T)));
      client.send(command as never);
    });
  await new Promise((r) => client.once('message', r));
  const engine = createLlamaEngine({ gpu: false, threads });
  try {
    const llama = await engine.getLlama();
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    // As the host creates it: ctx_size (2048) per sequence, one sequence per slot.
    const context = await model.createContext({ contextSize: 2048, sequences: clients, threads });
    const completions = Array.from({ length: clients }, () => new LlamaCompletion({ contextSequence: context.getSequence() }));
    const promptTokens = model.tokenize(PROMPT, true);
    /** The bare loop: `clients` completions at once on the sequences of one context. */
    const bare = async () => {
      let count = 0;
      let text = '';
      const start = performance.now();
      await Promise.all(
        completions.map((completion, i) =>
          completion.generateCompletionWithMeta(promptTokens, {
            temperature: SAMPLING.temperature, topK: SAMPLING.top_k, topP: SAMPLING.top_p, repeatPenalty: false, seed: SEED, maxTokens: tokens,
            onToken: (t) => { count += t.length; },
            onTextChunk: (chunk) => { if (i === 0) text += chunk; },
          }),
        ),
      );
      return { ms: performance.now() - start, count, text };
    };
    type HostRun = { totalMs: number; texts: string[]; count: number };
    /** `n` clients at once on `host`; the tokens each generated are the host's own count (`GET /status`'s). */
    const viaHost = async (host: HostHandle, n: number): Promise<HostRun> => {
      const run = await ask<Omit<HostRun, 'count'>>({ kind: 'parallel', url: host.url, clients: n, prompt: PROMPT, n_predicts: tokens, parameters: SAMPLING });
      const count = host.host.generation.status().recent.slice(-n).reduce((sum, g) => sum + g.completionTokens, 0);
      return { ...run, count };
    };

    print(`threads: ${threads}`);
    print(`clients and slots: ${clients}`);
    print(`tokens per generation: ${tokens}`);
    print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
    const warmHost = await viaHost(wide.handle, clients);
    const warmSingle = await viaHost(narrow.handle, 1);
    const warmBare = await bare();
    // Batched evaluation may round differently from one sequence alone: the texts may differ, the counts may not.
    print(`same output (4 slots vs 1 slot): ${warmHost.texts.every((t) => t === warmSingle.texts[0]) ? 'yes' : 'no'}`);
    print(`same output (host vs bare): ${warmHost.texts.every((t) => t.trimStart() === warmBare.text.trimStart()) ? 'yes' : 'no'}`);
    print(`tokens per run: host ${warmHost.count}, bare ${warmBare.count}, single ${warmSingle.count}`);

    const ratios: number[] = [];
    const speedups: number[] = [];
    const sides = ['host', 'bare', 'single'] as const;
    for (let round = 1; round <= rounds; round++) {
      const tps: Partial<Record<(typeof sides)[number], number>> = {};
      // Each round starts with another side.
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(i + round) % sides.length]!;
        if (side === 'bare') {
          const run = await bare();
          tps.bare = (run.count / run.ms) * 1000;
        } else {
          const run = await viaHost(side === 'host' ? wide.handle : narrow.handle, side === 'host' ? clients : 1);
          tps[side] = (run.count / run.totalMs) * 1000;
        }
      }
      const hostTps = tps.host!;
      const bareTps = tps.bare!;
      const singleTps = tps.single!;
      ratios.push(hostTps / bareTps);
      speedups.push(hostTps / singleTps);
      print(`round ${round} host ${clients}x${clients} tokens/s: ${hostTps.toFixed(1)}`);
      print(`round ${round} bare ${clients} sequences tokens/s: ${bareTps.toFixed(1)}`);
      print(`round ${round} host 1x1 tokens/s: ${singleTps.toFixed(1)}`);
    }
    const result = { ratio: median(ratios), speedup: median(speedups) };
    print(`parallel aggregate/bare ratio: ${result.ratio.toFixed(2)}`);
    print(`parallel speedup: ${result.speedup.toFixed(2)}`);
    for (const completion of completions) completion.dispose();
    await context.dispose();
    await model.dispose();
    return result;
  } finally {
    client.send({ kind: 'exit' });
    await engine.dispose();
    for (const host of [wide, narrow]) {
      await host.handle.close();
      await rm(host.dataDir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runParallelBench();
}
