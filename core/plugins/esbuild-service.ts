/**
 * esbuild's `build`, surviving the death of esbuild's service process. esbuild runs one long-lived child
 * process for all builds of the host; when it dies (a stack overflow on a pathological source, a kill), every
 * later call fails with "The service is no longer running" until the process restarts. `esbuild.stop()` drops
 * the dead service, and the next call starts a new one, so one bad plugin never blocks the others.
 */
import { build as esbuildBuild, stop, type BuildOptions, type BuildResult, type SameShape } from 'esbuild';

const SERVICE_DIED = /The service (was stopped|is no longer running)/;

/** Whether `error` says esbuild's service process died (rather than a build error). */
export function isServiceDeath(error: unknown): boolean {
  return SERVICE_DIED.test(error instanceof Error ? error.message : String(error));
}

/**
 * `esbuild.build`, restarting the service when it has died and trying once more: a build that was only caught
 * in another build's crash then succeeds; one that crashes the service itself fails again (with the same error)
 * and leaves a fresh service for the next caller.
 */
export async function build<T extends BuildOptions>(options: SameShape<BuildOptions, T>): Promise<BuildResult<T>> {
  const started = epoch;
  try {
    return await esbuildBuild(options);
  } catch (error) {
    if (!isServiceDeath(error)) throw error;
    await restart(started);
    const retried = epoch;
    try {
      return await esbuildBuild(options);
    } catch (again) {
      if (isServiceDeath(again)) await restart(retried);
      throw again;
    }
  }
}

/** Counts services: builds caught in the same death restart the service once, not each other's new one. */
let epoch = 0;

async function restart(seen: number): Promise<void> {
  if (seen !== epoch) return;
  epoch++;
  await stop();
}
