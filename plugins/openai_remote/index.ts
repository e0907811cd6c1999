/**
 * The `openai_remote` binding: models served by pools of OpenAI-compatible engines (vLLM, llama-server,
 * Ollama, LM Studio, gateways, other lollms-host instances). The host keeps its personalities, sandboxed
 * workflows and LoLLMs protocol; the engines do the compute. Configuration and behaviour: docs/scale-out.md.
 *
 * Settings live in `<data dir>/settings/bindings/openai_remote.yaml` (the card holds defaults only); API keys
 * come from environment variables or secret files and are never logged.
 */
import { defineBinding, type BindingContext, type LoadModelRequest, type ModelFile } from 'lollms-host/plugin-api';
import { clip, messageOf, remoteError } from './errors.js';
import { EngineFailure, requestJson } from './http.js';
import { rootOf, RemoteModel } from './model.js';
import { Endpoint, EndpointPool } from './pool.js';
import { readRemoteSettings, type EndpointSettings, type RemoteSettings } from './settings.js';

/** What an engine's `/v1/models` lists; `max_model_len` is vLLM's context size. */
interface ListedModel {
  id: string;
  ownedBy: string | undefined;
  contextSize: number | undefined;
}

/** Models listed per endpoint, at most. */
const MAX_LISTED = 10_000;

const NO_ENDPOINTS =
  'the openai_remote binding has no endpoints: list them under "endpoints" in <data dir>/settings/bindings/openai_remote.yaml (see docs/scale-out.md)';

async function listEndpoint(endpoint: EndpointSettings, timeoutMs: number, signal?: AbortSignal): Promise<ListedModel[]> {
  const answer = (await requestJson({ endpoint: endpoint.name, url: `${endpoint.url}/models`, apiKey: endpoint.apiKey, timeoutMs, ...(signal ? { signal } : {}) })) as { data?: unknown };
  if (!Array.isArray(answer?.data)) throw new EngineFailure('LH_ERR_REMOTE_HTTP', `endpoint ${endpoint.name}: /models has no data list`, { endpointFault: true, retryable: true });
  return answer.data.slice(0, MAX_LISTED).flatMap((item) => {
    const m = item as { id?: unknown; owned_by?: unknown; max_model_len?: unknown };
    if (typeof m.id !== 'string' || m.id === '' || m.id.length > 256) return [];
    return [{
      id: m.id,
      ownedBy: typeof m.owned_by === 'string' ? m.owned_by : undefined,
      contextSize: typeof m.max_model_len === 'number' && Number.isInteger(m.max_model_len) && m.max_model_len > 0 ? m.max_model_len : undefined,
    }];
  });
}

/** The local names an endpoint offers: its mapped names, and its own ids that no mapping renames. */
function localNames(endpoint: EndpointSettings, listed: readonly ListedModel[] | undefined): string[] {
  const mapped = Object.keys(endpoint.models);
  const renamed = new Set(Object.values(endpoint.models));
  // Another lollms-host lists its personalities as models: this host runs personalities itself.
  const own = (listed ?? []).filter((m) => m.ownedBy !== 'lollms-personality' && !renamed.has(m.id)).map((m) => m.id);
  return [...mapped, ...own];
}

async function settingsOf(ctx: BindingContext): Promise<RemoteSettings> {
  const settings = await readRemoteSettings(ctx.settings);
  if (settings.endpoints.length === 0) throw remoteError('LH_ERR_REMOTE_CONFIG', NO_ENDPOINTS);
  return settings;
}

async function listModels(ctx: BindingContext): Promise<ModelFile[]> {
  // Not configured yet: no models, as an empty models folder has none (`lollms-host list` shows every binding).
  const settings = await readRemoteSettings(ctx.settings);
  if (settings.endpoints.length === 0) {
    ctx.logger.debug({}, NO_ENDPOINTS);
    return [];
  }
  const lists = await Promise.all(
    settings.endpoints.map((e) =>
      listEndpoint(e, settings.connectTimeoutMs).catch((error: unknown) => {
        ctx.logger.warn({ endpoint: e.name, err: clip(messageOf(error)) }, 'remote endpoint did not list its models; showing its mapped names only');
        return undefined;
      }),
    ),
  );
  const byName = new Map<string, string[]>();
  settings.endpoints.forEach((endpoint, i) => {
    for (const name of localNames(endpoint, lists[i])) {
      const where = `${endpoint.url} (${endpoint.models[name] ?? name})`;
      byName.set(name, [...(byName.get(name) ?? []), where]);
    }
  });
  // `kind: 'reference'`: the model is kept elsewhere; `path` says where (shown by `lollms-host list`).
  return [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, where]) => ({ name, path: where.join(', '), kind: 'reference' as const, size: 0 }));
}

/** Whether an endpoint answers `/tokenize` with token ids (llama-server, vLLM, lollms-host). */
async function probeTokenize(endpoint: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  try {
    const answer = (await requestJson({
      endpoint: endpoint.name,
      url: `${rootOf(endpoint.settings.url)}/tokenize`,
      apiKey: endpoint.settings.apiKey,
      body: { content: 'hello', add_special: false, model: endpoint.remoteModel, prompt: 'hello', add_special_tokens: false },
      timeoutMs,
      ...(signal ? { signal } : {}),
    })) as { tokens?: unknown };
    return Array.isArray(answer?.tokens) && answer.tokens.every((t) => Number.isInteger(t));
  } catch {
    return false;
  }
}

async function loadModel(ctx: BindingContext, request: LoadModelRequest): Promise<RemoteModel> {
  const settings = await settingsOf(ctx);
  const name = request.model;
  const { signal } = request;
  request.onProgress?.(0);
  const lists = await Promise.all(
    settings.endpoints.map((e) => listEndpoint(e, settings.connectTimeoutMs, signal).then((l) => ({ ok: true as const, list: l }), (error: unknown) => ({ ok: false as const, error }))),
  );
  if (signal?.aborted) throw remoteError('LH_ERR_CANCELLED', `loading model ${name} was cancelled`);
  const members: Array<{ endpoint: Endpoint; down?: string; contextSize: number | undefined }> = [];
  settings.endpoints.forEach((e, i) => {
    const remote = e.models[name] ?? name;
    const listed = lists[i]!;
    if (listed.ok) {
      const entry = listed.list.find((m) => m.id === remote);
      if (!entry || !localNames(e, listed.list).includes(name)) {
        if (Object.hasOwn(e.models, name)) ctx.logger.warn({ endpoint: e.name, model: name, id: remote }, 'remote endpoint does not list the mapped model id; it is left out of the pool');
        return;
      }
      members.push({ endpoint: new Endpoint(e, remote), contextSize: e.contextSize ?? entry.contextSize });
    } else if (Object.hasOwn(e.models, name)) {
      // Down now but configured for this model: in the pool, out until a probe answers.
      members.push({ endpoint: new Endpoint(e, remote), down: messageOf(listed.error), contextSize: e.contextSize });
    }
  });
  if (members.length === 0) {
    const down = lists.every((l) => !l.ok);
    throw remoteError(down ? 'LH_ERR_REMOTE_UNAVAILABLE' : 'LH_ERR_MODEL_NOT_FOUND', down ? `no endpoint of the openai_remote binding answers, so model ${name} cannot be loaded` : `no endpoint serves model ${name}`);
  }
  await Promise.all(
    members.map(async (m) => {
      const mode = m.endpoint.settings.tokenize;
      m.endpoint.canTokenize = mode === 'on' || (mode === 'auto' && m.down === undefined && (await probeTokenize(m.endpoint, settings.connectTimeoutMs, signal)));
    }),
  );
  const pool = new EndpointPool({
    model: name,
    endpoints: members.map((m) => m.endpoint),
    probeInitialMs: settings.probeInitialMs,
    probeMaxMs: settings.probeMaxMs,
    probeTimeoutMs: settings.connectTimeoutMs,
    logger: ctx.logger,
  });
  for (const m of members) if (m.down !== undefined) pool.markFailed(m.endpoint, m.down);
  const sizes = members.map((m) => m.contextSize).filter((s): s is number => s !== undefined);
  const model = new RemoteModel({
    name,
    // The smallest context of the pool, so that a prompt cropped for it fits every endpoint.
    contextSize: sizes.length > 0 ? Math.min(...sizes) : request.contextSize,
    pool,
    idleTimeoutMs: settings.idleTimeoutMs,
    requestTimeoutMs: Math.max(settings.connectTimeoutMs, 60_000),
  });
  if (signal?.aborted) {
    await model.dispose();
    throw remoteError('LH_ERR_CANCELLED', `loading model ${name} was cancelled`);
  }
  request.onProgress?.(1);
  ctx.logger.info(
    {
      model: name,
      contextSize: model.contextSize,
      endpoints: members.map((m) => ({ name: m.endpoint.name, url: m.endpoint.settings.url, model: m.endpoint.remoteModel, limit: m.endpoint.settings.maxConcurrent, tokenize: m.endpoint.canTokenize, up: m.down === undefined })),
    },
    'remote model loaded',
  );
  return model;
}

export default defineBinding({ listModels, loadModel });
