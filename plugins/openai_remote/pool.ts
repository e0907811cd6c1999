/**
 * The endpoint pool of one model: which endpoint takes a request, and which are in.
 *
 * - A request goes to the healthy endpoint with the fewest requests in flight, within each endpoint's
 *   `max_concurrent`; ties go to the one that served fewest requests so far, then to the first configured.
 * - A session (the client or discussion, `GenerateOptions.session`) stays on its endpoint while that one is
 *   healthy, so the engine's prompt cache is reused; when its endpoint is full, the request goes elsewhere
 *   this once (the session keeps its endpoint); when its endpoint is out, the session moves for good.
 * - When every healthy endpoint is full, the request waits (abortable) for a place.
 * - An endpoint that fails is taken out and probed (`GET <url>/models`) with exponential backoff until it
 *   answers again.
 * - With no healthy endpoint, a request fails at once with `LH_ERR_REMOTE_UNAVAILABLE`: nothing hangs.
 * - `run` retries a request that failed before its first token once, on another endpoint; a failure after it
 *   ends the request with `LH_ERR_REMOTE_STREAM`.
 */
import type { EndpointStatus, PluginLogger } from 'lollms-host/plugin-api';
import { clip, messageOf, remoteError } from './errors.js';
import { EngineFailure, requestJson, toPluginError } from './http.js';
import type { EndpointSettings } from './settings.js';

/** Sessions remembered per pool, at most (the least recently used go first). */
const MAX_STICKY_SESSIONS = 10_000;

/** One endpoint and its live figures. */
export class Endpoint {
  readonly settings: EndpointSettings;
  /** The engine's id of the pool's model on this endpoint. */
  readonly remoteModel: string;
  /** Whether its `/tokenize` and `/detokenize` routes work (decided at load). */
  canTokenize = false;
  healthy = true;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Failures (requests and probes) since it last answered; sets the probe backoff. */
  consecutiveFailures = 0;
  latencyMs: number | null = null;
  lastError: string | undefined;
  nextProbeAt: number | undefined;
  probeTimer: NodeJS.Timeout | undefined;

  constructor(settings: EndpointSettings, remoteModel: string) {
    this.settings = settings;
    this.remoteModel = remoteModel;
  }

  get name(): string {
    return this.settings.name;
  }

  get free(): boolean {
    return this.inFlight < this.settings.maxConcurrent;
  }
}

/** A place on an endpoint; `release` exactly once. */
export interface Lease {
  readonly endpoint: Endpoint;
  release(): void;
}

/** Options of `EndpointPool`. */
export interface PoolOptions {
  /** The model's local name, for messages. */
  model: string;
  endpoints: Endpoint[];
  probeInitialMs: number;
  probeMaxMs: number;
  /** Time a probe may take, in ms. */
  probeTimeoutMs: number;
  logger: PluginLogger;
}

/** What an attempt on one endpoint is told. */
export interface Attempt {
  endpoint: Endpoint;
  /** Call when the first token (or the whole answer) arrives: from then on a failure is not retried. */
  firstToken(): void;
}

/** Which endpoints may take a request (e.g. only those that tokenize). */
export type EndpointFilter = (endpoint: Endpoint) => boolean;

interface Waiter {
  session: string | undefined;
  exclude: Endpoint | undefined;
  only: EndpointFilter | undefined;
  resolve(lease: Lease): void;
  reject(error: Error): void;
}

export class EndpointPool {
  readonly #options: PoolOptions;
  readonly endpoints: readonly Endpoint[];
  readonly #sticky = new Map<string, Endpoint>();
  readonly #waiters = new Set<Waiter>();
  #disposed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.endpoints = options.endpoints;
  }

  /** Figures of every endpoint, for `GET /status`. */
  status(): EndpointStatus[] {
    return this.endpoints.map((e) => ({
      name: e.name,
      url: e.settings.url,
      healthy: e.healthy,
      inFlight: e.inFlight,
      limit: e.settings.maxConcurrent,
      requests: e.requests,
      failures: e.failures,
      latencyMs: e.latencyMs,
      ...(e.nextProbeAt !== undefined && !e.healthy ? { nextProbeAt: new Date(e.nextProbeAt).toISOString() } : {}),
      ...(e.lastError !== undefined ? { lastError: e.lastError } : {}),
    }));
  }

  /**
   * Run `attempt` on an endpoint chosen for `session`; a failure before its first token that is the
   * endpoint's (or a busy answer) is retried once on another endpoint.
   */
  async run<T>(session: string | undefined, signal: AbortSignal | undefined, attempt: (a: Attempt) => Promise<T>, only?: EndpointFilter): Promise<T> {
    let exclude: Endpoint | undefined;
    let previous: EngineFailure | undefined;
    for (let round = 0; ; round++) {
      let lease: Lease;
      try {
        lease = await this.acquire(session, signal, exclude, only);
      } catch (error) {
        // The retry found no other endpoint: say what failed first.
        if (previous && (error as { code?: string }).code === 'LH_ERR_REMOTE_UNAVAILABLE') {
          throw remoteError('LH_ERR_REMOTE_UNAVAILABLE', `${previous.message}; no other endpoint of model ${this.#options.model} is available to retry on`, previous);
        }
        throw error;
      }
      const { endpoint } = lease;
      const started = performance.now();
      let first = false;
      try {
        const result = await attempt({
          endpoint,
          firstToken: () => {
            if (first) return;
            first = true;
            endpoint.latencyMs = Math.round(performance.now() - started);
          },
        });
        this.#succeeded(endpoint);
        return result;
      } catch (error) {
        if (!(error instanceof EngineFailure)) throw error;
        if (error.endpointFault) this.markFailed(endpoint, error.message);
        if (first) {
          throw remoteError('LH_ERR_REMOTE_STREAM', `the answer from endpoint ${endpoint.name} broke off after it had started: ${error.message}`, error);
        }
        if (!error.retryable || round >= 1) throw toPluginError(error);
        previous = error;
        exclude = endpoint;
      } finally {
        lease.release();
      }
    }
  }

  /**
   * A place on an endpoint for `session` (not `exclude`): at once when one is free, after a wait when all
   * healthy ones are full, or `LH_ERR_REMOTE_UNAVAILABLE` at once when none is healthy.
   */
  acquire(session: string | undefined, signal?: AbortSignal, exclude?: Endpoint, only?: EndpointFilter): Promise<Lease> {
    if (signal?.aborted) return Promise.reject(remoteError('LH_ERR_CANCELLED', 'the request was cancelled before it reached an endpoint'));
    const now = this.#tryAcquire(session, exclude, only);
    if (now instanceof Error) return Promise.reject(now);
    if (now) return Promise.resolve(now);
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(waiter);
        reject(remoteError('LH_ERR_CANCELLED', 'the request was cancelled while it waited for an endpoint'));
      };
      const waiter: Waiter = {
        session,
        exclude,
        only,
        resolve: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A lease now, `undefined` when all healthy endpoints are full, an error when none is healthy. */
  #tryAcquire(session: string | undefined, exclude: Endpoint | undefined, only: EndpointFilter | undefined): Lease | Error | undefined {
    if (this.#disposed) return remoteError('LH_ERR_MODEL_DISPOSED', `model ${this.#options.model} was unloaded`);
    const eligible = this.endpoints.filter((e) => e !== exclude && (!only || only(e)));
    const healthy = eligible.filter((e) => e.healthy);
    if (healthy.length === 0) return this.#unavailable(eligible);
    const pinned = session !== undefined ? this.#sticky.get(session) : undefined;
    let chosen = pinned && healthy.includes(pinned) && pinned.free ? pinned : undefined;
    if (!chosen) {
      for (const e of healthy) {
        if (!e.free) continue;
        if (!chosen || e.inFlight < chosen.inFlight || (e.inFlight === chosen.inFlight && e.requests < chosen.requests)) chosen = e;
      }
    }
    if (!chosen) return undefined;
    if (session !== undefined && (!pinned || !pinned.healthy)) {
      this.#sticky.delete(session);
      this.#sticky.set(session, chosen);
      if (this.#sticky.size > MAX_STICKY_SESSIONS) this.#sticky.delete(this.#sticky.keys().next().value!);
    } else if (session !== undefined && pinned) {
      // Refresh its place in the LRU order.
      this.#sticky.delete(session);
      this.#sticky.set(session, pinned);
    }
    const endpoint = chosen;
    endpoint.inFlight++;
    endpoint.requests++;
    let released = false;
    return {
      endpoint,
      release: () => {
        if (released) return;
        released = true;
        endpoint.inFlight--;
        this.#wake();
      },
    };
  }

  #unavailable(down: readonly Endpoint[]): Error {
    const parts = down.map((e) => {
      const next = e.nextProbeAt !== undefined ? `, next probe in ${Math.max(0, Math.ceil((e.nextProbeAt - Date.now()) / 1000))} s` : '';
      return `${e.name}: ${e.lastError ?? 'down'}${next}`;
    });
    const detail = parts.length > 0 ? ` (${parts.join('; ')})` : '';
    return remoteError('LH_ERR_REMOTE_UNAVAILABLE', `every endpoint of model ${this.#options.model} is down${detail}; retry later`);
  }

  /** Give waiting requests the places that opened (or the error when none is healthy any more). */
  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      const lease = this.#tryAcquire(waiter.session, waiter.exclude, waiter.only);
      if (lease === undefined) continue;
      this.#waiters.delete(waiter);
      if (lease instanceof Error) waiter.reject(lease);
      else waiter.resolve(lease);
    }
  }

  #succeeded(endpoint: Endpoint): void {
    endpoint.consecutiveFailures = 0;
  }

  /** Take `endpoint` out after a failure and schedule its probe (backoff doubles per failure). */
  markFailed(endpoint: Endpoint, why: string): void {
    endpoint.failures++;
    endpoint.lastError = clip(why, 300);
    if (!endpoint.healthy) return; // already out, its probe is scheduled
    endpoint.healthy = false;
    endpoint.consecutiveFailures++;
    this.#options.logger.warn({ endpoint: endpoint.name, model: this.#options.model, err: endpoint.lastError }, 'remote endpoint taken out of the pool; probing it until it answers');
    this.#scheduleProbe(endpoint);
    this.#wake();
  }

  #scheduleProbe(endpoint: Endpoint): void {
    if (this.#disposed) return;
    const { probeInitialMs, probeMaxMs } = this.#options;
    const base = Math.min(probeMaxMs, probeInitialMs * 2 ** Math.min(30, Math.max(0, endpoint.consecutiveFailures - 1)));
    // Up to 10 % jitter, so that front hosts started together do not probe in step.
    const delay = Math.round(base * (1 + Math.random() * 0.1));
    endpoint.nextProbeAt = Date.now() + delay;
    clearTimeout(endpoint.probeTimer);
    endpoint.probeTimer = setTimeout(() => void this.#probe(endpoint), delay);
    endpoint.probeTimer.unref();
  }

  async #probe(endpoint: Endpoint): Promise<void> {
    if (this.#disposed) return;
    const started = performance.now();
    try {
      await requestJson({ endpoint: endpoint.name, url: `${endpoint.settings.url}/models`, apiKey: endpoint.settings.apiKey, timeoutMs: this.#options.probeTimeoutMs });
    } catch (error) {
      if (this.#disposed) return;
      endpoint.consecutiveFailures++;
      endpoint.lastError = clip(messageOf(error), 300);
      this.#scheduleProbe(endpoint);
      return;
    }
    if (this.#disposed) return;
    endpoint.healthy = true;
    endpoint.consecutiveFailures = 0;
    endpoint.nextProbeAt = undefined;
    endpoint.latencyMs = Math.round(performance.now() - started);
    this.#options.logger.info({ endpoint: endpoint.name, model: this.#options.model }, 'remote endpoint answers again; back in the pool');
    this.#wake();
  }

  /** Stop probing; waiting requests fail with `LH_ERR_MODEL_DISPOSED`. */
  dispose(): void {
    this.#disposed = true;
    for (const e of this.endpoints) clearTimeout(e.probeTimer);
    this.#wake();
  }
}
