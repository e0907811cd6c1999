/**
 * Resident memory of processes, read from Linux's /proc (undefined elsewhere): the host and its sandbox
 * processes, for `GET /metrics`, the benchmarks and the memory test of issue 18.
 *
 * RSS counts pages shared between processes (node's own code) once per process, so a sum of RSS is an upper
 * bound; PSS splits each shared page between the processes that share it, so a sum of PSS is what the
 * processes really cost together.
 */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessMemory {
  /** Sum of the resident set sizes, in bytes. */
  rss: number;
  /** Sum of the proportional set sizes, in bytes (0 where the kernel does not say). */
  pss: number;
  /** Processes counted. */
  processes: number;
}

/** Memory of the given processes (those gone are skipped); undefined where /proc is missing. */
export async function processesMemory(pids: Iterable<number>): Promise<ProcessMemory | undefined> {
  if (process.platform !== 'linux') return undefined;
  const total: ProcessMemory = { rss: 0, pss: 0, processes: 0 };
  await Promise.all(
    [...pids].map(async (pid) => {
      const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined);
      const status = rollup === undefined ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined) : undefined;
      const text = rollup ?? status;
      if (text === undefined) return;
      const kb = (field: RegExp) => Number(field.exec(text)?.[1] ?? 0) * 1024;
      total.rss += kb(/^(?:Vm)?Rss:\s+(\d+)/m);
      total.pss += kb(/^Pss:\s+(\d+)/m);
      total.processes++;
    }),
  );
  return total;
}

/** `root` and every process below it (children, their children...). */
export async function processTree(root = process.pid): Promise<number[]> {
  if (process.platform !== 'linux') return [root];
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Memory of `root` and every process below it. */
export async function processTreeMemory(root = process.pid): Promise<ProcessMemory | undefined> {
  return processesMemory(await processTree(root));
}
