/**
 * `GET /status`: what the host is doing now, for `lollms-host ps` and the console. Field names are the wire's
 * (snake_case), and later issues add fields; clients ignore the ones they do not know.
 */
import type { ServerResponse } from 'node:http';
import { PACKAGE_VERSION } from '../../util/package-root.js';
import { redactPaths } from '../../util/redact-paths.js';
import type { HttpDeps } from './deps.js';
import { sendJson } from './respond.js';

export interface StatusReport {
  version: string;
  binding: string | null;
  model: string | null;
  /** The model being loaded, or null. */
  loading: string | null;
  /** Whether the loaded model is the random-weight test model (its text is gibberish). */
  test_model: boolean;
  slots: { total: number; busy: number };
  queue: { depth: number };
  personalities: Array<{ id: number; path: string; name: string; error?: string }>;
  recent_generations: Array<{
    mode: string;
    personality?: string;
    transport: string;
    prompt_tokens: number;
    /** Of `prompt_tokens`, those taken from the binding's cache of the same client's earlier prompts. */
    prompt_cached_tokens: number;
    completion_tokens: number;
    tokens_per_s: number | null;
    outcome: string;
    error?: string;
    ended_at: string;
  }>;
  reloads: Array<{ kind: string; name: string; ok: boolean; at: string; error?: string }>;
  /**
   * The remote endpoints serving the loaded model, when its binding reports them (`LoadedModel.status`, e.g.
   * openai_remote); absent otherwise.
   */
  endpoints?: Array<{
    name: string;
    url: string;
    healthy: boolean;
    in_flight: number;
    limit: number;
    requests: number;
    failures: number;
    latency_ms: number | null;
    next_probe_at?: string;
    last_error?: string;
  }>;
}

/** Endpoints shown, at most (a binding reports what it has; the page stays bounded). */
const MAX_STATUS_ENDPOINTS = 256;

/** The loaded model's endpoints, from its binding's optional status hook; a hook that throws shows none. */
export function endpointsOf(deps: HttpDeps): StatusReport['endpoints'] {
  const model = deps.bindings.model?.model;
  let endpoints;
  try {
    endpoints = model?.status?.().endpoints;
  } catch (error) {
    deps.logger.warn({ err: String(error) }, 'the binding\'s status hook failed');
    return undefined;
  }
  if (!Array.isArray(endpoints)) return undefined;
  return endpoints.slice(0, MAX_STATUS_ENDPOINTS).map((e) => ({
    name: String(e.name),
    url: String(e.url),
    healthy: e.healthy === true,
    in_flight: e.inFlight,
    limit: e.limit,
    requests: e.requests,
    failures: e.failures,
    latency_ms: e.latencyMs,
    ...(e.nextProbeAt !== undefined ? { next_probe_at: e.nextProbeAt } : {}),
    ...(e.lastError !== undefined ? { last_error: redactPaths(String(e.lastError)) } : {}),
  }));
}

export function statusReport(deps: HttpDeps): StatusReport {
  const { bindings, generation, personalities, reloads } = deps;
  const model = bindings.model?.name ?? null;
  const status = generation.status();
  const endpoints = endpointsOf(deps);
  return {
    version: PACKAGE_VERSION,
    binding: bindings.activeBinding ?? null,
    model,
    loading: bindings.loading ?? null,
    test_model: model !== null && deps.isTestModel(model),
    slots: status.slots,
    queue: status.queue,
    personalities: personalities.mounted.flatMap((m, id) => (m.removed ? [] : [{ id, path: m.path, name: m.name, ...(m.error !== undefined ? { error: redactPaths(m.error) } : {}) }])),
    recent_generations: status.recent.map((g) => ({
      mode: g.mode,
      ...(g.personality !== undefined ? { personality: g.personality } : {}),
      transport: g.transport,
      prompt_tokens: g.promptTokens,
      prompt_cached_tokens: g.cachedPromptTokens,
      completion_tokens: g.completionTokens,
      tokens_per_s: g.tokensPerSecond,
      outcome: g.outcome,
      ...(g.error !== undefined ? { error: g.error } : {}),
      ended_at: g.endedAt,
    })),
    reloads: reloads.recentReloads().map((r) => ({ kind: r.kind, name: r.name, ok: r.ok, at: r.at, ...(r.error !== undefined ? { error: redactPaths(r.error) } : {}) })),
    ...(endpoints ? { endpoints } : {}),
  };
}

export function serveStatus(deps: HttpDeps, res: ServerResponse): void {
  sendJson(res, 200, statusReport(deps));
}
