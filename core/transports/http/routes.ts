import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { statfs, stat } from 'node:fs/promises';
import { totalmem, freemem } from 'node:os';
import { extname } from 'node:path';
import { z } from 'zod';
import { accessPolicy, checkAccess, isHostHeaderAllowed, keyMatches, offeredKey } from '../access.js';
import { serveStatic } from './static.js';
import { clientText } from '../../protocol/client-error.js';
import { isConfigKey, validateValue, type ConfigKey } from '../../config.js';
import { errorMessage } from '../../errors.js';
import { PACKAGE_VERSION } from '../../util/package-root.js';
import type { HttpDeps } from './deps.js';
import { HttpError, readJsonBody, sendJson } from './respond.js';
import { endpointsOf, serveStatus } from './status.js';
import { detokenizeRoute, tokenizeRoute } from './tokenize.js';
import { consolePageState, serveConsole } from './console-assets.js';
import { sendError as sendOpenAIError } from './openai/errors.js';
import { handleOpenAIRequest, isOpenAIPath } from './openai/routes.js';

/**
 * Keys `/update_setting` may change at run time. Network and security keys (host, port, api_key,
 * allowed_origins, plugin paths, sandbox limits) are changed in the config file only: a client must not be able
 * to widen its own access.
 */
const RUNTIME_SETTINGS = new Set<ConfigKey>([
  'binding_name', 'model_name', 'seed', 'n_predict', 'temperature', 'top_k', 'top_p', 'repeat_last_n', 'repeat_penalty',
  'override_personality_model_parameters', 'user_name', 'discussion_prompt_separator', 'use_user_name_in_discussions',
  'keep_alive',
]);

const UpdateSettingSchema = z.object({ setting_name: z.string().min(1), setting_value: z.unknown() });

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.gif': 'image/gif', '.webp': 'image/webp', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.bmp': 'image/bmp',
};

type Route = (deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** The later originals' routes (lollms-reference §1.5), with their field names, plus our own. */
const ROUTES: Record<string, Route> = {
  // Ready (200) once the start-up model has loaded or failed to: `ok` with a model, `no_model` without one (and
  // why); 503 `starting` or `loading` before. docs/protocol.md lists the bodies.
  'GET /health': (deps, _req, res) => {
    const { bindings } = deps;
    const { state, model, loading, error } = bindings.readiness;
    const binding = bindings.activeBinding ?? null;
    if (state === 'starting') sendJson(res, 503, { status: 'starting', model: null, binding });
    else if (state === 'loading') sendJson(res, 503, { status: 'loading', model: loading, binding });
    else if (state === 'ready') {
      // A model served by remote endpoints (openai_remote): how many of them take requests now.
      const endpoints = endpointsOf(deps);
      sendJson(res, 200, { status: 'ok', model, binding, ...(endpoints ? { endpoints: { healthy: endpoints.filter((e) => e.healthy).length, total: endpoints.length } } : {}) });
    }
    else sendJson(res, 200, { status: 'no_model', model: null, binding, ...(error !== undefined ? { error: clientText(error) } : {}) });
  },
  'GET /status': (deps, _req, res) => serveStatus(deps, res),
  'GET /metrics': async ({ metrics }, _req, res) => {
    const text = await metrics.render();
    res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
    res.end(text);
  },
  'GET /get_config': ({ config }, _req, res) => sendJson(res, 200, config.redacted()),
  'GET /list_models': async ({ bindings }, _req, res) => {
    if (!bindings.activeBinding) return sendJson(res, 200, []);
    sendJson(res, 200, (await bindings.listModels()).map((m) => m.name));
  },
  'GET /get_active_model': async ({ bindings }, _req, res) => {
    const current = bindings.model;
    if (!current) return sendJson(res, 200, null);
    const names = (await bindings.listModels()).map((m) => m.name);
    sendJson(res, 200, { model: current.name, index: names.indexOf(current.name) });
  },
  'GET /list_mounted_personalities': ({ personalities }, _req, res) => sendJson(res, 200, personalities.mountedPaths()),
  'POST /update_setting': async (deps, req, res) => {
    const parsed = UpdateSettingSchema.safeParse(await readJsonBody(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, `field "${issue?.path.join('.') || 'body'}": ${issue?.message ?? 'invalid'}`);
    }
    const { setting_name: name, setting_value: value } = parsed.data;
    if (!isConfigKey(name)) throw new HttpError(400, `unknown setting "${name}"`);
    if (!RUNTIME_SETTINGS.has(name)) throw new HttpError(403, `setting "${name}" cannot be changed over HTTP; edit the config file and restart`);
    try {
      await applySetting(deps, name, value);
    } catch (error) {
      throw new HttpError(400, errorMessage(error));
    }
    sendJson(res, 200, { setting_name: name, status: true });
  },
  'GET /get_server_ifos': async (deps, _req, res) => sendJson(res, 200, await serverInfos(deps)),
  // llama-server's token routes (tokenize.ts), for hosts in front of this one; off with tokenize_routes: false.
  'POST /tokenize': (deps, req, res) => (deps.config.values.tokenize_routes ? tokenizeRoute(deps, req, res) : notFound(req)),
  'POST /detokenize': (deps, req, res) => (deps.config.values.tokenize_routes ? detokenizeRoute(deps, req, res) : notFound(req)),
};

function notFound(req: IncomingMessage): never {
  throw new HttpError(404, `no route ${req.method} ${String(req.url).slice(0, 200)}`);
}

/** `update_setting`: model and binding changes load them (and are saved once loaded); other keys are validated, applied and saved. */
async function applySetting(deps: HttpDeps, name: ConfigKey, value: unknown): Promise<void> {
  const checked = validateValue(name, value, 'update_setting');
  if (name === 'model_name' && typeof checked === 'string') await deps.selection.selectModel(checked);
  else if (name === 'binding_name' && typeof checked === 'string') await deps.selection.selectBinding(checked);
  else await deps.config.update({ [name]: checked });
  // The idle clock starts again with the new keep_alive (0 unloads an idle model now).
  if (name === 'keep_alive') deps.bindings.keepAliveChanged();
}

/** `/get_server_ifos` (sic), filled with real numbers; sizes in bytes. */
async function serverInfos(deps: HttpDeps): Promise<Record<string, unknown>> {
  const { bindings } = deps;
  const models = bindings.activeBinding ? (await bindings.listModels()).map((m) => m.name) : [];
  const current = bindings.model?.name ?? null;
  const disk = await statfs(deps.modelsPath);
  const total = disk.blocks * disk.bsize;
  const available = disk.bavail * disk.bsize;
  const gpus = deps.config.values.enable_gpu ? await gpuInfo(deps) : [];
  const info: Record<string, unknown> = {
    binding: bindings.activeBinding ?? null,
    models_list: models,
    model: current,
    model_index: current ? models.indexOf(current) : -1,
    lollms_version: PACKAGE_VERSION,
    total_space: total,
    available_space: available,
    percent_usage: total > 0 ? Math.round(((total - available) / total) * 10000) / 100 : 0,
    ram_usage: totalmem() - freemem(),
    nb_gpus: gpus.length,
    system_disk_total_space: total,
    system_disk_available_space: available,
    binding_disk_total_space: total,
    binding_disk_available_space: available,
  };
  gpus.forEach((gpu, i) => {
    info[`gpu_${i}_total_vram`] = gpu.totalVram;
    info[`gpu_${i}_used_vram`] = gpu.usedVram;
    info[`gpu_${i}_model`] = gpu.model;
  });
  return info;
}

/** GPUs the engine uses, with VRAM figures; none when it runs on the CPU. */
async function gpuInfo(deps: HttpDeps): Promise<Array<{ totalVram: number; usedVram: number; model: string }>> {
  try {
    const llama = await deps.engine.getLlama();
    if (!llama.gpu) return [];
    const [vram, names] = await Promise.all([llama.getVramState(), llama.getGpuDeviceNames()]);
    return names.map((model, i) => (i === 0 ? { totalVram: vram.total, usedVram: vram.used, model } : { totalVram: 0, usedVram: 0, model }));
  } catch {
    return [];
  }
}

async function serveAsset(deps: HttpDeps, res: ServerResponse, pathname: string): Promise<void> {
  const file = await deps.personalities.assetFile(pathname).catch(() => undefined);
  const type = file ? CONTENT_TYPES[extname(file).toLowerCase()] : undefined;
  if (!file || !type) throw new HttpError(404, 'not found');
  const info = await stat(file);
  res.writeHead(200, { 'content-type': type, 'content-length': info.size, 'cache-control': 'no-cache' });
  // pipeline, not pipe: a read error (file replaced meanwhile, EMFILE) must end this response, not the host.
  await pipeline(createReadStream(file), res);
}

/** Header names a browser asks to send (an OpenAI SDK sends its own `x-stainless-*` headers); the basic two otherwise. */
function allowedRequestHeaders(asked: string | undefined): string {
  // The Origin was checked before this runs: what such a page may send is what it asks for, if it is header names.
  if (asked !== undefined && asked.length <= 2000 && /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/.test(asked.trim())) return asked.trim();
  return 'content-type, authorization';
}

/**
 * Every HTTP request: Host header, Origin and the API key (`checkAccess`, shared with socket.io), CORS, then the
 * route. Static pages (`static_dirs`) load without the key: a page must load to ask for it. Errors become JSON
 * whose text names no server path; unexpected ones (500) say nothing but that, the details go to the log.
 */
export async function handleHttpRequest(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let api = false;
  try {
    const url = new URL(req.url ?? '/', 'http://host');
    api = isOpenAIPath(url.pathname);
    const policy = accessPolicy(deps.config.values);
    if (!isHostHeaderAllowed(req.headers.host, policy.bindHost)) throw new HttpError(403, `host name "${String(req.headers.host).slice(0, 100)}" is not allowed on a loopback bind`);
    // The console's page and files are the same for everyone and change nothing. They load without the key (a
    // browser cannot send one when it opens a page) and before the Origin check (browsers send Origin even with a
    // page's own module script, so a console opened by an address missing from allowed_origins could not even say
    // so). They carry no CORS header: other origins cannot read them. The page shows the host's state only to an
    // authorized request.
    const authorized = !policy.apiKey || keyMatches(offeredKey(req), policy.apiKey);
    if (await serveConsole(req, res, url, () => (authorized ? consolePageState(deps) : undefined))) return;
    const acts = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';
    const refused = checkAccess(req, policy, { key: false, acts });
    if (refused) throw new HttpError(refused.status, refused.message);
    const origin = req.headers.origin;
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', 'retry-after, x-request-id');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': allowedRequestHeaders(req.headers['access-control-request-headers']),
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (await serveStatic(deps.config.values.static_dirs, req, res, url.pathname)) return;
    const unauthorized = checkAccess(req, policy, { key: true, acts });
    if (unauthorized) throw new HttpError(unauthorized.status, unauthorized.message);
    // A state-changing request must be JSON: a form post or a text/plain fetch (which a browser sends from any
    // page without asking, CORS or not) is refused before anything is read.
    if (acts && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, 'send the request body as JSON (Content-Type: application/json)');
    }
    if (api) return await handleOpenAIRequest(deps, req, res, url);
    const route = ROUTES[`${req.method} ${url.pathname}`];
    if (route) return await route(deps, req, res, url);
    if (req.method === 'GET' && url.pathname.startsWith('/personalities/')) return await serveAsset(deps, res, url.pathname);
    throw new HttpError(404, `no route ${req.method} ${url.pathname.slice(0, 200)}`);
  } catch (error) {
    // The OpenAI-compatible API answers in OpenAI's error shape, the access rules' refusals included.
    if (api) {
      if (!res.headersSent && !res.destroyed) sendOpenAIError(res, error, deps.logger);
      else if (!res.writableEnded) res.destroy();
      return;
    }
    const status = error instanceof HttpError ? error.status : 500;
    if (status === 500) deps.logger.error({ err: errorMessage(error), url: req.url }, 'HTTP route failed');
    const text = status === 500 ? 'internal error (details are in the host log)' : clientText(errorMessage(error));
    if (!res.headersSent) sendJson(res, status, { status: false, error: text });
    else res.destroy();
  }
}
