/**
 * socket.io server options for clients of the original LoLLMs era (issue 20; docs/protocol.md, "Compatibility").
 *
 * - Reserved event names. socket.io's parser refuses an event named `connect`, `disconnect` (and the other names
 *   of `RESERVED_EVENT_NAMES`) as an "invalid payload", and the server then closes the whole connection, with
 *   nothing in the log. The original Qt client emits `connect` right after connecting; Flask-SocketIO accepted
 *   it, so that client reconnected in a loop here. The decoder below is socket.io-parser's own, except that such
 *   a packet is dropped (and its binary attachments, if any) and the connection goes on. The check runs only
 *   when the parser has already refused a packet, so valid traffic costs nothing more.
 * - `serveClient`: socket.io serves its browser client, of the same version as the server, at
 *   `/socket.io/socket.io.js` (and `.min.js`, `.esm.min.js`, `.map`), so pages that load it with a script tag
 *   work offline.
 */
import { Decoder as SocketIoDecoder, Encoder, protocol } from 'socket.io-parser';

/** Event names socket.io reserves for itself (socket.io-parser 4.2's list). */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** `2[...]` (event) or `5<n>-[...]` (binary event), with an optional namespace and ack id, as socket.io-parser reads them. */
const EVENT_PACKET = /^([25])(?:(\d+)-)?(?:\/[^,]*,)?\d*(\[[\s\S]*)$/;

/** The reserved event a refused packet carried, with its number of binary attachments; undefined for anything else. */
export function reservedEventOf(packet: string): { name: string; attachments: number } | undefined {
  const match = EVENT_PACKET.exec(packet);
  if (!match) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(match[3]!);
  } catch {
    return undefined;
  }
  const name = Array.isArray(payload) ? payload[0] : undefined;
  if (typeof name !== 'string' || !RESERVED_EVENT_NAMES.has(name)) return undefined;
  return { name, attachments: match[1] === '5' ? Number(match[2] ?? 0) : 0 };
}

/** A socket.io parser whose decoder drops packets with a reserved event name instead of failing the connection. */
export function reservedEventTolerantParser(onIgnored: (event: string) => void): { protocol: number; Encoder: typeof Encoder; Decoder: typeof SocketIoDecoder } {
  class Decoder extends SocketIoDecoder {
    /** Binary attachments still to come for a dropped binary event. */
    #skipAttachments = 0;
    #reported = false;

    override add(packet: unknown): void {
      if (this.#skipAttachments > 0 && typeof packet !== 'string') {
        this.#skipAttachments--;
        return;
      }
      try {
        super.add(packet);
      } catch (error) {
        const reserved = typeof packet === 'string' ? reservedEventOf(packet) : undefined;
        if (!reserved) throw error;
        this.#skipAttachments = reserved.attachments;
        // Once per connection: a client that does this does it at every connect.
        if (!this.#reported) {
          this.#reported = true;
          onIgnored(reserved.name);
        }
      }
    }
  }
  return { protocol, Encoder, Decoder };
}

/** What a logger needs for `originalClientOptions`. */
export interface CompatLogger {
  debug(obj: unknown, msg?: string): void;
}

/** The socket.io server options above, for `new Server(http, { ...originalClientOptions(logger) })`. */
export function originalClientOptions(logger: CompatLogger): { parser: ReturnType<typeof reservedEventTolerantParser>; serveClient: true } {
  return {
    parser: reservedEventTolerantParser((event) => logger.debug({ event }, `ignored an event named "${event}" from a client: socket.io reserves that name (the connection goes on)`)),
    serveClient: true,
  };
}
