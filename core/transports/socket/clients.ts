import { randomBytes } from 'node:crypto';
import type { GenerationAsk, ServerEventName, ServerPayload } from '../../protocol/index.js';
import { Discussion } from '../../generation/discussion.js';
import type { AskRequest, ClientRef } from '../../generation/types.js';
import { BadRequest, Cancelled } from '../../errors.js';

/** Questions (`generation_ask`) one connection may have waiting at once; a generation asks one at a time. */
const MAX_WAITING_QUESTIONS = 4;

/** A question waiting for this client's answer. */
interface WaitingQuestion {
  choices: readonly string[] | undefined;
  answer(text: string): void;
}

/** Per-connection state, created on connect and dropped on disconnect. */
export class ClientState {
  readonly id: string;
  /** How the generation service knows this connection. */
  readonly ref: ClientRef;
  /** This client's discussion (personality mode), shared by the personalities it uses, as in the original. */
  readonly discussion = new Discussion();
  readonly #connection = new AbortController();
  /** Questions sent with `generation_ask`, by request id, until answered, timed out or cancelled. */
  readonly #questions = new Map<string, WaitingQuestion>();
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

  /**
   * Put a processor's question to this client (`generation_ask`, sent with `send`) and resolve to its answer.
   * Rejects with the signal's reason once `signal` aborts (the ask's timeout, a cancel, a disconnect); the
   * question is then forgotten, and a late answer is refused.
   */
  ask(request: AskRequest, signal: AbortSignal, send: (ask: GenerationAsk) => void): Promise<string> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#questions.size >= MAX_WAITING_QUESTIONS) return Promise.reject(BadRequest(`this client already has ${this.#questions.size} questions waiting for an answer`));
    const id = `ask_${randomBytes(12).toString('base64url')}`;
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => {
        this.#questions.delete(id);
        reject(signal.reason);
      };
      this.#questions.set(id, {
        choices: request.choices,
        answer: (text) => {
          this.#questions.delete(id);
          signal.removeEventListener('abort', onAbort);
          resolve(text);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      send({ request_id: id, question: request.question, ...(request.choices ? { choices: [...request.choices] } : {}), timeout_ms: request.timeoutMs });
    });
  }

  /**
   * `generation_answer`: hand `text` to the question `requestId`. Refused (and the question keeps waiting) when
   * no question of that id waits for this client, or when it offered choices and `text` is none of them.
   */
  answer(requestId: string, text: string): { ok: true } | { ok: false; error: string } {
    const question = this.#questions.get(requestId);
    if (!question) return { ok: false, error: 'no question with this request_id is waiting for an answer from this client' };
    if (question.choices && !question.choices.includes(text)) return { ok: false, error: 'the answer must be one of the choices of the question' };
    question.answer(text);
    return { ok: true };
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
