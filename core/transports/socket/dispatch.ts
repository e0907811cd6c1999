import type { Socket } from 'socket.io';
import type { ClientState } from './clients.js';
import type { SocketDeps } from './deps.js';
import { errorMessage } from '../../errors.js';
import { clientErrorText } from '../../protocol/client-error.js';
import { validateRequest, type ClientEventName, type RequestPayload, type ServerEventName, type ServerPayload } from '../../protocol/index.js';

/** What a handler gets for one request. */
export interface HandlerContext {
  readonly deps: SocketDeps;
  readonly client: ClientState;
  /** Emit to the requester only, and answer the request's ack callback (once) with the same payload. */
  reply<E extends ServerEventName>(event: E, payload: ServerPayload<E>): void;
  /** Emit to the requester only, without answering the ack (streamed events). */
  emit<E extends ServerEventName>(event: E, payload: ServerPayload<E>): void;
}

/** One client event: how to run it, and its failure reply (the original's shape, with an `error` string). */
export interface Handler<E extends ClientEventName> {
  failure(error: string, raw: unknown): FailureReply;
  run(ctx: HandlerContext, data: RequestPayload<E>): Promise<void> | void;
}

export type FailureReply = { [E in ServerEventName]: [E, ServerPayload<E>] }[ServerEventName];

export type HandlerMap = { [E in ClientEventName]?: Handler<E> };

/** A field of a payload that failed validation, when it is still readable (e.g. `binding_name`). */
export function rawField(raw: unknown, name: string): unknown {
  return raw && typeof raw === 'object' ? (raw as Record<string, unknown>)[name] : undefined;
}

/**
 * Register handlers on a socket. Every payload is validated first; a bad payload or a thrown error becomes the
 * event's failure reply. Nothing a client sends can throw out of here or go unanswered.
 */
export function register(deps: SocketDeps, socket: Socket, client: ClientState, handlers: HandlerMap): void {
  for (const [event, handler] of Object.entries(handlers) as Array<[ClientEventName, Handler<ClientEventName>]>) {
    (socket.on as (e: string, fn: (...args: unknown[]) => void) => void)(event, (...args: unknown[]) => {
      const last = args.at(-1);
      const ack = typeof last === 'function' ? (last as (reply: unknown) => void) : undefined;
      const raw = args.length > 0 && typeof args[0] !== 'function' ? args[0] : undefined;
      let acked = false;
      const emit = <E extends ServerEventName>(name: E, payload: ServerPayload<E>) => {
        (socket.emit as (e: string, p: unknown) => void)(name, payload);
      };
      const ctx: HandlerContext = {
        deps,
        client,
        emit,
        reply: (name, payload) => {
          emit(name, payload);
          if (ack && !acked) {
            acked = true;
            ack(payload);
          }
        },
      };
      const fail = (message: string) => {
        const [name, payload] = handler.failure(message, raw);
        ctx.reply(name, payload);
      };
      const checked = validateRequest(event, raw, deps.textLimits());
      if (!checked.ok) {
        deps.logger.debug({ event, client: client.id, err: checked.error }, 'refused a bad payload');
        fail(clientErrorText(checked.error));
        return;
      }
      try {
        const result = handler.run(ctx, checked.data);
        if (result instanceof Promise) {
          result.catch((error: unknown) => {
            deps.logger.debug({ event, client: client.id, err: errorMessage(error) }, 'request failed');
            fail(clientErrorText(error));
          });
        }
      } catch (error) {
        fail(clientErrorText(error));
      }
    });
  }
}
