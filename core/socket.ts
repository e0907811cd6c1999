import { Server, type Socket } from 'socket.io';
import type { Host } from './host.js';
import { accessPolicy, engineAllowRequest, engineRequestGuard, isOriginAllowed } from './http/access.js';
import { SOCKET_BUFFER_BYTES } from './protocol/limits.js';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from './protocol/index.js';
import { ClientState } from './generation/clients.js';
import { registerHandlers } from './handlers/index.js';

export type HostIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type HostSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * socket.io on the host's HTTP server: namespace `/`, path `/socket.io`, polling and websocket. Ping settings
 * are generous, like the original's, so that long CPU-bound generations never drop a client.
 */
export function attachSocketServer(host: Host): HostIo {
  const origins = () => host.config.values.allowed_origins;
  const io: HostIo = new Server(host.http, {
    path: '/socket.io',
    transports: ['polling', 'websocket'],
    pingInterval: 25_000,
    pingTimeout: 1_200_000,
    // The largest legitimate event, not more: nothing bigger is buffered (issue 11).
    maxHttpBufferSize: SOCKET_BUFFER_BYTES,
    cors: {
      origin: (origin, callback) => callback(null, isOriginAllowed(origin, origins())),
      credentials: true,
    },
    serveClient: false,
    // Host header, Origin and API key, checked before a session exists and before any body is read.
    allowRequest: engineAllowRequest(() => accessPolicy(host.config.values)),
  });
  // Requests of an existing session: Host and Origin again, before the body is read.
  io.engine.use(engineRequestGuard(() => accessPolicy(host.config.values)));

  io.on('connection', (socket: HostSocket) => {
    const client = new ClientState(socket.id, (event, payload) => {
      (socket.emit as (e: string, p: unknown) => void)(event, payload);
    });
    host.clients.add(client);
    host.logger.debug({ client: socket.id }, 'client connected');
    registerHandlers(host, socket, client);
    socket.on('disconnect', () => {
      host.clients.remove(socket.id);
      host.logger.debug({ client: socket.id }, 'client disconnected');
    });
  });
  return io;
}
