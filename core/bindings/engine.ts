import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { EngineUnavailable } from '../errors.js';

export { EngineUnavailable };

/** The logger calls the engine makes: pino's call shape. */
export interface EngineLogger {
  debug(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Options of `createLlamaEngine`. */
export interface LlamaEngineOptions {
  /** Allow a GPU (`gpu: 'auto'`); false forces the CPU, as tests do. */
  gpu: boolean;
  /**
   * Upper bound on engine threads (node-llama-cpp `maxThreads`). Oversubscribing the cores makes decoding
   * orders of magnitude slower, so pass `effectiveThreads(config)` (cores - 1 by default), 1 in tests.
   */
  threads: number;
  /** Receives llama.cpp's warnings and errors; without it they go to node-llama-cpp's console logger. */
  logger?: EngineLogger;
  /**
   * How long `dispose()` waits for node-llama-cpp before giving up, in ms. Default 5000. node-llama-cpp
   * 3.21.1 leaks a dispose handle when llama.cpp fails to load a model and the failed model object is then
   * garbage-collected; `Llama.dispose()` then never settles.
   */
  disposeTimeoutMs?: number;
}

/** The host's one llama.cpp engine, shared by every binding. */
export interface LlamaEngine {
  /** The engine's thread limit. */
  readonly threads: number;
  /** The `Llama` instance, created on first call (about 450 ms) and reused after. */
  getLlama(): Promise<Llama>;
  /** Free the engine and every model loaded through it. Later `getLlama` calls reject. */
  dispose(): Promise<void>;
}

/** Create the engine lazily: nothing is loaded until a binding first asks for it. */
export function createLlamaEngine(options: LlamaEngineOptions): LlamaEngine {
  const threads = Math.max(1, Math.floor(options.threads));
  let pending: Promise<Llama> | undefined;
  let disposed = false;

  const logger = options.logger;
  const route = logger
    ? (level: LlamaLogLevel, message: string) => {
        const text = message.trimEnd();
        if (text === '') return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) logger.error({ source: 'llama.cpp' }, text);
        else if (level === LlamaLogLevel.warn) logger.warn({ source: 'llama.cpp' }, text);
        else logger.debug({ source: 'llama.cpp' }, text);
      }
    : undefined;

  const create = async (): Promise<Llama> => {
    try {
      return await getLlama({
        // Never compile llama.cpp at run time: that takes many minutes. Use a prebuilt binary or fail.
        build: 'never',
        gpu: options.gpu ? 'auto' : false,
        maxThreads: threads,
        logLevel: LlamaLogLevel.warn,
        ...(route ? { logger: route } : {}),
      });
    } catch (error) {
      throw EngineUnavailable(`cannot start the llama.cpp engine: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };

  return {
    threads,
    getLlama() {
      if (disposed) return Promise.reject(EngineUnavailable('the llama.cpp engine has been disposed'));
      if (!pending) {
        pending = create();
        // A failed start may be retried (e.g. after the user fixes the install).
        pending.catch(() => { pending = undefined; });
      }
      return pending;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const current = pending;
      pending = undefined;
      if (!current) return;
      const llama = await current.catch(() => undefined);
      if (!llama) return;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(resolve, options.disposeTimeoutMs ?? 5000, 'timeout');
      });
      try {
        const outcome = await Promise.race([llama.dispose().then(() => 'done' as const), timedOut]);
        if (outcome === 'timeout') {
          logger?.warn({ source: 'llama.cpp' }, 'the llama.cpp engine did not finish disposing (a model failed to load earlier); continuing');
        }
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
