import { WIRE_TEXT, type ServerEventName, type ServerPayload } from '../../protocol/index.js';

/** A generation in flight for one client. */
export interface RunningGeneration {
  /** Aborted by cancel, disconnect or shutdown; the engine stops within one token. */
  readonly controller: AbortController;
  /** Settles when the generation has fully ended (model lease and slot released). */
  readonly done: Promise<void>;
  /** Frees the generation slot at once, so a new request can start while this one unwinds. */
  releaseSlot(): void;
}

/** Per-connection state, created on connect and dropped on disconnect. */
export class ClientState {
  readonly id: string;
  /** This client's discussion blocks (personality mode), shared by the personalities it uses, as in the original. */
  readonly blocks: string[] = [];
  generation: RunningGeneration | undefined;
  readonly #emit: <E extends ServerEventName>(event: E, payload: ServerPayload<E>) => void;

  constructor(id: string, emit: <E extends ServerEventName>(event: E, payload: ServerPayload<E>) => void) {
    this.id = id;
    this.#emit = emit;
  }

  emit<E extends ServerEventName>(event: E, payload: ServerPayload<E>): void {
    this.#emit(event, payload);
  }

  /** Stop this client's generation. Returns whether one was running. */
  cancel(): boolean {
    const running = this.generation;
    if (!running || running.controller.signal.aborted) return false;
    running.controller.abort(new Error('Generation is canceled.'));
    running.releaseSlot();
    return true;
  }
}

export class ClientRegistry {
  readonly #clients = new Map<string, ClientState>();

  add(client: ClientState): void {
    this.#clients.set(client.id, client);
  }

  get(id: string): ClientState | undefined {
    return this.#clients.get(id);
  }

  /** Drop a client; its generation is cancelled (nobody is left to receive it). */
  remove(id: string): void {
    this.#clients.get(id)?.cancel();
    this.#clients.delete(id);
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Cancel every generation (shutdown): clients get `generation_canceled`; waits up to `timeoutMs` for them to end. */
  async cancelAll(timeoutMs = 3000): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const client of this.#clients.values()) {
      const running = client.generation;
      if (running && client.cancel()) {
        client.emit('generation_canceled', { message: WIRE_TEXT.canceled });
        pending.push(running.done);
      }
    }
    if (pending.length === 0) return;
    await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}
