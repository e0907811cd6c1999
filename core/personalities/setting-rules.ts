/**
 * The rules a processor setting's value must follow (type, `min`/`max`, `options`, the host's size bounds), with
 * no Node import: the host validates with them, and so does the browser console before it saves (one set of
 * rules, one set of messages).
 */
import type { SettingTemplate } from '../../plugin-api/processor.js';

export const SETTING_TYPES = new Set(['int', 'float', 'str', 'bool', 'list']);

/**
 * Default bound on one setting value (config `personality_setting_max_bytes`): a `str` in UTF-8 bytes, a `list`
 * as JSON. Settings are host-wide and copied into the sandbox on every call, so one huge value (a 50 MB
 * `system_prompt`) would fail every client's turn.
 */
export const DEFAULT_SETTING_MAX_BYTES = 64 * 1024;
/** Deepest nesting of a `list` value. */
const MAX_LIST_DEPTH = 16;

/** A value, short, for messages. */
export function show(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** UTF-8 size of `text`, counted without allocating (no Buffer in the browser, no copy of a huge string). */
function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The JSON size of a list value, or a reason it is not a plain bounded JSON list. */
function listProblem(value: unknown[], maxBytes: number): string | undefined {
  const depthOf = (v: unknown, depth: number): number => {
    if (depth > MAX_LIST_DEPTH) return depth;
    if (Array.isArray(v)) return Math.max(depth, ...v.map((x) => depthOf(x, depth + 1)));
    if (v !== null && typeof v === 'object') return Math.max(depth, ...Object.values(v).map((x) => depthOf(x, depth + 1)));
    return depth;
  };
  if (value.length > maxBytes) return `a list of ${value.length} items is longer than the limit of ${maxBytes} bytes`;
  if (depthOf(value, 1) > MAX_LIST_DEPTH) return `a list nested deeper than ${MAX_LIST_DEPTH} levels`;
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    return 'a list that is not plain JSON';
  }
  const bytes = utf8Bytes(json);
  return bytes > maxBytes ? `a list of ${bytes} bytes (as JSON) is above the limit of ${maxBytes} bytes (personality_setting_max_bytes)` : undefined;
}

/**
 * Why `value` does not fit `entry`, or undefined when it fits: its type, the template's range or options, and
 * the host's bounds (finite numbers, safe integers, `maxBytes` for a `str` or a `list`).
 */
export function settingProblem(entry: SettingTemplate, value: unknown, maxBytes = DEFAULT_SETTING_MAX_BYTES): string | undefined {
  const range = (n: number) => {
    if (entry.min !== undefined && n < entry.min) return `${n} is below the minimum ${entry.min}`;
    if (entry.max !== undefined && n > entry.max) return `${n} is above the maximum ${entry.max}`;
    return undefined;
  };
  switch (entry.type) {
    case 'int':
      return Number.isSafeInteger(value) ? range(value as number) : `expected an integer (at most 2^53), got ${show(value)}`;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? range(value) : `expected a number, got ${show(value)}`;
    case 'str':
      if (typeof value !== 'string') return `expected a string, got ${show(value)}`;
      // length first: a string's UTF-8 size is at most 3x its length, and counting a huge one is not free.
      if (value.length > maxBytes || (value.length * 3 > maxBytes && utf8Bytes(value) > maxBytes)) {
        return `a string of ${value.length} characters is above the limit of ${maxBytes} bytes (personality_setting_max_bytes)`;
      }
      if (entry.options && !entry.options.includes(value)) return `${show(value)} is not one of ${entry.options.map(show).join(', ')}`;
      return undefined;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${show(value)}`;
    case 'list':
      return Array.isArray(value) ? listProblem(value, maxBytes) : `expected a list, got ${show(value)}`;
    default:
      return `unknown setting type ${show((entry as { type: unknown }).type)}`;
  }
}
