import { expect } from 'chai';
import { PACKAGE_ROOT } from '../core/util/package-root.js';
import { findCircles, reachableAtRunTime, readImportGraph, type ImportEdge } from './helpers/import-graph.js';

/**
 * The layers of core/, as docs/architecture.md draws them: each part and the parts it may import (itself
 * aside). A part is a folder of core/ or a file directly in it. The table is a DAG, so an import that is not
 * in it either runs upward or opens a circle. A new part (say core/metrics/) is added here and in the doc.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'plugin-api': [],
  errors: ['plugin-api'],
  logger: [],
  util: ['errors'],
  protocol: ['errors', 'util', 'plugin-api'],
  plugins: ['errors', 'logger', 'util', 'plugin-api'],
  sandbox: ['plugins', 'errors', 'util', 'plugin-api'],
  config: ['sandbox', 'protocol', 'errors', 'logger', 'util'],
  personalities: ['sandbox', 'plugins', 'config', 'protocol', 'errors', 'logger', 'util', 'plugin-api'],
  bindings: ['plugins', 'config', 'errors', 'logger', 'util', 'plugin-api'],
  sdk: ['errors', 'util', 'plugin-api'],
  generation: ['personalities', 'bindings', 'sandbox', 'config', 'errors', 'logger', 'util', 'plugin-api'],
  'hot-reload': ['personalities', 'bindings', 'plugins', 'protocol', 'errors', 'logger', 'util'],
  metrics: ['generation', 'hot-reload', 'bindings', 'sandbox', 'util', 'plugin-api'],
  transports: ['generation', 'hot-reload', 'personalities', 'bindings', 'config', 'protocol', 'errors', 'logger', 'util', 'plugin-api'],
  host: ['metrics', 'transports', 'hot-reload', 'generation', 'personalities', 'bindings', 'sandbox', 'plugins', 'config', 'protocol', 'errors', 'logger', 'util', 'plugin-api'],
};

/** Commands: they sit on top whatever their folder and may import any part, host.ts excepted (checked above). */
const COMMANDS = new Set(['core/plugins/check.ts', 'core/bindings/pull-command.ts', 'core/sdk/new.ts', 'core/transports/socket/run-command.ts']);
const TOP = new Set(['core/cli.ts', 'core/testing.ts', 'core/index.ts']);

function partOf(file: string): string {
  const segments = file.split('/');
  if (segments[0] === 'plugin-api') return 'plugin-api';
  return segments.length === 2 ? segments[1]!.replace(/\.ts$/, '') : segments[1]!;
}

describe('architecture: the import graph of core/', function () {
  this.timeout(30_000);
  let files: string[];
  let edges: ImportEdge[];
  before(async () => {
    ({ files, edges } = await readImportGraph(PACKAGE_ROOT, ['core', 'plugin-api']));
  });
  const local = () => edges.filter((e) => e.local);

  it('the circle finder finds circles (self-test)', () => {
    const circles = findCircles(['a', 'b', 'c', 'd', 'e'], [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'd' }, { from: 'e', to: 'e' }]);
    expect(circles).to.deep.equal([['a', 'b', 'c'], ['e']]);
  });

  it('has no import circle, type-only imports included', () => {
    expect(findCircles(files, local())).to.deep.equal([]);
  });

  it('only the CLI, lollms-host/testing and the public index import host.ts', () => {
    const importers = local().filter((e) => e.to === 'core/host.ts').map((e) => e.from).sort();
    expect(importers.every((f) => TOP.has(f)), importers.join(', ')).to.equal(true);
  });

  it('every part imports only the parts below it', () => {
    const upward: string[] = [];
    for (const edge of local()) {
      if (TOP.has(edge.from) || COMMANDS.has(edge.from)) continue;
      const from = partOf(edge.from);
      const to = partOf(edge.to);
      if (from === to) continue;
      const allowed = MAY_IMPORT[from];
      if (!allowed) upward.push(`${edge.from}: part "${from}" is not in the table of test/architecture.test.ts and docs/architecture.md`);
      else if (!allowed.includes(to)) upward.push(`${edge.from} -> ${edge.to} (${from} may not import ${to})`);
    }
    expect(upward).to.deep.equal([]);
  });

  it('the two transports are one folder each and do not import each other', () => {
    const crossing = local()
      .filter((e) => (e.from.startsWith('core/transports/socket/') && e.to.startsWith('core/transports/http/')) || (e.from.startsWith('core/transports/http/') && e.to.startsWith('core/transports/socket/')))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(crossing).to.deep.equal([]);
  });

  it('plugin-api has no run-time import outside itself (it runs inside the sandbox too)', () => {
    const outside = edges.filter((e) => e.from.startsWith('plugin-api/') && !e.typeOnly && !(e.local && e.to.startsWith('plugin-api/'))).map((e) => `${e.from} -> ${e.to}`);
    expect(outside).to.deep.equal([]);
  });

  it('the host process never loads isolated-vm: only the sandbox process does', () => {
    const importers = edges.filter((e) => e.to === 'isolated-vm' && !e.typeOnly).map((e) => e.from);
    expect(importers).to.deep.equal(['core/sandbox/isolate-engine.ts']);
    for (const start of ['core/host.ts', 'core/index.ts', 'core/testing.ts', 'core/cli.ts']) {
      const loaded = reachableAtRunTime(start, edges);
      expect([...loaded].filter((f) => importers.includes(f)), `reachable from ${start}`).to.deep.equal([]);
    }
  });
});
