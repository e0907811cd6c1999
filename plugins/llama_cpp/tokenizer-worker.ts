/**
 * The tokenizer thread. llama.cpp's tokenizer runs synchronously and, on some inputs, in quadratic time
 * (1 MB of digits takes over a minute with a byte-fallback vocabulary), so long texts are tokenized here, on a
 * worker thread with its own vocabulary-only load of the same GGUF: the same node-llama-cpp function on the
 * same vocabulary gives the very same tokens, and the host's event loop never waits.
 *
 * This module is its own worker entry: `TokenizerThread` starts `new Worker(import.meta.url)`. When the
 * binding is bundled into one file, that URL is the bundle, which carries this module too; the code below
 * only runs in a worker that was started with `workerData[TOKENIZER_WORKER_MARK]`.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { getLlama, LlamaLogLevel, type LlamaModel, type Token } from 'node-llama-cpp';

/** CPU time of the calling thread, in ns. */
function threadCpuNs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) * 1000;
}

/** Marks the worker data of a tokenizer thread. */
export const TOKENIZER_WORKER_MARK = 'lollmsHostTokenizerThread';

/** How the worker is asked to tokenize: the arguments of `LlamaModel.tokenize`. */
export interface TokenizeJob {
  id: number;
  text: string;
  specialTokens: boolean;
  trimLeadingSpace: boolean;
}

type WorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'tokens'; id: number; tokens: Uint32Array; cpuNs: number }
  | { type: 'error'; id: number; message: string };

interface Pending {
  resolve(tokens: Token[]): void;
  reject(error: Error): void;
  onCpuTime: ((ns: number) => void) | undefined;
}

/** Options of `TokenizerThread`. */
export interface TokenizerThreadOptions {
  /** The GGUF whose vocabulary tokenizes. */
  modelPath: string;
}

/**
 * One worker thread that tokenizes with a vocabulary-only load of a model. Jobs run one at a time, in order.
 * Start it with `start()`; it holds no reference on the event loop while idle.
 */
export class TokenizerThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | undefined;
  /** Resolves once the vocabulary is loaded; rejects when the thread cannot start. */
  readonly ready: Promise<void>;

  constructor(options: TokenizerThreadOptions) {
    this.worker = new Worker(new URL(import.meta.url), {
      workerData: { [TOKENIZER_WORKER_MARK]: true, modelPath: options.modelPath },
      stdout: true, // node-llama-cpp may print; keep it out of the host's output
      stderr: true,
    });
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (reply: WorkerReply) => {
        if (reply.type === 'ready') resolve();
        else if (reply.type === 'failed') reject(new Error(reply.message));
        else this.settle(reply);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (error) => {
        reject(error);
        this.fail(error);
      });
      this.worker.on('exit', (code) => {
        const error = new Error(`the tokenizer thread exited (code ${code})`);
        reject(error);
        this.fail(error);
      });
    });
    this.ready.catch(() => {});
  }

  /**
   * Tokenize as `LlamaModel.tokenize(text, specialTokens, trimLeadingSpace ? 'trimLeadingSpace' : undefined)`
   * does. `onCpuTime` gets the CPU time the job took: the thread's, and the main thread's to convert the result.
   */
  tokenize(text: string, specialTokens: boolean, trimLeadingSpace: boolean, onCpuTime?: (ns: number) => void): Promise<Token[]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<Token[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onCpuTime });
      if (this.pending.size === 1) this.worker.ref(); // keep the process alive while a caller waits
      this.worker.postMessage({ id, text, specialTokens, trimLeadingSpace } satisfies TokenizeJob);
    });
  }

  /** Stop the thread; pending jobs reject. */
  async dispose(): Promise<void> {
    this.fail(new Error('the tokenizer thread was stopped'));
    await this.worker.terminate().catch(() => {});
  }

  private settle(reply: WorkerReply): void {
    if (reply.type !== 'tokens' && reply.type !== 'error') return;
    const job = this.pending.get(reply.id);
    if (!job) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.type === 'tokens') {
      const start = threadCpuNs();
      const tokens = Array.from(reply.tokens) as Token[];
      job.onCpuTime?.(reply.cpuNs + threadCpuNs() - start);
      job.resolve(tokens);
    } else {
      job.reject(new Error(reply.message));
    }
  }

  private fail(error: Error): void {
    this.dead ??= error;
    for (const job of this.pending.values()) job.reject(error);
    this.pending.clear();
    this.worker.unref();
  }
}

/** The worker side: load the vocabulary, then answer jobs in order. */
async function serve(port: NonNullable<typeof parentPort>, modelPath: string): Promise<void> {
  let model: LlamaModel;
  try {
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error, logger: () => {}, progressLogs: false });
    model = await llama.loadModel({ modelPath, vocabOnly: true, gpuLayers: 0 });
  } catch (error) {
    port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply);
    return;
  }
  port.on('message', (job: TokenizeJob) => {
    try {
      const start = threadCpuNs();
      const tokens = Uint32Array.from(model.tokenize(job.text, job.specialTokens, job.trimLeadingSpace ? 'trimLeadingSpace' : undefined));
      const cpuNs = threadCpuNs() - start;
      port.postMessage({ type: 'tokens', id: job.id, tokens, cpuNs } satisfies WorkerReply, [tokens.buffer]);
    } catch (error) {
      port.postMessage({ type: 'error', id: job.id, message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[TOKENIZER_WORKER_MARK] === true) {
  void serve(parentPort, String((workerData as Record<string, unknown>)['modelPath']));
}
