import type { ServerEventName, ServerPayload } from '../../protocol/index.js';
import { Discussion } from '../../generation/discussion.js';
import type { ClientRef } from '../../generation/types.js';
import { Cancelled } from '../../errors.js';

/** Per-connection state, created on connect and dropped on disconnect. */
export class ClientState {
  readonly id: string;
  /** How the generation service knows this connection. */
  readonly ref: ClientRef;
  /** This client's discussion (personality mode), shared by the personalities it uses, as in the original. */
  readonly discussion = new Discussion();
  readonly #connection = new AbortController();
  readonly #emit: <E extends ServerEventName>(event: E, payload: ServerPayload<E>) => void;

  constructor(id: string, emit: <E extends ServerEventName>(event: E, payload: ServerPayload<E>) => void) {
    this.id = id;
    this.ref = Object.freeze({ id, transport: 'socket' as const });
    this.#emit = emit;
  }

  emit<E extends ServerEventName>(event: E, payload: ServerPayload<E>): void {
    this.#emit(event, payload);
  }

  /** Aborted when the client disconnects: its generations end (nobody is left to receive them). */
  get connection(): AbortSignal {
    return this.#connection.signal;
  }

  /** The client disconnected. */
  disconnected(): void {
    this.#connection.abort(Cancelled('the client disconnected'));
  }
}

/** The connected socket clients. */
export class ClientRegistry {
  readonly #clients = new Map<string, ClientState>();

  add(client: ClientState): void {
    this.#clients.set(client.id, client);
  }

  remove(id: string): void {
    this.#clients.delete(id);
  }

  [Symbol.iterator](): IterableIterator<ClientState> {
    return this.#clients.values();
  }
}
