import { setTimeout as sleep } from 'node:timers/promises';
import { getLlama, LlamaLogLevel, type Llama, type LlamaOptions } from 'node-llama-cpp';
import { EngineUnavailable, errorMessage } from '../errors.js';
import { probeBinaryTestProcess } from './engine-probe.js';

export { EngineUnavailable };

/** The logger calls the engine makes: pino's call shape. */
export interface EngineLogger {
  debug(obj: unknown, msg?: string): void;
  info?(obj: unknown, msg?: string): void;
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
  /**
   * Attempts of one engine start before `getLlama()` rejects. Default 5. node-llama-cpp tests its prebuilt binary
   * in a child process before loading it, and a start fails when that child does not come up (see
   * docs/configuration.md, "The engine"); a later attempt usually works.
   */
  startAttempts?: number;
  /** Wait before the second attempt, in ms, doubled for each later one (500, 1000, 2000, ...). Default 500. */
  retryDelayMs?: number;
  /** Starts node-llama-cpp (default its `getLlama`); tests wrap it to inject start failures. */
  loadLlama?: (options: LlamaOptions) => Promise<Llama>;
  /**
   * After the first failed start, start node-llama-cpp's binary test process once more with its output kept, and
   * log how it ended (see engine-probe.ts). Default true.
   */
  probeOnFailure?: boolean;
}

/** The host's one llama.cpp engine, shared by every binding. */
export interface LlamaEngine {
  /** The engine's thread limit. */
  readonly threads: number;
  /**
   * The `Llama` instance, created on first call (about 450 ms) and reused after. A failed start is retried with
   * backoff (`startAttempts`); if every attempt fails the call rejects with `LH_ERR_ENGINE`, and the next call
   * starts over, so the next request that needs the engine tries again.
   */
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

  const attempts = Math.max(1, Math.floor(options.startAttempts ?? 5));
  const firstDelay = options.retryDelayMs ?? 500;
  const load = options.loadLlama ?? getLlama;
  // Aborted by dispose(), so that a start waiting for its next attempt ends with the host.
  const lifetime = new AbortController();

  const create = async (): Promise<Llama> => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (lifetime.signal.aborted) break;
      try {
        const llama = await load({
          // Never compile llama.cpp at run time: that takes many minutes. Use a prebuilt binary or fail.
          build: 'never',
          gpu: options.gpu ? 'auto' : false,
          maxThreads: threads,
          logLevel: LlamaLogLevel.warn,
          ...(route ? { logger: route } : {}),
        });
        if (attempt > 1) logger?.info?.({ source: 'llama.cpp', attempt }, `the llama.cpp engine started on attempt ${attempt}`);
        return llama;
      } catch (error) {
        lastError = error;
        if (attempt === 1 && options.probeOnFailure !== false) await logProbe(logger);
        if (attempt === attempts || lifetime.signal.aborted) break;
        const delay = firstDelay * 2 ** (attempt - 1);
        logger?.warn({ source: 'llama.cpp', attempt, err: errorMessage(error) }, `the llama.cpp engine did not start (attempt ${attempt} of ${attempts}); trying again in ${delay} ms`);
        await sleep(delay, undefined, { signal: lifetime.signal }).catch(() => {});
      }
    }
    if (lifetime.signal.aborted) throw EngineUnavailable('the llama.cpp engine has been disposed', { cause: lastError });
    throw EngineUnavailable(
      `cannot start the llama.cpp engine (${attempts} attempts): ${errorMessage(lastError)}. The next request that needs a model tries again.`,
      { cause: lastError },
    );
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
      lifetime.abort();
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

/** Log what node-llama-cpp's binary test process does when started with its output kept (evidence for a failure). */
async function logProbe(logger: EngineLogger | undefined): Promise<void> {
  if (!logger) return;
  const probe = await probeBinaryTestProcess().catch((error: unknown) => ({ error: errorMessage(error) }));
  if (!probe) return;
  if ('error' in probe) {
    logger.warn({ source: 'llama.cpp' }, `could not probe node-llama-cpp's binary test process: ${probe.error}`);
    return;
  }
  const how = probe.ready ? 'started and answered' : `ended before it was ready (exit code ${probe.code}, signal ${probe.signal})`;
  logger.warn(
    { source: 'llama.cpp', probe: { ready: probe.ready, code: probe.code, signal: probe.signal, execArgv: probe.execArgv, stderr: probe.stderr.trim() } },
    `node-llama-cpp's binary test process, started again with its output kept: ${how}`,
  );
}
