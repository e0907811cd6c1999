import { WIRE_TEXT } from '../../../protocol/index.js';
import { listCategories, listLanguages, listNames, listPersonalities } from '../../../personalities/zoo.js';
import { errorMessage } from '../../../errors.js';
import type { SocketDeps } from '../deps.js';
import { rawField, type HandlerMap } from '../dispatch.js';

function zooOptions(deps: SocketDeps) {
  return {
    cache: deps.zoo,
    onWarning: (where: string, message: string) => deps.logger.warn(`${where}: ${message}`),
    onError: (folder: string, error: unknown) => deps.logger.warn({ folder, err: errorMessage(error) }, 'personality left out of the listing'),
  };
}

const idOf = (raw: unknown) => {
  const id = rawField(raw, 'id');
  return typeof id === 'number' ? { id } : {};
};

export const personalityHandlers: HandlerMap = {
  list_available_personalities: {
    failure: (error) => ['personalities_list', { success: false, error, personalities: {} }],
    async run(ctx) {
      // No `success` key on success, as in the original.
      ctx.reply('personalities_list', { personalities: await listPersonalities(ctx.deps.personalitiesPaths, zooOptions(ctx.deps)) });
    },
  },
  list_available_personalities_languages: {
    failure: (error) => ['available_personalities_languages_list', { success: false, error }],
    async run(ctx) {
      ctx.reply('available_personalities_languages_list', { success: true, available_personalities_languages: await listLanguages(ctx.deps.personalitiesPaths, zooOptions(ctx.deps)) });
    },
  },
  list_available_personalities_categories: {
    failure: (error) => ['available_personalities_categories_list', { success: false, error }],
    async run(ctx, data) {
      const categories = await listCategories(ctx.deps.personalitiesPaths, data.language, zooOptions(ctx.deps));
      ctx.reply('available_personalities_categories_list', { success: true, available_personalities_categories: categories });
    },
  },
  list_available_personalities_names: {
    failure: (error) => ['list_available_personalities_names_list', { success: false, error }],
    async run(ctx, data) {
      const query = { category: data.category, ...(data.language !== undefined ? { language: data.language } : {}) };
      const names = await listNames(ctx.deps.personalitiesPaths, query, zooOptions(ctx.deps));
      ctx.reply('list_available_personalities_names_list', { success: true, list_available_personalities_names: names });
    },
  },
  get_personality_settings: {
    failure: (error, raw) => ['personality_settings', { success: false, error, ...idOf(raw) }],
    async run(ctx, data) {
      const m = ctx.deps.personalities.get(data.id);
      if (!m) throw new Error(`${WIRE_TEXT.invalidPersonalityId}: ${data.id}`);
      const { values } = await ctx.deps.personalities.readSettings(m);
      ctx.reply('personality_settings', { success: true, id: data.id, settings: values, template: ctx.deps.personalities.template(m) as Record<string, unknown> });
    },
  },
  set_personality_settings: {
    failure: (error, raw) => ['personality_settings', { success: false, error, ...idOf(raw) }],
    async run(ctx, data) {
      const m = ctx.deps.personalities.get(data.id);
      if (!m) throw new Error(`${WIRE_TEXT.invalidPersonalityId}: ${data.id}`);
      const { values } = await ctx.deps.personalities.writeSettings(m, data.settings);
      ctx.reply('personality_settings', { success: true, id: data.id, settings: values, template: ctx.deps.personalities.template(m) as Record<string, unknown> });
    },
  },
  add_personality: {
    failure: (error) => ['personality_add_failed', { success: false, error }],
    async run(ctx, data) {
      const { id, name } = await ctx.deps.personalities.add(data.path);
      ctx.reply('personality_added', { success: true, name, id });
    },
  },
  remove_personality: {
    failure: (error, raw) => ['personality_removed', { success: false, error, ...idOf(raw) }],
    async run(ctx, data) {
      const { id, name } = await ctx.deps.personalities.remove(data.id);
      ctx.deps.logger.info({ client: ctx.client.id, personality: name, id }, 'personality removed');
      ctx.reply('personality_removed', { success: true, name, id });
    },
  },
  list_active_personalities: {
    failure: (error) => ['active_personalities_list', { success: false, error }],
    run(ctx) {
      // An unmounted id is an empty name: the ids of the others stay as they were.
      ctx.reply('active_personalities_list', { success: true, personalities: ctx.deps.personalities.mounted.map((m) => (m.removed ? '' : m.name)) });
    },
  },
  activate_personality: {
    // The reused failure name is part of the wire (lollms-reference §1.3.12).
    failure: (error) => ['personality_add_failed', { success: false, error }],
    async run(ctx, data) {
      if (!ctx.deps.personalities.get(data.id)) {
        ctx.reply('personality_add_failed', { success: false, error: WIRE_TEXT.invalidPersonalityId });
        return;
      }
      const { id, name } = await ctx.deps.personalities.activate(data.id);
      ctx.reply('activate_personality', { success: true, name, id });
    },
  },
};
