import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { accessPolicy, engineAllowRequest, engineRequestGuard, isOriginAllowed } from '../access.js';
import { socketBufferBytes } from '../../protocol/limits.js';
import { WIRE_TEXT, type ClientToServerEvents, type InterServerEvents, type ServerEventName, type ServerPayload, type ServerToClientEvents, type SocketData } from '../../protocol/index.js';
import { ClientRegistry, ClientState } from './clients.js';
import type { SocketDeps } from './deps.js';
import { registerHandlers } from './handlers/index.js';
import { originalClientOptions } from './compat.js';

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
      // The largest legitimate event under the configured caps, not more: nothing bigger is buffered (issue 11).
      maxHttpBufferSize: socketBufferBytes(deps.textLimits()),
      cors: {
        origin: (origin, callback) => callback(null, isOriginAllowed(origin, deps.access().allowed_origins)),
        credentials: true,
      },
      // Original clients: socket.io.js served at its path; reserved event names dropped instead of the connection.
      ...originalClientOptions(deps.logger),
      // Host header, Origin and API key, checked before a session exists and before any body is read.
      allowRequest: engineAllowRequest(() => accessPolicy(deps.access())),
    });
    // Requests of an existing session: Host and Origin again, before the body is read.
    this.io.engine.use(engineRequestGuard(() => accessPolicy(deps.access())));
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
