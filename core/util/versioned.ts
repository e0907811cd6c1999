/**
 * A resource that is swapped while in use, the way Vite's plugin container drains in-flight hooks before
 * closing: work that started on a version finishes on it, new work gets the newest version, and an old
 * version is disposed once its last lease is released.
 */
export class Versioned<T> {
  #current: Slot<T> | undefined;
  readonly #dispose: (value: T, retired: boolean) => Promise<void> | void;
  readonly #onDisposeError: (error: unknown, value: T) => void;
  readonly #retired = new Set<Slot<T>>();
  /** Disposals under way. */
  readonly #disposing = new Set<Promise<void>>();

  /**
   * `dispose` ends a version: `retired` when it was swapped out and drained, false from `disposeAll`.
   * `onDisposeError` hears of a dispose that failed (the swap goes on: a failed dispose must not break it).
   */
  constructor(dispose: (value: T, retired: boolean) => Promise<void> | void, onDisposeError: (error: unknown, value: T) => void = () => {}) {
    this.#dispose = dispose;
    this.#onDisposeError = onDisposeError;
  }

  /** The current version, or undefined. Use `acquire` for work that must outlive a swap. */
  get current(): T | undefined {
    return this.#current?.value;
  }

  /** Take a lease on the current version; call `release()` when the work ends. */
  acquire(): Lease<T> | undefined {
    const slot = this.#current;
    if (!slot) return undefined;
    slot.leases++;
    let released = false;
    return {
      value: slot.value,
      release: () => {
        if (released) return;
        released = true;
        slot.leases--;
        if (slot.leases === 0 && this.#retired.has(slot)) void this.#finish(slot);
      },
    };
  }

  /** Make `next` current (or clear with undefined); the previous version is disposed once drained. */
  swap(next: T | undefined): void {
    const previous = this.#current;
    this.#current = next === undefined ? undefined : { value: next, leases: 0 };
    if (previous) this.#retire(previous);
  }

  /** Versions retired but still serving leases. */
  get draining(): number {
    return this.#retired.size;
  }

  /** Dispose everything now, leased or not (host shutdown, after generations were cancelled). */
  async disposeAll(): Promise<void> {
    const slots = [...this.#retired, ...(this.#current ? [this.#current] : [])];
    this.#current = undefined;
    this.#retired.clear();
    await Promise.all(slots.map((slot) => this.#safeDispose(slot.value, false)));
  }

  /** Resolves once every version retired so far, and released, has been disposed. */
  async settled(): Promise<void> {
    await Promise.all(this.#disposing);
  }

  #retire(slot: Slot<T>): void {
    this.#retired.add(slot);
    if (slot.leases === 0) void this.#finish(slot);
  }

  async #finish(slot: Slot<T>): Promise<void> {
    if (!this.#retired.delete(slot)) return;
    const disposing = this.#safeDispose(slot.value, true);
    this.#disposing.add(disposing);
    try {
      await disposing;
    } finally {
      this.#disposing.delete(disposing);
    }
  }

  async #safeDispose(value: T, retired: boolean): Promise<void> {
    try {
      await this.#dispose(value, retired);
    } catch (error) {
      this.#onDisposeError(error, value);
    }
  }
}

interface Slot<T> {
  value: T;
  leases: number;
}

export interface Lease<T> {
  readonly value: T;
  release(): void;
}
