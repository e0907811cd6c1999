/**
 * Tokens/s through the llama_cpp binding's `chat` (streaming on) against a bare node-llama-cpp `LlamaChat`
 * loop: same bench-preset model, messages, chat wrapper, sampling, seed, threads and token count, run as
 * interleaved A/B rounds in the same process. Prints `name: value` lines; the last is
 * `binding chat/bare tokens/s ratio: <x.xx>` (median of the per-round ratios). Goal: 0.98 or more.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/chat.ts`
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaChat, type ChatHistoryItem, type LlamaModel } from 'node-llama-cpp';
import type { ChatMessage, LoadedModel } from 'lollms-host/plugin-api';
import { abRounds, loadBenchBinding, median, type BenchRun } from './common.js';

/** Options of `runChatBench`. */
export interface ChatBenchOptions {
  /** A/B rounds after one warm-up round. Default 7. */
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

const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Tell me about the world.' },
];
const HISTORY: ChatHistoryItem[] = [
  { type: 'system', text: 'You are a helpful assistant.' },
  { type: 'user', text: 'Tell me about the world.' },
];
const SEED = 1234;
/** The same sampler on both sides; the repeat penalty is off on both. */
const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95 } as const;

async function runBinding(model: LoadedModel, tokens: number): Promise<BenchRun> {
  let chunks = 0;
  const start = process.hrtime.bigint();
  const result = await model.chat!(MESSAGES, { ...SAMPLING, repeatPenalty: 1, seed: SEED, maxTokens: tokens, session: 'bench', onChunk: () => { chunks++; } });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (chunks === 0) throw new Error('the binding streamed nothing');
  return { tps: result.timings.eval_count / seconds, count: result.timings.eval_count, text: result.text };
}

async function runBare(chat: LlamaChat, tokens: number): Promise<BenchRun> {
  let text = '';
  const meter = chat.sequence.tokenMeter.getState();
  const start = process.hrtime.bigint();
  await chat.generateResponse(HISTORY, { ...SAMPLING, repeatPenalty: false, seed: SEED, maxTokens: tokens, onTextChunk: (chunk) => { text += chunk; } });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const count = chat.sequence.tokenMeter.diff(meter).usedOutputTokens;
  return { tps: count / seconds, count, text };
}

export async function runChatBench(options: ChatBenchOptions = {}): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const rounds = options.rounds ?? 7;
  const tokens = options.tokens ?? 128;
  const bench = await loadBenchBinding(options);
  let bareModel: LlamaModel | undefined;
  try {
    const loaded = bench.model;
    bareModel = await (await bench.engine.getLlama()).loadModel({ modelPath: bench.modelPath, gpuLayers: 0 });
    const bareContext = await bareModel.createContext({ contextSize: 2048, sequences: 1, threads: bench.threads });
    const bare = new LlamaChat({ contextSequence: bareContext.getSequence() });

    print(`chat wrapper: ${bare.chatWrapper.wrapperName}`);
    print(`tokens per run: ${tokens}`);
    print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
    const warmA = await runBinding(loaded, tokens);
    const warmB = await runBare(bare, tokens);
    print(`same output: ${warmA.text === warmB.text ? 'yes' : 'no'}`);

    const { a: bindingTps, b: bareTps, ratios } = await abRounds(rounds, () => runBinding(loaded, tokens), () => runBare(bare, tokens), (round, a, b) => {
      if (a.count !== b.count) print(`warning: round ${round} token counts differ: binding ${a.count}, bare ${b.count}`);
    });
    const ratio = median(ratios);
    print(`binding chat tokens/s (median): ${median(bindingTps).toFixed(1)}`);
    print(`bare LlamaChat tokens/s (median): ${median(bareTps).toFixed(1)}`);
    print(`binding chat/bare tokens/s ratio: ${ratio.toFixed(2)}`);
    bare.dispose();
    await bareContext.dispose();
    return ratio;
  } finally {
    await bareModel?.dispose();
    await bench.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runChatBench();
}
