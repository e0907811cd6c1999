/**
 * The rules a processor setting's value must follow (type, `min`/`max`, `options`), with no Node import: the host
 * validates with them, and so does the browser console before it saves (one set of rules, one set of messages).
 */
import type { SettingTemplate } from '../../plugin-api/processor.js';

export const SETTING_TYPES = new Set(['int', 'float', 'str', 'bool', 'list']);

/** A value, short, for messages. */
export function show(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** Why `value` does not fit `entry`, or undefined when it fits. */
export function settingProblem(entry: SettingTemplate, value: unknown): string | undefined {
  const range = (n: number) => {
    if (entry.min !== undefined && n < entry.min) return `${n} is below the minimum ${entry.min}`;
    if (entry.max !== undefined && n > entry.max) return `${n} is above the maximum ${entry.max}`;
    return undefined;
  };
  switch (entry.type) {
    case 'int':
      return Number.isInteger(value) ? range(value as number) : `expected an integer, got ${show(value)}`;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? range(value) : `expected a number, got ${show(value)}`;
    case 'str':
      if (typeof value !== 'string') return `expected a string, got ${show(value)}`;
      if (entry.options && !entry.options.includes(value)) return `${show(value)} is not one of ${entry.options.map(show).join(', ')}`;
      return undefined;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${show(value)}`;
    case 'list':
      return Array.isArray(value) ? undefined : `expected a list, got ${show(value)}`;
    default:
      return `unknown setting type ${show((entry as { type: unknown }).type)}`;
  }
}

