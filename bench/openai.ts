/**
 * The OpenAI-compatible API against the bare engine: the official `openai` SDK, in a separate process, streams a
 * chat completion from a real host serving the bench-preset model, interleaved with a bare node-llama-cpp
 * `LlamaChat` loop in this process on the same model file, messages, chat wrapper, sampling, seed, threads and
 * token count. Prints `openai/bare tokens/s ratio` (bare time over SDK time for the same tokens, median of the
 * rounds) and `openai first-chunk overhead ms` (time to the first content delta at the SDK, less the bare loop's
 * time to its first text). Goals: ratio >= 0.97, overhead <= 5 ms.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/openai.ts`
 */
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaChat, type ChatHistoryItem } from 'node-llama-cpp';
import { createLlamaEngine } from '../core/bindings/engine.js';
import { alternateRounds, benchModel, median, startBenchHost, streamBenchSettings, type SdkRun, type StreamBenchOptions } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const MESSAGES = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'Tell me about the world.' },
];
const HISTORY: ChatHistoryItem[] = [
  { type: 'system', text: 'You are a helpful assistant.' },
  { type: 'user', text: 'Tell me about the world.' },
];
const SEED = 1234;
/** The same sampler on both sides; the repeat penalty is off on both (`repeat_penalty: 1` is the host's "off"). */
const SAMPLING = { temperature: 0.8, top_k: 40, top_p: 0.95, repeat_penalty: 1, seed: SEED };

export type OpenAIBenchOptions = StreamBenchOptions;


export async function runOpenAIBench(options: OpenAIBenchOptions = {}): Promise<{ ratio: number; firstChunkOverheadMs: number }> {
  const { print, rounds, tokens, threads } = streamBenchSettings(options);
  const modelPath = await benchModel(join(here, '.models'));
  const bench = await startBenchHost(threads, 'openai-client.ts');
  const ask = bench.ask;

  const engine = createLlamaEngine({ gpu: false, threads });
  try {
    const llama = await engine.getLlama();
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: 2048, sequences: 1, threads });
    const chat = new LlamaChat({ contextSequence: context.getSequence() });
    const bare = async () => {
      let first = 0;
      let text = '';
      const meter = chat.sequence.tokenMeter.getState();
      const start = performance.now();
      await chat.generateResponse(HISTORY, {
        temperature: SAMPLING.temperature, topK: SAMPLING.top_k, topP: SAMPLING.top_p, repeatPenalty: false, seed: SEED, maxTokens: tokens,
        onTextChunk: (chunk) => {
          if (text === '' && chunk !== '') first = performance.now();
          text += chunk;
        },
      });
      const totalMs = performance.now() - start;
      return { firstMs: first - start, totalMs, count: chat.sequence.tokenMeter.diff(meter).usedOutputTokens, text };
    };
    const viaSdk = () => ask<SdkRun>({ kind: 'run', model: 'bench.reference', messages: MESSAGES, max_tokens: tokens, sampling: SAMPLING });

    print(`chat wrapper: ${chat.chatWrapper.wrapperName}`);
    print(`threads: ${threads}`);
    print(`tokens per run: ${tokens}`);
    print(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`);
    const warmSdk = await viaSdk();
    const warmBare = await bare();
    print(`same output: ${warmSdk.text === warmBare.text ? 'yes' : 'no'}`);

    const ratios: number[] = [];
    const overheads: number[] = [];
    await alternateRounds(rounds, viaSdk, bare, (round, s, b) => {
      if (s.tokens !== b.count) print(`warning: round ${round} token counts differ: sdk ${s.tokens}, bare ${b.count}`);
      ratios.push((b.totalMs / b.count) / (s.totalMs / s.tokens));
      overheads.push(s.firstChunkMs - b.firstMs);
      print(`round ${round} openai tokens/s: ${((s.tokens / s.totalMs) * 1000).toFixed(1)}, first chunk ${s.firstChunkMs.toFixed(1)} ms`);
      print(`round ${round} bare tokens/s: ${((b.count / b.totalMs) * 1000).toFixed(1)}, first text ${b.firstMs.toFixed(1)} ms`);
    });
    const result = { ratio: median(ratios), firstChunkOverheadMs: median(overheads) };
    print(`openai/bare tokens/s ratio: ${result.ratio.toFixed(2)}`);
    print(`openai first-chunk overhead ms: ${result.firstChunkOverheadMs.toFixed(1)}`);
    chat.dispose();
    await context.dispose();
    await model.dispose();
    return result;
  } finally {
    await engine.dispose();
    await bench.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runOpenAIBench();
}
