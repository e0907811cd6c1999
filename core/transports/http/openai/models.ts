/**
 * The models of the OpenAI API: the loaded model under its name, and every personality the host can mount
 * under `personality/<language>/<category>/<name>` (the zoo path; a personality of a two-level zoo lists under
 * the language its config names, as in the socket's listings). A personality is mounted on its first request,
 * as `add_personality` would. `owned_by` is the active binding's name for the model and `lollms-personality`
 * for personalities; `created` is when the host started.
 */
import type { HttpDeps } from '../deps.js';
import { errorMessage, NoModelLoaded } from '../../../errors.js';
import { resolvePersonalityPath, scanPersonalities, type ZooEntry } from '../../../personalities/zoo.js';
import { ApiError } from './errors.js';

/** The prefix of personality model ids. */
export const PERSONALITY_MODEL_PREFIX = 'personality/';
/** `owned_by` of personality models. */
export const PERSONALITY_OWNER = 'lollms-personality';

/** `Retry-After` of a request that came while the model loads. */
const LOADING_RETRY_S = 2;

/** When this host process started, in Unix seconds: the `created` of every model. */
const STARTED = Math.floor(Date.now() / 1000);

/** A model object of `GET /v1/models`. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** What a request's `model` names. */
export type ServedModel =
  | { kind: 'model'; id: string }
  /** `path`: `language/category/name`, as the personality manager mounts it. */
  | { kind: 'personality'; id: string; path: string };

/** The model id of a zoo entry. */
export function personalityModelId(entry: Pick<ZooEntry, 'language' | 'category' | 'folderName'>): string {
  return `${PERSONALITY_MODEL_PREFIX}${entry.language}/${entry.category}/${entry.folderName}`;
}

/** The zoo path of a personality model id (`language/category/name`), or undefined when `id` is not one. */
export function personalityPathOf(id: string): string | undefined {
  if (!id.startsWith(PERSONALITY_MODEL_PREFIX)) return undefined;
  const path = id.slice(PERSONALITY_MODEL_PREFIX.length);
  const parts = path.split('/');
  return parts.length === 3 && parts.every((p) => p !== '' && p !== '.' && p !== '..') ? path : undefined;
}

function modelObject(id: string, owner: string): ModelObject {
  return { id, object: 'model', created: STARTED, owned_by: owner };
}

function zooEntries(deps: HttpDeps): Promise<ZooEntry[]> {
  return scanPersonalities(deps.personalitiesPaths, {
    cache: deps.zoo,
    onWarning: (where, message) => deps.logger.warn(`${where}: ${message}`),
    onError: (folder, error) => deps.logger.warn({ folder, err: errorMessage(error) }, 'personality left out of the listing'),
  });
}

/**
 * The model the API serves: the loaded one, or the one `keep_alive` unloaded (as Ollama, it stays listed and a
 * request for it loads it again).
 */
export function servedModelName(deps: HttpDeps): string | undefined {
  return deps.bindings.model?.name ?? deps.bindings.unloadedModel;
}

/** `GET /v1/models`: the loaded model first, then the personalities, sorted by id. */
export async function listModels(deps: HttpDeps): Promise<ModelObject[]> {
  const models: ModelObject[] = [];
  const name = servedModelName(deps);
  if (name !== undefined) models.push(modelObject(name, deps.bindings.activeBinding ?? 'lollms-host'));
  const ids = (await zooEntries(deps)).map(personalityModelId).sort();
  for (const id of ids) models.push(modelObject(id, PERSONALITY_OWNER));
  return models;
}

/** `GET /v1/models/{id}`. */
export async function retrieveModel(deps: HttpDeps, id: string): Promise<ModelObject> {
  const served = await resolveModel(deps, id, { requireLoaded: false });
  return served.kind === 'personality' ? modelObject(served.id, PERSONALITY_OWNER) : modelObject(served.id, deps.bindings.activeBinding ?? 'lollms-host');
}

/**
 * What `id` names. A personality id is checked against the personalities paths (a few file checks, no listing);
 * it is mounted later, by the generation. A model id must be the loaded model's name.
 * @throws `LH_ERR_MODEL_UNKNOWN` (404), or `LH_ERR_NO_MODEL` (503) for a model id while no model is loaded
 *   (unless `requireLoaded` is false)
 */
export async function resolveModel(deps: HttpDeps, id: string, options: { requireLoaded?: boolean } = {}): Promise<ServedModel> {
  const path = personalityPathOf(id);
  if (path !== undefined) {
    const mounted = deps.personalities.mounted.some((m) => !m.removed && m.path === path);
    if (!mounted) {
      try {
        await resolvePersonalityPath(deps.personalitiesPaths, path);
      } catch {
        throw new ApiError('LH_ERR_MODEL_UNKNOWN', `the model "${clip(id)}" does not exist: no personality ${clip(path)} in the personalities paths (the model list names every model)`, 'model');
      }
    }
    return { kind: 'personality', id, path };
  }
  const name = servedModelName(deps);
  if (name === id) return { kind: 'model', id };
  if (name === undefined && options.requireLoaded !== false) {
    const loading = deps.bindings.loading;
    // While a model loads, the SDKs' own retries (after Retry-After) get the answer.
    if (loading) throw new ApiError('LH_ERR_NO_MODEL', `no model is loaded yet: ${clip(loading)} is loading, retry shortly`, undefined, { retryAfter: LOADING_RETRY_S });
    throw NoModelLoaded('no model is loaded: select a binding and a model first (select_binding, select_model)');
  }
  const serving = name !== undefined ? `the loaded model is "${clip(name)}"` : 'no model is loaded';
  throw new ApiError('LH_ERR_MODEL_UNKNOWN', `the model "${clip(id)}" does not exist: ${serving}, and personalities are "${PERSONALITY_MODEL_PREFIX}<language>/<category>/<name>" (the model list names every model)`, 'model');
}

function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
