import { createError } from '../errors.js';

/** A download refused because too many run already (one per client, `install_max_concurrent` host-wide). */
export const InstallBusy = createError('LH_ERR_INSTALL_BUSY');

/**
 * Model downloads in progress, by file name, so that `cancel_install` and shutdown can stop them. At most one
 * per client and `maxConcurrent()` in all: a download holds a connection, disk bandwidth and a `.part` file.
 */
export class InstallRegistry {
  readonly #running = new Map<string, { controller: AbortController; client: string; stopped: Promise<void>; markStopped: () => void }>();

  constructor(
    /** Downloads that may run at once, host-wide (read on every start, so a config change applies). */
    private readonly maxConcurrent: () => number = () => Number.POSITIVE_INFINITY,
  ) {}

  /** Downloads running now. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Register a download started by `client`. Throws `InstallBusy` when the same file is already being
   * downloaded, when this client already runs one, or when `maxConcurrent()` run host-wide.
   */
  start(filename: string, client: string): AbortController {
    if (this.#running.has(filename)) throw InstallBusy(`"${filename}" is already being installed`);
    for (const running of this.#running.values()) {
      if (running.client === client) throw InstallBusy('this client already runs an install; wait for it or cancel it (cancel_install)');
    }
    const max = this.maxConcurrent();
    if (this.#running.size >= max) throw InstallBusy(`${max} installs are running on this host already; try again when one has finished`);
    const controller = new AbortController();
    let markStopped!: () => void;
    const stopped = new Promise<void>((r) => (markStopped = r));
    this.#running.set(filename, { controller, client, stopped, markStopped });
    return controller;
  }

  /** The download has ended (done, failed or cancelled): the file name is free again. */
  finish(filename: string, controller: AbortController): void {
    const running = this.#running.get(filename);
    if (running?.controller !== controller) return;
    this.#running.delete(filename);
    running.markStopped();
  }

  /**
   * Cancel a download and wait until it has stopped (so installing the same file again right after works).
   * Resolves to the id of the client that started it, or undefined when none runs.
   */
  async cancel(filename: string, by: string): Promise<string | undefined> {
    const running = this.#running.get(filename);
    if (!running) return undefined;
    running.controller.abort(new InstallCanceled(by));
    await running.stopped;
    return running.client;
  }

  cancelAll(): void {
    for (const { controller } of this.#running.values()) controller.abort(new Error('host is shutting down'));
  }
}

/** The abort reason of a download stopped by `cancel_install`, naming the client that asked. */
export class InstallCanceled extends Error {
  constructor(readonly by: string) {
    super('Install canceled');
  }
}
