/** Model downloads in progress, by file name, so that `cancel_install` and shutdown can stop them. */
export class InstallRegistry {
  readonly #running = new Map<string, { controller: AbortController; client: string; stopped: Promise<void>; markStopped: () => void }>();

  /** Register a download started by `client`; throws if the same file is already being downloaded. */
  start(filename: string, client: string): AbortController {
    if (this.#running.has(filename)) throw new Error(`"${filename}" is already being installed`);
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
