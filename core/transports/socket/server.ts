import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { bearerToken, checkAccess, isHostHeaderAllowed, isOriginAllowed } from '../access.js';
import { WIRE_TEXT, type ClientToServerEvents, type InterServerEvents, type ServerEventName, type ServerPayload, type ServerToClientEvents, type SocketData } from '../../protocol/index.js';
import { ClientRegistry, ClientState } from './clients.js';
import type { SocketDeps } from './deps.js';
import { registerHandlers } from './handlers/index.js';

export type HostIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type HostSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * The LoLLMs socket.io transport on the host's HTTP server: namespace `/`, path `/socket.io`, polling and
 * websocket. Ping settings are generous, like the original's, so that long CPU-bound generations never drop
 * a client.
 */
export class SocketTransport {
  readonly io: HostIo;
  readonly clients = new ClientRegistry();
  readonly #deps: SocketDeps;

  constructor(http: HttpServer, deps: SocketDeps) {
    this.#deps = deps;
    this.io = new Server(http, {
      path: '/socket.io',
      transports: ['polling', 'websocket'],
      pingInterval: 25_000,
      pingTimeout: 1_200_000,
      maxHttpBufferSize: 64 * 1024 * 1024,
      cors: {
        origin: (origin, callback) => callback(null, isOriginAllowed(origin, deps.access().allowed_origins)),
        credentials: true,
      },
      serveClient: false,
      // DNS rebinding: a foreign Host header is refused before any engine.io session exists.
      allowRequest: (req, callback) => callback(null, isHostHeaderAllowed(req.headers.host, deps.access().host)),
    });
    this.io.use((socket, next) => {
      const { headers } = socket.handshake;
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const token = typeof auth?.token === 'string' ? auth.token : bearerToken(headers.authorization);
      const refusal = checkAccess({ hostHeader: headers.host, origin: headers.origin, token }, deps.access());
      if (!refusal) next();
      else if (refusal.reason === 'host-name') next(new Error(`host name "${refusal.value}" is not allowed on a loopback bind (DNS rebinding protection)`));
      else if (refusal.reason === 'origin') next(new Error(`origin "${refusal.value}" is not allowed; add it to allowed_origins in the config`));
      else next(new Error('unauthorized: a valid API key is required (auth: { token } or "Authorization: Bearer <key>")'));
    });
    this.io.on('connection', (socket: HostSocket) => this.#connected(socket));
  }

  #connected(socket: HostSocket): void {
    const client = new ClientState(socket.id, (event, payload) => {
      (socket.emit as (e: string, p: unknown) => void)(event, payload);
    });
    this.clients.add(client);
    this.#deps.logger.debug({ client: socket.id }, 'client connected');
    registerHandlers(this.#deps, socket, client);
    socket.on('disconnect', () => {
      this.clients.remove(socket.id);
      client.disconnected();
      this.#deps.logger.debug({ client: socket.id }, 'client disconnected');
    });
  }

  /** Send an event to every client (plugin reloads and errors). */
  broadcast<E extends ServerEventName>(event: E, payload: ServerPayload<E>): void {
    (this.io.emit as (e: string, p: unknown) => void)(event, payload);
  }

  /** Shutdown: every client with a generation running or queued gets `generation_canceled`, and it is cancelled. */
  cancelGenerations(): void {
    for (const client of this.clients) {
      if (this.#deps.generation.cancel(client.id)) client.emit('generation_canceled', { message: WIRE_TEXT.canceled });
    }
  }

  /** Disconnect every client and stop serving socket.io. */
  async close(): Promise<void> {
    this.io.disconnectSockets(true);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }
}
