import { BindingNotFound, NoBindingSelected, SettingOperatorOnly } from '../../../errors.js';
import { bindingSettingsTemplate, clientSettingsView, operatorOnlySettings } from '../../../bindings/settings-template.js';
import type { SocketDeps } from '../deps.js';
import { rawField, type HandlerMap } from '../dispatch.js';

const nameOf = (raw: unknown) => {
  const name = rawField(raw, 'name');
  return typeof name === 'string' ? { name } : {};
};

/** The binding a request is about (`name`, or the active one) and its settings template (from its card). */
async function target(deps: SocketDeps, name: string | undefined) {
  const wanted = name ?? deps.bindings.activeBinding;
  if (wanted === undefined) throw NoBindingSelected('no binding is selected: name one');
  const active = deps.bindings.activePlugin;
  const card = active?.name === wanted ? active.card : (await deps.bindings.listAvailable()).find((m) => m.name === wanted)?.card;
  if (card === undefined) throw BindingNotFound(`binding "${wanted}" not found`);
  return { name: wanted, template: bindingSettingsTemplate(card) };
}

/**
 * `get_binding_settings` / `set_binding_settings` -> `binding_settings`: a binding's settings, validated against
 * the template its card declares, saved atomically in `<dataDir>/settings/bindings/`. A change to the active
 * binding loads it again with the new values (its model too, swapped as in a hot reload).
 *
 * Settings the card marks `operator_only` (endpoint URLs, key files and variables, paths) are the operator's:
 * a client cannot set them (`LH_ERR_SETTING_OPERATOR_ONLY`, nothing saved) and is never shown them, neither
 * their values nor their template entries. Only the settings file on the host sets them.
 */
export const bindingSettingsHandlers: HandlerMap = {
  get_binding_settings: {
    failure: (error, raw) => ['binding_settings', { success: false, error, ...nameOf(raw) }],
    async run(ctx, data) {
      const { name, template } = await target(ctx.deps, data.name);
      const { values, warnings } = await ctx.deps.bindingSettings.get(name, template);
      for (const warning of warnings) ctx.deps.logger.warn({ binding: name }, warning);
      const view = clientSettingsView(template, values);
      ctx.reply('binding_settings', { success: true, name, settings: view.settings, template: view.template as Record<string, unknown> });
    },
  },
  set_binding_settings: {
    failure: (error, raw) => ['binding_settings', { success: false, error, ...nameOf(raw) }],
    async run(ctx, data) {
      const { name, template } = await target(ctx.deps, data.name);
      const hidden = operatorOnlySettings(template);
      const refused = Object.keys(data.settings).filter((setting) => hidden.has(setting));
      if (refused.length > 0) {
        throw SettingOperatorOnly(`setting ${refused.map((s) => `"${s}"`).join(', ')} of binding "${name}" is set by the host's operator only, in the binding's settings file on the host`);
      }
      const { values, warnings } = await ctx.deps.bindingSettings.set(name, template, data.settings);
      for (const warning of warnings) ctx.deps.logger.warn({ binding: name }, warning);
      ctx.deps.logger.info({ client: ctx.client.id, binding: name, settings: Object.keys(data.settings) }, 'binding settings saved');
      const applied = await ctx.deps.bindings.reloadSettings(name);
      const view = clientSettingsView(template, values);
      ctx.reply('binding_settings', { success: true, name, settings: view.settings, template: view.template as Record<string, unknown>, applied });
    },
  },
};
