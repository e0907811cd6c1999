import { fork } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BindingContext, LoadedModel } from 'lollms-host/plugin-api';
import { createLlamaEngine, type LlamaEngine } from '../core/bindings/engine.js';
import { startHost, type HostHandle } from '../core/host.js';
import { effectiveThreads } from '../core/config.js';
import { TEST_MODEL_FORMAT, writeTestModel } from '../core/bindings/test-model.js';
import llamaCpp from '../plugins/llama_cpp/index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The bench-preset model in `modelsDir`, written once (about 120 MB, a few seconds) and reused. */
export async function benchModel(modelsDir: string): Promise<string> {
  const path = join(modelsDir, `bench-v${TEST_MODEL_FORMAT}.gguf`);
  if (await stat(path).then((s) => s.isFile() && s.size > 0, () => false)) return path;
  await mkdir(modelsDir, { recursive: true });
  await writeTestModel(path, { preset: 'bench', seed: 1 });
  return path;
}

/** The llama_cpp binding with the bench model loaded, on an engine of its own. */
export interface BenchBinding {
  /** The engine: load a bare node-llama-cpp baseline with `engine.getLlama()`. */
  engine: LlamaEngine;
  /** The model, loaded through the binding as the host loads it. */
  model: LoadedModel;
  /** The bench model's file. */
  modelPath: string;
  /** Engine threads. */
  threads: number;
  /** Free the model and the engine. */
  close(): Promise<void>;
}

/** Options of `loadBenchBinding`. */
export interface BenchBindingOptions {
  /** Where the bench model is kept. Default `bench/.models/` (gitignored). */
  modelsDir?: string;
  /** Engine threads. Default: the host default (cores - 1, at least 1). */
  threads?: number;
  /** Sequences of the context. Default 1. */
  sequences?: number;
}

/** Write the bench model when missing, then load it through the llama_cpp binding (context 2048). */
export async function loadBenchBinding(options: BenchBindingOptions = {}): Promise<BenchBinding> {
  const threads = options.threads ?? effectiveThreads({ n_threads: 0 });
  const modelsDir = resolve(options.modelsDir ?? join(here, '.models'));
  const modelPath = await benchModel(modelsDir);
  const engine = createLlamaEngine({ gpu: false, threads });
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const ctx: BindingContext = {
    name: 'llama_cpp',
    folder: resolve(here, '../plugins/llama_cpp'),
    modelsDir,
    settings: {},
    logger: quiet,
    getLlama: () => engine.getLlama(),
    gpu: false,
  };
  try {
    const model = await llamaCpp.loadModel(ctx, { model: basename(modelPath), contextSize: 2048, sequences: options.sequences ?? 1, threads });
    return {
      engine,
      model,
      modelPath,
      threads,
      async close() {
        await model.dispose();
        await engine.dispose();
      },
    };
  } catch (error) {
    await engine.dispose();
    throw error;
  }
}

/** The options of every streaming A/B bench (socket, OpenAI API, remote engine). */
export interface StreamBenchOptions {
  /** Interleaved A/B rounds after a warm-up. Default 7. */
  rounds?: number;
  /** Tokens per run. Default 128. */
  tokens?: number;
  /** Engine threads, for the host and the baseline. Default cores - 1. */
  threads?: number;
  /** Receives each `name: value` line. */
  print?: (line: string) => void;
}

/** `options` with their defaults filled in. */
export function streamBenchSettings(options: StreamBenchOptions): Required<StreamBenchOptions> {
  return {
    print: options.print ?? ((line: string) => console.log(line)),
    rounds: options.rounds ?? 7,
    tokens: options.tokens ?? 128,
    threads: options.threads ?? effectiveThreads({ n_threads: 0 }),
  };
}

/** What the SDK's client process (bench/openai-client.ts) answers for one streamed chat, timed at the client. */
export interface SdkRun {
  firstChunkMs: number;
  totalMs: number;
  tokens: number;
  text: string;
}

/** One timed run of one side of an A/B bench. */
export interface BenchRun {
  /** Generated tokens per second of wall time for the whole call. */
  tps: number;
  /** Tokens generated. */
  count: number;
  /** The text, to check both sides produced the same. */
  text: string;
}

/** Per-round figures of `abRounds`. */
export interface AbRoundsResult {
  /** tokens/s of side A, in round order. */
  a: number[];
  /** tokens/s of side B, in round order. */
  b: number[];
  /** A/B ratio of each round. */
  ratios: number[];
}

/**
 * Run `rounds` rounds of two sides, alternating which side goes first so that a drift in machine speed favours
 * neither; `onRound` gets each round's two results.
 */
export async function alternateRounds<A, B>(
  rounds: number,
  runA: () => Promise<A>,
  runB: () => Promise<B>,
  onRound: (round: number, a: A, b: B) => void,
): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    const firstA = round % 2 === 1 ? await runA() : undefined;
    const b = await runB();
    const a = firstA ?? (await runA());
    onRound(round, a, b);
  }
}

/**
 * `alternateRounds` for two `BenchRun` sides: their tokens/s and A/B ratio per round. `onRound` sees each round's
 * two runs (to print them, or warn when token counts differ).
 */
export async function abRounds(
  rounds: number,
  runA: () => Promise<BenchRun>,
  runB: () => Promise<BenchRun>,
  onRound: (round: number, a: BenchRun, b: BenchRun) => void = () => {},
): Promise<AbRoundsResult> {
  const result: AbRoundsResult = { a: [], b: [], ratios: [] };
  await alternateRounds(rounds, runA, runB, (round, a, b) => {
    onRound(round, a, b);
    result.a.push(a.tps);
    result.b.push(b.tps);
    result.ratios.push(a.tps / b.tps);
  });
  return result;
}

/** A real host serving the bench model, with a client process that takes commands over IPC. */
export interface BenchHost {
  host: HostHandle;
  /** Send a command to the client process and wait for its answer (an `{error}` answer rejects). */
  ask<T>(command: unknown): Promise<T>;
  /** Stop the client, the host, and delete the data dir. */
  close(): Promise<void>;
}

/**
 * Start a host on a free port that serves the bench model (found through a `.reference` file, the original's
 * convention for models kept elsewhere), and fork `clientScript` (in bench/) with the host's URL; the client
 * answers `{ready: true}` once connected, then one message per command.
 */
export async function startBenchHost(threads: number, clientScript: string): Promise<BenchHost> {
  const modelPath = await benchModel(join(here, '.models'));
  const dataDir = await mkdtemp(join(tmpdir(), 'lollms-bench-'));
  await mkdir(join(dataDir, 'models', 'llama_cpp'), { recursive: true });
  await writeFile(join(dataDir, 'models', 'llama_cpp', 'bench.reference'), modelPath);
  const host = await startHost({
    port: 0,
    dataDir,
    env: {},
    config: { model_name: 'bench.reference', n_threads: threads, enable_gpu: false, watch: false, log_level: 'silent' },
  });
  const client = fork(resolve(here, clientScript), [host.url], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((r) => client.once('message', r));
  return {
    host,
    ask: <T>(command: unknown) =>
      new Promise<T>((resolveAnswer, reject) => {
        client.once('message', (answer) => ((answer as { error?: string }).error ? reject(new Error((answer as { error: string }).error)) : resolveAnswer(answer as T)));
        client.send(command as never);
      }),
    async close() {
      client.send({ kind: 'exit' });
      await host.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
