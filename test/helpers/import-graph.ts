/**
 * The import graph of the project's TypeScript, read with oxc-parser (a maintained parser that knows
 * TypeScript without the compiler API, which TypeScript 7 no longer has). Type-only imports are edges too:
 * a circle of `import type` is still a circle of knowledge, and what the code may know is the architecture.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseSync } from 'oxc-parser';

export interface ImportEdge {
  /** The importing file, relative to the root, with `/`. */
  from: string;
  /** The imported file (relative to the root, with `/`), or a package name. */
  to: string;
  /** Whether `to` is a file of the tree (false: a package or a node builtin). */
  local: boolean;
  /** Whether only types are imported (erased at run time). */
  typeOnly: boolean;
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(path)));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const posix = (path: string) => path.split(sep).join('/');

/** The package a bare specifier names (`@scope/name/x` -> `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.replace(/^node:/, 'node:').split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Every import of every `.ts` file under `dirs` (relative to `root`). */
export async function readImportGraph(root: string, dirs: string[]): Promise<{ files: string[]; edges: ImportEdge[] }> {
  const files = (await Promise.all(dirs.map((d) => tsFiles(join(root, d))))).flat();
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const source = await readFile(file, 'utf8');
    const parsed = parseSync(file, source);
    if (parsed.errors.length > 0) throw new Error(`${relative(root, file)}: ${parsed.errors[0]!.message}`);
    const from = posix(relative(root, file));
    const add = (specifier: string, typeOnly: boolean) => {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
        edges.push({ from, to: posix(relative(root, target)), local: true, typeOnly });
      } else {
        edges.push({ from, to: packageOf(specifier), local: false, typeOnly });
      }
    };
    for (const item of parsed.module.staticImports) {
      add(item.moduleRequest.value, item.entries.length > 0 && item.entries.every((e) => e.isType));
    }
    for (const item of parsed.module.staticExports) {
      const requested = item.entries.filter((e) => e.moduleRequest);
      if (requested.length > 0) add(requested[0]!.moduleRequest!.value, requested.every((e) => e.isType));
    }
    for (const item of parsed.module.dynamicImports) {
      const literal = /^\s*(['"])(.*)\1\s*$/.exec(source.slice(item.moduleRequest.start, item.moduleRequest.end));
      if (literal) add(literal[2]!, false);
    }
  }
  return { files: files.map((f) => posix(relative(root, f))), edges };
}

/** The circles of a directed graph: its strongly connected components with more than one node, or a self-loop (Tarjan). */
export function findCircles(nodes: readonly string[], edges: ReadonlyArray<{ from: string; to: string }>): string[][] {
  const next = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const { from, to } of edges) if (next.has(from) && next.has(to)) next.get(from)!.push(to);
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || next.get(node)!.includes(node)) circles.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return circles;
}

/** The files reachable from `start` through value (run-time) imports. */
export function reachableAtRunTime(start: string, edges: readonly ImportEdge[]): Set<string> {
  const seen = new Set<string>([start]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const edge of edges) {
      if (edge.from !== file || !edge.local || edge.typeOnly || seen.has(edge.to)) continue;
      seen.add(edge.to);
      queue.push(edge.to);
    }
  }
  return seen;
}
