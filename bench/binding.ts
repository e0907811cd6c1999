/**
 * Tokens/s through the llama_cpp binding's `generate` (streaming on) against a bare node-llama-cpp
 * `LlamaCompletion` loop: same bench-preset model, prompt, sampling, seed, threads and token count, run as
 * interleaved A/B rounds. Prints every figure as a `name: value` line; the last is
 * `binding/bare tokens/s ratio: <x.xx>` (median of the per-round ratios). Goal: 0.98 or more.
 *
 * Run alone: `node --no-node-snapshot --import tsx bench/binding.ts`
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaCompletion, type LlamaModel, type Token } from 'node-llama-cpp';
import type { LoadedModel } from 'lollms-host/plugin-api';
import { abRounds, loadBenchBinding, median, type BenchRun } from './common.js';

/** Options of `runBindingBench`. */
export interface BindingBenchOptions {
  /** A/B rounds after one warm-up round. Default 9. */
  rounds?: number;
  /** Tokens generated per run. Default 128. */
  tokens?: number;
  /** Engine threads. Default: the host default (cores - 1, at least 1). */
  threads?: number;
  /** Where the bench model is kept. Default `bench/.models/` (gitignored). */
  modelsDir?: string;
  /** Receives each `name: value` line. Default: `console.log`. */
  print?: (line: string) => void;
}

/** The figures of one bench run. */
export interface BindingBenchResult {
  /** tokens/s of each binding run, in round order. */
  bindingTokensPerSecond: number[];
  /** tokens/s of each bare `LlamaCompletion` run, in round order. */
  bareTokensPerSecond: number[];
  /** Median of the per-round binding/bare ratios. */
  ratio: number;
  /** Tokens per run (the same for both sides, checked). */
  tokens: number;
  threads: number;
  modelPath: string;
}

const PROMPT = 'the world is';
const SEED = 1234;
/**
 * The same sampler on both sides. The repeat penalty is off because the two differ in which tokens it looks
 * at (the binding includes the prompt, as llama.cpp does); it is not what this bench measures.
 */
const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95 } as const;

/** One binding run: tokens/s over the whole call, measured from outside. */
async function runBinding(model: LoadedModel, tokens: number): Promise<BenchRun> {
  let chunks = 0;
  const start = process.hrtime.bigint();
  const result = await model.generate(PROMPT, {
    ...SAMPLING,
    repeatPenalty: 1,
    seed: SEED,
    maxTokens: tokens,
    onChunk: () => { chunks++; },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (chunks === 0) throw new Error('the binding streamed nothing');
  return { tps: result.timings.eval_count / seconds, count: result.timings.eval_count, text: result.text };
}

/** One bare run: the loop a node-llama-cpp user would write. */
async function runBare(completion: LlamaCompletion, prompt: Token[], tokens: number): Promise<BenchRun> {
  let count = 0;
  let text = '';
  const start = process.hrtime.bigint();
  await completion.generateCompletionWithMeta(prompt, {
    ...SAMPLING,
    repeatPenalty: false,
    seed: SEED,
    maxTokens: tokens,
    onToken: (t) => { count += t.length; },
    onTextChunk: (chunk) => { text += chunk; },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (text === '' && count > 0) throw new Error('the bare loop streamed nothing');
  return { tps: count / seconds, count, text };
}

export async function runBindingBench(options: BindingBenchOptions = {}): Promise<BindingBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const rounds = options.rounds ?? 9;
  const tokens = options.tokens ?? 128;
  const bench = await loadBenchBinding(options);
  const { threads, modelPath } = bench;
  let bareModel: LlamaModel | undefined;
  try {
    const loaded = bench.model;
    const bareLoaded = await (await bench.engine.getLlama()).loadModel({ modelPath, gpuLayers: 0 });
    bareModel = bareLoaded;
    const bareContext = await bareLoaded.createContext({ contextSize: 2048, sequences: 1, threads });
    const completion = new LlamaCompletion({ contextSequence: bareContext.getSequence() });
    // The binding tokenizes as llama.cpp does (with the SentencePiece space prefix); LlamaCompletion trims that
    // space from a string prompt. Hand it the binding's tokens so both sides decode the very same sequence
    // (with the same seed they then produce the same text).
    const promptTokens = bareLoaded.tokenize(PROMPT, true);

    print(`bench model: ${modelPath}`);
    print(`threads: ${threads}`);
    print(`tokens per run: ${tokens}`);
    // Other processes on the machine move these figures by several percent: report the load they ran under.
    print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
    // Warm-up: page the weights in and settle the caches for both sides.
    const warmA = await runBinding(loaded, tokens);
    const warmB = await runBare(completion, promptTokens, tokens);
    // Same tokens in, same sampler and seed: the same text out (node-llama-cpp drops the first leading space).
    print(`same output: ${warmA.text.trimStart() === warmB.text.trimStart() ? 'yes' : 'no'}`);

    const { a: binding, b: bare, ratios } = await abRounds(rounds, () => runBinding(loaded, tokens), () => runBare(completion, promptTokens, tokens), (round, a, b) => {
      if (a.count !== b.count) print(`warning: round ${round} token counts differ: binding ${a.count}, bare ${b.count}`);
      print(`round ${round} binding tokens/s: ${a.tps.toFixed(1)}`);
      print(`round ${round} bare tokens/s: ${b.tps.toFixed(1)}`);
    });
    const ratio = median(ratios);
    print(`binding tokens/s (median): ${median(binding).toFixed(1)}`);
    print(`bare tokens/s (median): ${median(bare).toFixed(1)}`);
    print(`binding/bare tokens/s ratio: ${ratio.toFixed(2)}`);
    completion.dispose();
    await bareContext.dispose();
    return { bindingTokensPerSecond: binding, bareTokensPerSecond: bare, ratio, tokens, threads, modelPath };
  } finally {
    await bareModel?.dispose();
    await bench.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runBindingBench();
}
