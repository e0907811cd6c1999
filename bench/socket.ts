/**
 * The whole path against the bare engine: a socket.io client in a separate process sends raw `generate_text`
 * to a real host serving the bench-preset model, interleaved with a bare node-llama-cpp `LlamaCompletion`
 * loop in this process on the same model file, prompt, sampling, seed, threads and token count. Prints
 * `socket/bare tokens/s ratio`, `first-chunk overhead ms` and `cancel-to-last-chunk ms`.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/socket.ts`
 */
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaCompletion } from 'node-llama-cpp';
import { createLlamaEngine } from '../core/bindings/engine.js';
import { benchModel, median, startBenchHost, streamBenchSettings, type StreamBenchOptions } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROMPT = 'the world is';
const SEED = 1234;
const SAMPLING = { temperature: 0.8, top_k: 40, top_p: 0.95, repeat_penalty: 1, repeat_last_n: 64, seed: SEED };

export type SocketBenchOptions = StreamBenchOptions;

export async function runSocketBench(options: SocketBenchOptions = {}): Promise<{ ratio: number; firstChunkOverheadMs: number; cancelToLastChunkMs: number }> {
  const { print, rounds, tokens, threads } = streamBenchSettings(options);
  const modelPath = await benchModel(join(here, '.models'));
  const bench = await startBenchHost(threads, 'socket-client.ts');
  const ask = bench.ask;

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
    await engine.dispose();
    await bench.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runSocketBench();
}
