import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AvailableModel } from '../../../protocol/index.js';
import { WIRE_TEXT } from '../../../protocol/index.js';
import type { HandlerMap } from '../dispatch.js';

const str = (value: unknown, fallback: string) => (typeof value === 'string' ? value : value == null ? fallback : String(value));

/**
 * One `models.yaml` entry as `available_models_list` sends it (lollms-reference §1.3.4): `title` is the
 * filename, `path` is `server/filename`, and the original's defaults fill the gaps.
 */
export function normalizeModelEntry(entry: unknown, modelsDir: string): AvailableModel | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  const e = entry as Record<string, unknown>;
  if (typeof e.filename !== 'string' || e.filename === '') return undefined;
  const server = str(e.server, '');
  const modelType = str(e.model_type, '');
  const size = Number.parseInt(str(e.filesize, '0'), 10);
  return {
    title: e.filename,
    icon: str(e.icon, '/images/default_model.png'),
    license: str(e.license, 'unknown'),
    owner: str(e.owner, 'unknown'),
    owner_link: str(e.owner_link, 'https://github.com/ParisNeo'),
    description: str(e.description, ''),
    isInstalled: modelType.toLowerCase() === 'api' || (!e.filename.includes('/') && existsSync(join(modelsDir, e.filename))),
    path: server === '' ? e.filename : server.endsWith('/') ? `${server}${e.filename}` : `${server}/${e.filename}`,
    filesize: Number.isFinite(size) ? size : 0,
    model_type: modelType,
  };
}

export const modelHandlers: HandlerMap = {
  list_available_bindings: {
    failure: (error) => ['bindings_list', { success: false, error }],
    async run(ctx) {
      const manifests = await ctx.deps.bindings.listAvailable();
      ctx.reply('bindings_list', { success: true, bindings: manifests.map((m) => ({ name: m.name, card: m.card, models: m.models })) });
    },
  },
  list_available_models: {
    failure: (error) => ['available_models_list', { success: false, error }],
    run(ctx) {
      const plugin = ctx.deps.bindings.activePlugin;
      if (!plugin) {
        ctx.reply('available_models_list', { success: false, error: WIRE_TEXT.noBinding });
        return;
      }
      const dir = ctx.deps.bindings.modelsDir(plugin.name);
      const models = plugin.models.map((entry) => normalizeModelEntry(entry, dir)).filter((m): m is AvailableModel => m !== undefined);
      ctx.reply('available_models_list', { success: true, available_models: models });
    },
  },
};
