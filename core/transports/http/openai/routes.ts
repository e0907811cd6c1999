/**
 * The OpenAI-compatible API's routes, under `/v1` (docs/openai-api.md). The HTTP transport has already applied
 * the access rules (Host, Origin, API key), CORS and the JSON content type; every error of these routes,
 * those rules' refusals included, is answered in OpenAI's error shape (errors.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpDeps } from '../deps.js';
import { sendJson } from '../respond.js';
import { chatCompletions } from './chat.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import { ApiError } from './errors.js';
import { listModels, retrieveModel } from './models.js';

/** The path prefix of the API. */
export const OPENAI_API_PREFIX = '/v1';

/** Whether a request path belongs to the OpenAI-compatible API (its errors then take OpenAI's shape). */
export function isOpenAIPath(pathname: string): boolean {
  return pathname === OPENAI_API_PREFIX || pathname.startsWith(`${OPENAI_API_PREFIX}/`);
}

type ApiRoute = (deps: HttpDeps, req: IncomingMessage, res: ServerResponse) => Promise<void>;

const ROUTES: Record<string, ApiRoute> = {
  'GET /v1/models': async (deps, _req, res) => sendJson(res, 200, { object: 'list', data: await listModels(deps) }),
  'POST /v1/chat/completions': chatCompletions,
  'POST /v1/completions': completions,
  'POST /v1/embeddings': embeddings,
};

const MODEL_PATH = '/v1/models/';

/** Serve one request under `/v1`. Throws what it answers with an error (the caller maps it). */
export async function handleOpenAIRequest(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const route = ROUTES[`${req.method} ${url.pathname}`];
  if (route) return route(deps, req, res);
  if (req.method === 'GET' && url.pathname.startsWith(MODEL_PATH)) {
    // Personality ids hold slashes: the SDKs send them encoded (%2F), curl users often do not; both work.
    let id: string;
    try {
      id = decodeURIComponent(url.pathname.slice(MODEL_PATH.length));
    } catch {
      throw new ApiError('LH_ERR_BAD_REQUEST', 'the model id in the path is not valid percent-encoding', 'model');
    }
    return sendJson(res, 200, await retrieveModel(deps, id));
  }
  throw new ApiError('LH_ERR_ROUTE_NOT_FOUND', `no ${String(req.method).slice(0, 16)} route at this path: the OpenAI-compatible API serves GET models, GET models/{id}, POST chat/completions, POST completions and POST embeddings, under v1`);
}
