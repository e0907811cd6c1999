/**
 * The rules a processor setting's value must follow (type, `min`/`max`, `options`, the host's size bounds), with
 * no Node import: the host validates with them, and so does the browser console before it saves (one set of
 * rules, one set of messages).
 */
import type { SettingTemplate, SettingsTemplate } from '../../plugin-api/processor.js';

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

/** `ctx_size`, or `ctx_size` and one operation with a number (`ContextSizeBound` of the plugin API). */
const CONTEXT_SIZE_BOUND = /^ctx_size(?:\s*([-+*/])\s*(\d+(?:\.\d+)?))?$/;

/** Why `max` is not a number or a valid context-size bound (`'ctx_size'`, `'ctx_size - 256'`...), or undefined. */
export function boundProblem(max: unknown): string | undefined {
  if (max === undefined || (typeof max === 'number' && Number.isFinite(max))) return undefined;
  if (typeof max === 'string' && CONTEXT_SIZE_BOUND.test(max.trim())) {
    const [, op, operand] = CONTEXT_SIZE_BOUND.exec(max.trim())!;
    if (op === '/' && Number(operand) === 0) return `max ${show(max)} divides by zero`;
    return undefined;
  }
  return `max must be a number or "ctx_size" with at most one operation and a number ("ctx_size - 256", "ctx_size / 2"), got ${show(max)}`;
}

/** The number a bound stands for with a context of `ctxSize` tokens (rounded down for an `int` setting). */
export function resolveBound(max: number | string | undefined, ctxSize: number, integer: boolean): number | undefined {
  if (typeof max !== 'string') return max;
  const match = CONTEXT_SIZE_BOUND.exec(max.trim());
  if (!match) return undefined;
  const [, op, operand] = match;
  const n = Number(operand);
  const value = op === '+' ? ctxSize + n : op === '-' ? ctxSize - n : op === '*' ? ctxSize * n : op === '/' ? ctxSize / n : ctxSize;
  return integer ? Math.floor(value) : value;
}

/**
 * The template with every context-size bound resolved for a context of `ctxSize` tokens: what a client is shown,
 * and what new values are checked against.
 */
export function resolveTemplate(template: SettingsTemplate, ctxSize: number): SettingsTemplate {
  const out: SettingsTemplate = {};
  for (const [name, entry] of Object.entries(template)) {
    if (typeof entry.max !== 'string') {
      out[name] = entry;
      continue;
    }
    const max = resolveBound(entry.max, ctxSize, entry.type === 'int');
    const { max: _declared, ...rest } = entry;
    out[name] = max === undefined ? rest : { ...rest, max };
  }
  return out;
}

/**
 * `values` with every number above its resolved `max` lowered to it: a value saved under a model with a larger
 * context, or a default written for one, still fits the loaded model. Other values are left as they are.
 */
export function clampToTemplate<T extends Record<string, unknown>>(values: T, resolved: SettingsTemplate): T {
  const out: Record<string, unknown> = { ...values };
  for (const [name, entry] of Object.entries(resolved)) {
    const value = out[name];
    if ((entry.type === 'int' || entry.type === 'float') && typeof value === 'number' && typeof entry.max === 'number' && value > entry.max) {
      out[name] = entry.min !== undefined ? Math.max(entry.min, entry.max) : entry.max;
    }
  }
  return out as T;
}

/**
 * Why `value` does not fit `entry`, or undefined when it fits: its type, the template's range or options, and
 * the host's bounds (finite numbers, safe integers, `maxBytes` for a `str` or a `list`). A context-size bound
 * not resolved yet (`max: 'ctx_size'`) is not checked here: resolve the template first (`resolveTemplate`).
 */
export function settingProblem(entry: SettingTemplate, value: unknown, maxBytes = DEFAULT_SETTING_MAX_BYTES): string | undefined {
  const range = (n: number) => {
    if (entry.min !== undefined && n < entry.min) return `${n} is below the minimum ${entry.min}`;
    if (typeof entry.max === 'number' && n > entry.max) return `${n} is above the maximum ${entry.max}`;
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
