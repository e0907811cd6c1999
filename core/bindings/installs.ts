/** Model downloads in progress, by file name, so that `cancel_install` and shutdown can stop them. */
export class InstallRegistry {
  readonly #running = new Map<string, AbortController>();

  /** Register a download; throws if the same file is already being downloaded. */
  start(filename: string): AbortController {
    if (this.#running.has(filename)) throw new Error(`"${filename}" is already being installed`);
    const controller = new AbortController();
    this.#running.set(filename, controller);
    return controller;
  }

  finish(filename: string, controller: AbortController): void {
    if (this.#running.get(filename) === controller) this.#running.delete(filename);
  }

  /** Cancel a download; returns whether one was running. */
  cancel(filename: string): boolean {
    const controller = this.#running.get(filename);
    controller?.abort(new Error('Install canceled'));
    return controller !== undefined;
  }

  cancelAll(): void {
    for (const controller of this.#running.values()) controller.abort(new Error('host is shutting down'));
  }
}
