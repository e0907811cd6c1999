/**
 * CPU time of another process, for tests that prove a CPU limit: unlike the time a call takes on the clock, the
 * CPU a process spent does not depend on how busy the machine is, so a bound on it cannot flake under load.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, all threads) process `pid` has used so far, in ms, from /proc (10 ms resolution);
 * undefined when the process is gone or this is not Linux.
 */
export async function processCpuMs(pid: number | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Run `work` and return its result with the CPU process `pid()` spent meanwhile (ms), or undefined when the
 * process was gone by the end (a sandbox process that ended itself) or changed (`pid()` is read before and after).
 */
export async function withCpuOf<T>(pid: () => number | undefined, work: () => Promise<T>): Promise<{ value: T; cpuMs: number | undefined }> {
  const before = pid();
  const start = await processCpuMs(before);
  const value = await work();
  const after = pid();
  const end = after === before ? await processCpuMs(after) : undefined;
  return { value, cpuMs: start === undefined || end === undefined ? undefined : end - start };
}
