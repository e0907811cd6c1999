/**
 * The host's Prometheus metrics (issue 18), served by `GET /metrics`: one registry per host, every metric
 * defined here, fed by the observers the parts below take in their options (scheduler, generation service,
 * sandbox pool, binding manager, hot reloader) and by read-outs at scrape time (slots, queue, processes). The
 * parts never import this module: the composition root hands them its observers.
 *
 * prom-client (the Prometheus client for Node that most Node services use) renders the text format, keeps the
 * histograms and labels, and adds the standard process metrics (CPU, memory, event loop lag, GC).
 *
 * Label values are bounded: `mode` and `outcome` are fixed sets, `personality` is a mounted personality's path
 * (or `other`), `code` an error code of the registry, `kind`/`reason` fixed sets of the sandbox and models,
 * `endpoint` the name of one of the loaded remote model's endpoints (configured by the operator, at most 64).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EndpointStatus } from '../../plugin-api/binding.js';
import type { ModelObserver } from '../bindings/manager.js';
import type { SchedulerObserver } from '../generation/scheduler.js';
import type { EndedGeneration, GenerationObserver } from '../generation/types.js';
import type { ReloadRecord } from '../hot-reload/reloader.js';
import type { SandboxPoolObserver } from '../sandbox/process-pool.js';
import { processesMemory } from '../util/process-memory.js';

/** What the metrics read at scrape time. */
export interface MetricsSources {
  /** Generation slots in total and in use (`parallel`). */
  slots(): { total: number; busy: number };
  /** Requests waiting for a slot. */
  queueDepth(): number;
  /** Sandbox processes running (the spare not counted). */
  sandboxProcesses(): number;
  /** Their process ids. */
  sandboxPids(): number[];
  /** Whether a model is loaded now. */
  modelLoaded(): boolean;
  /** Whether `path` is a mounted personality (only those become label values). */
  isMounted(path: string): boolean;
  /** The loaded model's remote endpoints (`status().endpoints` of an `openai_remote` model); empty otherwise. */
  remoteEndpoints(): EndpointStatus[];
}

/**
 * A gauge or counter labelled `endpoint`, filled at scrape time from the loaded model's endpoints: reset first,
 * so the endpoints of a model no longer loaded disappear. The counters are the model's own counts, so they
 * restart from 0 when the model loads again.
 */
function endpointGauge(name: string, help: string, registers: Registry[], sources: MetricsSources, read: (e: EndpointStatus) => number | null): void {
  new Gauge({
    name,
    help,
    labelNames: ['endpoint'],
    registers,
    collect() {
      this.reset();
      for (const endpoint of sources.remoteEndpoints()) {
        const value = read(endpoint);
        if (value !== null) this.set({ endpoint: endpoint.name }, value);
      }
    },
  });
}

/** As `endpointGauge`, for a count the model keeps: set by `reset()` + `inc(count)`. */
function endpointCounter(name: string, help: string, registers: Registry[], sources: MetricsSources, read: (e: EndpointStatus) => number): void {
  new Counter({
    name,
    help,
    labelNames: ['endpoint'],
    registers,
    collect() {
      this.reset();
      for (const endpoint of sources.remoteEndpoints()) this.inc({ endpoint: endpoint.name }, read(endpoint));
    },
  });
}

/** Seconds from a request to its first streamed text. */
const FIRST_TOKEN_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TOKENS_PER_SECOND_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const QUEUE_WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
const MODEL_LOAD_BUCKETS = [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/**
 * The standard process metrics, once per process: they describe the process, not a host, and prom-client's
 * event-loop monitor is never stopped, so several hosts in one process (tests) share one set.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class HostMetrics {
  readonly registry = new Registry();
  readonly #sources: MetricsSources;
  readonly #generations: Counter<'mode' | 'outcome' | 'personality'>;
  readonly #errors: Counter<'mode' | 'code'>;
  readonly #promptTokens: Counter<'mode'>;
  readonly #completionTokens: Counter<'mode'>;
  readonly #firstToken: Histogram<'mode'>;
  readonly #tokensPerSecond: Histogram<'mode'>;
  readonly #duration: Histogram<'mode' | 'outcome'>;
  readonly #queueWait: Histogram;
  readonly #refused: Counter<'reason'>;
  readonly #abandoned: Counter;
  readonly #sandboxStarts: Counter<'reason'>;
  readonly #sandboxReclaims: Counter<'reason'>;
  readonly #violations: Counter<'kind'>;
  readonly #reloads: Counter<'kind' | 'outcome'>;
  readonly #modelLoad: Histogram<'reason'>;
  readonly #modelUnloads: Counter;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    const registers = [this.registry];
    this.#generations = new Counter({
      name: 'lollms_generations_total',
      help: 'Generations that ended, by mode (raw, personality, chat), outcome (done, cancelled, error) and personality (mounted path; empty in raw mode).',
      labelNames: ['mode', 'outcome', 'personality'],
      registers,
    });
    this.#errors = new Counter({ name: 'lollms_generation_errors_total', help: 'Generations that failed, by mode and error code.', labelNames: ['mode', 'code'], registers });
    this.#promptTokens = new Counter({ name: 'lollms_prompt_tokens_total', help: 'Prompt tokens evaluated, over every model call of every generation.', labelNames: ['mode'], registers });
    this.#completionTokens = new Counter({ name: 'lollms_completion_tokens_total', help: 'Tokens generated, over every model call of every generation.', labelNames: ['mode'], registers });
    this.#firstToken = new Histogram({
      name: 'lollms_time_to_first_token_seconds',
      help: 'From a request to the first text it streamed (queue wait and prompt evaluation included).',
      labelNames: ['mode'],
      buckets: FIRST_TOKEN_BUCKETS,
      registers,
    });
    this.#tokensPerSecond = new Histogram({
      name: 'lollms_generation_tokens_per_second',
      help: 'Generated tokens per second of model time, per generation.',
      labelNames: ['mode'],
      buckets: TOKENS_PER_SECOND_BUCKETS,
      registers,
    });
    this.#duration = new Histogram({
      name: 'lollms_generation_duration_seconds',
      help: 'From a request to its end, queue wait included.',
      labelNames: ['mode', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({ name: 'lollms_generation_slots', help: 'Generation slots (config parallel).', registers, collect() { this.set(sources.slots().total); } });
    new Gauge({ name: 'lollms_generation_slots_in_use', help: 'Generation slots running a generation now.', registers, collect() { this.set(sources.slots().busy); } });
    new Gauge({ name: 'lollms_generation_queue_depth', help: 'Requests waiting for a slot now.', registers, collect() { this.set(sources.queueDepth()); } });
    this.#queueWait = new Histogram({
      name: 'lollms_generation_queue_wait_seconds',
      help: 'How long a request waited for its slot (0 when one was free).',
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    this.#refused = new Counter({ name: 'lollms_generation_refused_total', help: 'Requests refused at once: busy (no room, socket busy rule) or queue_full.', labelNames: ['reason'], registers });
    this.#abandoned = new Counter({ name: 'lollms_generation_queue_abandoned_total', help: 'Requests that left the queue before their slot (cancel, disconnect).', registers });
    new Gauge({ name: 'lollms_sandbox_processes', help: 'Sandbox processes running personality processors (the spare not counted).', registers, collect() { this.set(sources.sandboxProcesses()); } });
    new Gauge({
      name: 'lollms_sandbox_resident_bytes',
      help: 'Resident memory of the sandbox processes, summed (RSS).',
      registers,
      async collect() {
        const memory = await processesMemory(sources.sandboxPids());
        if (memory) this.set(memory.rss);
      },
    });
    this.#sandboxStarts = new Counter({
      name: 'lollms_sandbox_process_starts_total',
      help: 'Sandbox processes started: load (mount, hot reload), wake (after an idle one was ended), restart (after one ended on its own: crash, fatal limit).',
      labelNames: ['reason'],
      registers,
    });
    this.#sandboxReclaims = new Counter({ name: 'lollms_sandbox_reclaims_total', help: 'Idle sandbox processes ended to free memory: idle (sandbox_idle_ms) or evicted (sandbox_max_processes).', labelNames: ['reason'], registers });
    this.#violations = new Counter({
      name: 'lollms_sandbox_limit_violations_total',
      help: 'Processor calls that failed on a sandbox limit, by kind: timeout, memory, host_calls, emit, payload, crashed.',
      labelNames: ['kind'],
      registers,
    });
    this.#reloads = new Counter({ name: 'lollms_plugin_reloads_total', help: 'Plugin hot reloads, by kind (binding, personality) and outcome (ok, failed).', labelNames: ['kind', 'outcome'], registers });
    this.#modelLoad = new Histogram({
      name: 'lollms_model_load_seconds',
      help: 'Model load time, by reason: select (start-up, select_model), reload (binding hot reload), wake (after keep_alive unloaded it).',
      labelNames: ['reason'],
      buckets: MODEL_LOAD_BUCKETS,
      registers,
    });
    this.#modelUnloads = new Counter({ name: 'lollms_model_unloads_total', help: 'Models unloaded after keep_alive without use.', registers });
    new Gauge({ name: 'lollms_model_loaded', help: '1 while a model is loaded, 0 otherwise (none selected, or unloaded by keep_alive).', registers, collect() { this.set(sources.modelLoaded() ? 1 : 0); } });
    endpointGauge('lollms_remote_endpoint_up', "1 while a remote endpoint of the loaded model takes requests, 0 while it is out and probed.", registers, sources, (e) => (e.healthy ? 1 : 0));
    endpointGauge('lollms_remote_endpoint_in_flight', 'Requests running on a remote endpoint now.', registers, sources, (e) => e.inFlight);
    endpointGauge('lollms_remote_endpoint_limit', "A remote endpoint's concurrency limit (max_concurrent).", registers, sources, (e) => e.limit);
    endpointGauge('lollms_remote_endpoint_latency_seconds', "Time to the first token (or the answer) of a remote endpoint's last successful request; absent before one.", registers, sources, (e) => (e.latencyMs === null ? null : e.latencyMs / 1000));
    endpointCounter('lollms_remote_endpoint_requests_total', 'Requests sent to a remote endpoint since the model was loaded (retries included); restarts when the model loads again.', registers, sources, (e) => e.requests);
    endpointCounter('lollms_remote_endpoint_failures_total', 'Of those, the ones that failed because of the endpoint (connection, server error, broken stream); restarts when the model loads again.', registers, sources, (e) => e.failures);
  }

  /** The scheduler's observer: queue waits, refusals, abandoned places. */
  readonly scheduler: SchedulerObserver = {
    admitted: (_client, waitedMs) => this.#queueWait.observe(waitedMs / 1000),
    refused: (reason) => this.#refused.inc({ reason }),
    abandoned: () => this.#abandoned.inc(),
  };

  /** The generation service's observer: every generation that ended. */
  readonly generation: GenerationObserver = {
    ended: (g: EndedGeneration) => {
      const mode = g.mode;
      const personality = g.personality === undefined ? '' : this.#sources.isMounted(g.personality) ? g.personality : 'other';
      this.#generations.inc({ mode, outcome: g.outcome, personality });
      if (g.outcome === 'error') this.#errors.inc({ mode, code: g.errorCode ?? 'uncoded' });
      if (g.usage.promptTokens > 0) this.#promptTokens.inc({ mode }, g.usage.promptTokens);
      if (g.usage.completionTokens > 0) this.#completionTokens.inc({ mode }, g.usage.completionTokens);
      if (g.timings.firstTextMs !== undefined) this.#firstToken.observe({ mode }, g.timings.firstTextMs / 1000);
      if (g.timings.tokensPerSecond !== undefined && Number.isFinite(g.timings.tokensPerSecond)) this.#tokensPerSecond.observe({ mode }, g.timings.tokensPerSecond);
      this.#duration.observe({ mode, outcome: g.outcome }, g.timings.totalMs / 1000);
    },
  };

  /** The sandbox pool's observer. */
  readonly sandbox: SandboxPoolObserver = {
    started: (reason) => this.#sandboxStarts.inc({ reason }),
    reclaimed: (why) => this.#sandboxReclaims.inc({ reason: why }),
    violation: (kind) => this.#violations.inc({ kind }),
  };

  /** The binding manager's observer. */
  readonly models: ModelObserver = {
    loaded: (_model, ms, reason) => this.#modelLoad.observe({ reason }, ms / 1000),
    unloaded: () => this.#modelUnloads.inc(),
  };

  /** The hot reloader's observer. */
  readonly reloaded = (record: ReloadRecord): void => {
    this.#reloads.inc({ kind: record.kind, outcome: record.ok ? 'ok' : 'failed' });
  };

  /** The content type of `render()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format: this host's, then the process's. */
  async render(): Promise<string> {
    const [host, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${host}\n${process}`;
  }
}
