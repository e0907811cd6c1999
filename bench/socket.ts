/**
 * The whole path against the bare engine: a socket.io client in a separate process sends raw `generate_text`
 * to a real host serving the bench-preset model, interleaved with a bare node-llama-cpp `LlamaCompletion`
 * loop in this process on the same model file, prompt, sampling, seed, threads and token count. Prints
 * `socket/bare tokens/s ratio`, `first-chunk overhead ms` and `cancel-to-last-chunk ms`.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/socket.ts`
 */
import { fork } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaCompletion } from 'node-llama-cpp';
import { startHost } from '../core/host.js';
import { createLlamaEngine } from '../core/bindings/engine.js';
import { effectiveThreads } from '../core/config.js';
import { benchModel, median } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROMPT = 'the world is';
const SEED = 1234;
const SAMPLING = { temperature: 0.8, top_k: 40, top_p: 0.95, repeat_penalty: 1, repeat_last_n: 64, seed: SEED };

export interface SocketBenchOptions {
  /** Interleaved A/B rounds after a warm-up. Default 7. */
  rounds?: number;
  /** Tokens per run. Default 128. */
  tokens?: number;
  /** Engine threads, for the host and the bare loop. Default cores - 1. */
  threads?: number;
  /** Receives each `name: value` line. */
  print?: (line: string) => void;
}

export async function runSocketBench(options: SocketBenchOptions = {}): Promise<{ ratio: number; firstChunkOverheadMs: number; cancelToLastChunkMs: number }> {
  const print = options.print ?? ((line: string) => console.log(line));
  const rounds = options.rounds ?? 7;
  const tokens = options.tokens ?? 128;
  const threads = options.threads ?? effectiveThreads({ n_threads: 0 });
  const modelPath = await benchModel(join(here, '.models'));
  const dataDir = await mkdtemp(join(tmpdir(), 'lollms-bench-'));
  // The host finds the bench model through a .reference file, the original's convention for models kept elsewhere.
  await mkdir(join(dataDir, 'models', 'llama_cpp'), { recursive: true });
  await writeFile(join(dataDir, 'models', 'llama_cpp', 'bench.reference'), modelPath);

  const host = await startHost({
    port: 0,
    dataDir,
    env: {},
    config: { model_name: 'bench.reference', n_threads: threads, enable_gpu: false, watch: false, log_level: 'silent' },
  });
  const client = fork(resolve(here, 'socket-client.ts'), [host.url], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
    const context = await model.createContext({ contextSize: 2048, sequences: 1, threads });
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const promptTokens = model.tokenize(PROMPT, true);
    const bare = async () => {
      let first = 0;
      let count = 0;
      let text = '';
      const start = performance.now();
      await completion.generateCompletionWithMeta(promptTokens, {
        temperature: SAMPLING.temperature, topK: SAMPLING.top_k, topP: SAMPLING.top_p, repeatPenalty: false, seed: SEED, maxTokens: tokens,
        onToken: (t) => {
          if (count === 0) first = performance.now();
          count += t.length;
        },
        onTextChunk: (c) => { text += c; },
      });
      return { firstMs: first - start, totalMs: performance.now() - start, count, text };
    };
    type SocketRun = { firstChunkMs: number; totalMs: number; chunks: number; text: string };
    const viaSocket = () => ask<SocketRun>({ kind: 'run', prompt: PROMPT, n_predicts: tokens, parameters: SAMPLING });

    print(`threads: ${threads}`);
    print(`tokens per run: ${tokens}`);
    print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
    const warmSocket = await viaSocket();
    const warmBare = await bare();
    print(`same output: ${warmSocket.text.trimStart() === warmBare.text.trimStart() ? 'yes' : 'no'}`);

    const ratios: number[] = [];
    const overheads: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1;
      const s = order ? await viaSocket() : undefined;
      const b = await bare();
      const s2 = s ?? (await viaSocket());
      // Same seed and tokens in: the same number of tokens out, so time ratios are tokens/s ratios.
      ratios.push(b.totalMs / s2.totalMs);
      overheads.push(s2.firstChunkMs - b.firstMs);
      print(`round ${round} socket tokens/s: ${((b.count / s2.totalMs) * 1000).toFixed(1)}`);
      print(`round ${round} bare tokens/s: ${((b.count / b.totalMs) * 1000).toFixed(1)}`);
    }
    const cancels: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ask<{ cancelToLastChunkMs: number }>({ kind: 'cancel', prompt: PROMPT, n_predicts: 400, afterChunks: 20 });
      cancels.push(r.cancelToLastChunkMs);
    }
    const result = { ratio: median(ratios), firstChunkOverheadMs: median(overheads), cancelToLastChunkMs: median(cancels) };
    print(`socket/bare tokens/s ratio: ${result.ratio.toFixed(2)}`);
    print(`first-chunk overhead ms: ${result.firstChunkOverheadMs.toFixed(1)}`);
    print(`cancel-to-last-chunk ms: ${result.cancelToLastChunkMs.toFixed(1)}`);
    completion.dispose();
    await context.dispose();
    await model.dispose();
    return result;
  } finally {
    client.send({ kind: 'exit' });
    await engine.dispose();
    await host.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runSocketBench();
}
