import { Server, type Socket } from 'socket.io';
import type { Host } from './host.js';
import { bearerToken, isHostHeaderAllowed, isLoopbackHost, isOriginAllowed, keyMatches } from './http/access.js';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from './protocol/index.js';
import { ClientState } from './generation/clients.js';
import { registerHandlers } from './handlers/index.js';
import { originalClientOptions } from './transports/socket/compat.js';

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
    maxHttpBufferSize: 64 * 1024 * 1024,
    cors: {
      origin: (origin, callback) => callback(null, isOriginAllowed(origin, origins())),
      credentials: true,
    },
    ...originalClientOptions(host.logger),
    // DNS rebinding: a foreign Host header is refused before any engine.io session exists.
    allowRequest: (req, callback) => callback(null, isHostHeaderAllowed(req.headers.host, host.config.values.host)),
  });

  io.use((socket, next) => {
    if (!isHostHeaderAllowed(socket.handshake.headers.host, host.config.values.host)) {
      next(new Error(`host name "${socket.handshake.headers.host}" is not allowed on a loopback bind (DNS rebinding protection)`));
      return;
    }
    const origin = socket.handshake.headers.origin;
    if (!isOriginAllowed(origin, origins())) {
      next(new Error(`origin "${origin}" is not allowed; add it to allowed_origins in the config`));
      return;
    }
    const { host: bindHost, api_key } = host.config.values;
    if (!isLoopbackHost(bindHost) && api_key) {
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const offered = typeof auth?.token === 'string' ? auth.token : bearerToken(socket.handshake.headers.authorization);
      if (!keyMatches(offered, api_key)) {
        next(new Error('unauthorized: a valid API key is required (auth: { token } or "Authorization: Bearer <key>")'));
        return;
      }
    }
    next();
  });

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
