/** Model downloads in progress, by file name, so that `cancel_install` and shutdown can stop them. */
export class InstallRegistry {
  readonly #running = new Map<string, { controller: AbortController; client: string }>();

  /** Register a download started by `client`; throws if the same file is already being downloaded. */
  start(filename: string, client: string): AbortController {
    if (this.#running.has(filename)) throw new Error(`"${filename}" is already being installed`);
    const controller = new AbortController();
    this.#running.set(filename, { controller, client });
    return controller;
  }

  finish(filename: string, controller: AbortController): void {
    if (this.#running.get(filename)?.controller === controller) this.#running.delete(filename);
  }

  /** Cancel a download; returns the id of the client that started it, or undefined when none runs. */
  cancel(filename: string, by: string): string | undefined {
    const running = this.#running.get(filename);
    running?.controller.abort(new InstallCanceled(by));
    return running?.client;
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
