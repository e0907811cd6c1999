/**
 * JSON as a collapsible tree of `<details>` (keyboard and screen-reader friendly by default). Large values are
 * bounded: at most `MAX_NODES` nodes are drawn, and long strings are cut.
 */
import { h, type Child } from './dom.js';

export const MAX_NODES = 2000;
const MAX_STRING = 2000;
/** Levels open at first. */
const OPEN_DEPTH = 2;

function scalar(value: unknown): HTMLElement {
  if (typeof value === 'string') {
    const text = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… (${value.length} characters)` : value;
    return h('span', { class: 'json-string' }, JSON.stringify(text));
  }
  if (value === null) return h('span', { class: 'json-null' }, 'null');
  return h('span', { class: `json-${typeof value}` }, String(value));
}

/** A tree of `value`, with `label` as its root's name. */
export function jsonTree(value: unknown, label?: string): HTMLElement {
  let budget = MAX_NODES;
  const node = (key: string | undefined, v: unknown, depth: number): Child => {
    budget -= 1;
    if (budget < 0) return budget === -1 ? h('li', { class: 'json-more' }, '… (more not shown)') : null;
    const name = key === undefined ? null : h('span', { class: 'json-key' }, `${key}: `);
    if (typeof v !== 'object' || v === null) return h('li', {}, name, scalar(v));
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    const summary = Array.isArray(v) ? `Array(${entries.length})` : `{${entries.length} ${entries.length === 1 ? 'key' : 'keys'}}`;
    if (entries.length === 0) return h('li', {}, name, h('span', { class: 'json-empty' }, Array.isArray(v) ? '[]' : '{}'));
    return h(
      'li',
      {},
      h('details', { open: depth < OPEN_DEPTH }, h('summary', {}, name, h('span', { class: 'json-summary' }, summary)), h('ul', { class: 'json-children' }, entries.map(([k, x]) => node(k, x, depth + 1)))),
    );
  };
  return h('ul', { class: 'json-tree' }, node(label, value, 0));
}
