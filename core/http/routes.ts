import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { statfs, stat } from 'node:fs/promises';
import { totalmem, freemem } from 'node:os';
import { extname } from 'node:path';
import { z } from 'zod';
import type { Host } from '../host.js';
import { bearerToken, isHostHeaderAllowed, isLoopbackHost, isOriginAllowed, keyMatches } from './access.js';
import { isConfigKey, validateValue, type ConfigKey } from '../config.js';
import { errorMessage } from '../errors.js';
import { PACKAGE_VERSION } from '../util/package-root.js';
import { consolePageState, serveConsole } from './console-assets.js';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Keys `/update_setting` may change at run time. Network and security keys (host, port, api_key,
 * allowed_origins, plugin paths, sandbox limits) are changed in the config file only: a client must not be able
 * to widen its own access.
 */
const RUNTIME_SETTINGS = new Set<ConfigKey>([
  'binding_name', 'model_name', 'seed', 'n_predict', 'temperature', 'top_k', 'top_p', 'repeat_last_n', 'repeat_penalty',
  'override_personality_model_parameters', 'user_name', 'discussion_prompt_separator', 'use_user_name_in_discussions',
]);

const UpdateSettingSchema = z.object({ setting_name: z.string().min(1), setting_value: z.unknown() });

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.gif': 'image/gif', '.webp': 'image/webp', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.bmp': 'image/bmp',
};

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `invalid JSON body: ${errorMessage(error)}`);
  }
}

type Route = (host: Host, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** The later originals' routes (lollms-reference §1.5), with their field names, plus our own. */
const ROUTES: Record<string, Route> = {
  'GET /health': (host, _req, res) => {
    const loading = host.bindings.loading;
    const model = host.bindings.model?.name ?? null;
    const binding = host.bindings.activeBinding ?? null;
    if (loading) sendJson(res, 503, { status: 'loading', model: loading, binding });
    else sendJson(res, 200, { status: 'ok', model, binding });
  },
  'GET /get_config': (host, _req, res) => sendJson(res, 200, host.config.redacted()),
  'GET /list_models': async (host, _req, res) => {
    if (!host.bindings.activeBinding) return sendJson(res, 200, []);
    sendJson(res, 200, (await host.bindings.listModels()).map((m) => m.name));
  },
  'GET /get_active_model': async (host, _req, res) => {
    const current = host.bindings.model;
    if (!current) return sendJson(res, 200, null);
    const names = (await host.bindings.listModels()).map((m) => m.name);
    sendJson(res, 200, { model: current.name, index: names.indexOf(current.name) });
  },
  'GET /list_mounted_personalities': (host, _req, res) => sendJson(res, 200, host.personalities.mountedPaths()),
  'POST /update_setting': async (host, req, res) => {
    const parsed = UpdateSettingSchema.safeParse(await readJsonBody(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, `field "${issue?.path.join('.') || 'body'}": ${issue?.message ?? 'invalid'}`);
    }
    const { setting_name: name, setting_value: value } = parsed.data;
    if (!isConfigKey(name)) throw new HttpError(400, `unknown setting "${name}"`);
    if (!RUNTIME_SETTINGS.has(name)) throw new HttpError(403, `setting "${name}" cannot be changed over HTTP; edit the config file and restart`);
    try {
      await applySetting(host, name, value);
    } catch (error) {
      throw new HttpError(400, errorMessage(error));
    }
    sendJson(res, 200, { setting_name: name, status: true });
  },
  'GET /get_server_ifos': async (host, _req, res) => sendJson(res, 200, await serverInfos(host)),
};

/** `update_setting`: model and binding changes load them; other keys are validated, applied and saved. */
async function applySetting(host: Host, name: ConfigKey, value: unknown): Promise<void> {
  const checked = validateValue(name, value, 'update_setting');
  if (name === 'model_name' && typeof checked === 'string') await host.bindings.selectModel(checked);
  if (name === 'binding_name' && typeof checked === 'string') await host.bindings.selectBinding(checked);
  await host.config.update({ [name]: checked });
}

/** `/get_server_ifos` (sic), filled with real numbers; sizes in bytes. */
async function serverInfos(host: Host): Promise<Record<string, unknown>> {
  const models = host.bindings.activeBinding ? (await host.bindings.listModels()).map((m) => m.name) : [];
  const current = host.bindings.model?.name ?? null;
  const disk = await statfs(host.paths.modelsPath);
  const total = disk.blocks * disk.bsize;
  const available = disk.bavail * disk.bsize;
  const gpus = host.config.values.enable_gpu ? await gpuInfo(host) : [];
  const info: Record<string, unknown> = {
    binding: host.bindings.activeBinding ?? null,
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
async function gpuInfo(host: Host): Promise<Array<{ totalVram: number; usedVram: number; model: string }>> {
  try {
    const llama = await host.engine.getLlama();
    if (!llama.gpu) return [];
    const [vram, names] = await Promise.all([llama.getVramState(), llama.getGpuDeviceNames()]);
    return names.map((model, i) => (i === 0 ? { totalVram: vram.total, usedVram: vram.used, model } : { totalVram: 0, usedVram: 0, model }));
  } catch {
    return [];
  }
}

async function serveAsset(host: Host, res: ServerResponse, pathname: string): Promise<void> {
  const file = await host.personalities.assetFile(pathname).catch(() => undefined);
  const type = file ? CONTENT_TYPES[extname(file).toLowerCase()] : undefined;
  if (!file || !type) throw new HttpError(404, 'not found');
  const info = await stat(file);
  res.writeHead(200, { 'content-type': type, 'content-length': info.size, 'cache-control': 'no-cache' });
  // pipeline, not pipe: a read error (file replaced meanwhile, EMFILE) must end this response, not the host.
  await pipeline(createReadStream(file), res);
}

/** Every HTTP request: CORS, the API key on non-loopback binds, then the route. Errors become JSON. */
export async function handleHttpRequest(host: Host, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // socket.io answers its own path on the same server.
  if (req.url?.startsWith('/socket.io')) return;
  try {
    const { allowed_origins, host: bindHost, api_key } = host.config.values;
    if (!isHostHeaderAllowed(req.headers.host, bindHost)) throw new HttpError(403, `host name "${req.headers.host}" is not allowed on a loopback bind`);
    const authorized = isLoopbackHost(bindHost) || !api_key || keyMatches(bearerToken(req.headers.authorization), api_key);
    const url = new URL(req.url ?? '/', 'http://host');
    // The console's page and files are the same for everyone and change nothing. They load without the key (a
    // browser cannot send one when it opens a page) and before the Origin check (browsers send Origin even with a
    // page's own module script, so a console opened by an address missing from allowed_origins could not even say
    // so). They carry no CORS header: other origins cannot read them. The page shows the host's state only to an
    // authorized request.
    if (await serveConsole(req, res, url, () => (authorized ? consolePageState(host) : undefined))) return;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!isOriginAllowed(origin, allowed_origins)) throw new HttpError(403, `origin "${origin}" is not allowed`);
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': 'content-type, authorization' });
      res.end();
      return;
    }
    if (!authorized) throw new HttpError(401, 'unauthorized: send "Authorization: Bearer <api key>"');
    const route = ROUTES[`${req.method} ${url.pathname}`];
    if (route) return await route(host, req, res, url);
    if (req.method === 'GET' && url.pathname.startsWith('/personalities/')) return await serveAsset(host, res, url.pathname);
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    if (status === 500) host.logger.error({ err: errorMessage(error), url: req.url }, 'HTTP route failed');
    if (!res.headersSent) sendJson(res, status, { status: false, error: errorMessage(error) });
    else res.destroy();
  }
}
