import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { accessPolicy, engineAllowRequest, engineRequestGuard, isOriginAllowed } from '../access.js';
import { socketBufferBytes } from '../../protocol/limits.js';
import { WIRE_TEXT, type ClientToServerEvents, type InterServerEvents, type ServerEventName, type ServerPayload, type ServerToClientEvents, type SocketData } from '../../protocol/index.js';
import { ClientRegistry, ClientState } from './clients.js';
import type { SocketDeps } from './deps.js';
import { registerHandlers } from './handlers/index.js';
import { originalClientOptions } from './compat.js';

/** How long `close` lets a connection send what it still has before it closes it anyway. */
const CLOSE_DRAIN_MS = 1_000;

/** The members of an engine.io connection `close` uses. */
interface EngineConnection {
  readonly readyState: string;
  close(discard?: boolean): void;
  once(event: 'close', listener: () => void): void;
}

/** Close an engine.io connection after its write buffer drained (at most `CLOSE_DRAIN_MS`). */
function closeDrained(connection: EngineConnection): Promise<void> {
  if (connection.readyState === 'closed') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      connection.close(true);
      resolve();
    }, CLOSE_DRAIN_MS);
    connection.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.close();
  });
}

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
  /** The open engine.io connections (closed one by one at shutdown). */
  readonly #connections = new Set<EngineConnection>();

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
    this.io.engine.on('connection', (connection: EngineConnection) => {
      this.#connections.add(connection);
      connection.once('close', () => this.#connections.delete(connection));
    });
  }

  #connected(socket: HostSocket): void {
    const client = new ClientState(socket.id, (event, payload) => {
      (socket.emit as (e: string, p: unknown) => void)(event, payload);
    });
    this.clients.add(client);
    const { address, headers } = socket.handshake;
    this.#deps.logger.info(
      { client: socket.id, address, transport: socket.conn.transport.name, ...(headers.origin ? { origin: headers.origin } : {}) },
      'client connected',
    );
    registerHandlers(this.#deps, socket, client);
    socket.on('disconnect', (reason) => {
      this.clients.remove(socket.id);
      client.disconnected();
      this.#deps.logger.info({ client: socket.id, reason }, 'client disconnected');
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

  /**
   * Stop serving socket.io, in a way clients reconnect from (issue 20). Not `disconnectSockets()`: its socket.io
   * disconnect packet reaches clients as "io server disconnect", after which socket.io-client does not try again.
   * Each engine.io connection is closed instead, once what was sent to it (a last `generation_canceled`) has gone
   * out: clients see "transport close" and reconnect by themselves to the next host on this address.
   */
  async close(): Promise<void> {
    await Promise.all([...this.#connections].map((connection) => closeDrained(connection)));
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }
}
