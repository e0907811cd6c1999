/**
 * The settings template of a binding, from its card's `settings` map. Each entry is either a full template entry,
 * as a processor declares one (`{ type, value, min?, max?, help?, options? }`), or a bare default whose type is
 * read from the value: a whole number is `int`, another number `float`, a string `str`, a boolean `bool`, a list
 * `list`. Clients get the template with `binding_settings`; values are validated against it.
 *
 * A full entry may carry `operator_only: true`: the setting belongs to the operator (it names URLs, files,
 * environment variables, anything that would let a client steer what the host fetches or reads). Only the
 * settings file on the host sets it; clients neither set nor see it (`clientSettingsView`).
 */
import type { SettingTemplate, SettingsTemplate, SettingType } from '../../plugin-api/processor.js';

const TYPES = new Set<string>(['int', 'float', 'str', 'bool', 'list']);

function isTemplateEntry(value: unknown): value is SettingTemplate {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && TYPES.has(String((value as { type?: unknown }).type)) && 'value' in value;
}

function typeOf(value: unknown): SettingType | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'list';
  return undefined;
}

/** The names of the settings a template marks `operator_only`. */
export function operatorOnlySettings(template: SettingsTemplate): Set<string> {
  return new Set(Object.entries(template).filter(([, entry]) => (entry as { operator_only?: unknown }).operator_only === true).map(([name]) => name));
}

/** What a client is shown of a binding's settings: the values and template without the operator-only settings. */
export function clientSettingsView(template: SettingsTemplate, values: Record<string, unknown>): { settings: Record<string, unknown>; template: SettingsTemplate } {
  const hidden = operatorOnlySettings(template);
  const keep = <T>(record: Record<string, T>) => Object.fromEntries(Object.entries(record).filter(([name]) => !hidden.has(name)));
  return { settings: keep(values), template: keep(template) };
}

/** The template of a card; entries of no usable type (null, a nested map) are left out. */
export function bindingSettingsTemplate(card: Record<string, unknown> | null | undefined): SettingsTemplate {
  const settings = card?.['settings'];
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return {};
  const template: SettingsTemplate = {};
  for (const [name, entry] of Object.entries(settings as Record<string, unknown>)) {
    if (isTemplateEntry(entry)) {
      template[name] = entry;
      continue;
    }
    const type = typeOf(entry);
    if (type) template[name] = { type, value: entry as SettingTemplate['value'] };
  }
  return template;
}

/** The default value of each setting of a template. */
export function settingDefaults(template: SettingsTemplate): Record<string, unknown> {
  return Object.fromEntries(Object.entries(template).map(([name, entry]) => [name, entry.value]));
}
