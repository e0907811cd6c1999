import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { io as connectClient } from 'socket.io-client';
import { startHost, type HostHandle, type HostOptions } from '../../core/host.js';
import type { ServerEventName, ServerPayload } from '../../core/protocol/index.js';
import type { HostConfig } from '../../core/config.js';
import { connectTestClient, nextEvent, type TestSocket } from '../../core/testing.js';

// The client and event plumbing is `lollms-host/testing`'s (core/testing.ts), which plugin authors use too.
export type { TestSocket };

export interface TestHost extends HostHandle {
  dataDir: string;
  /** A connected socket.io client; closed by `stop()`. */
  connect(options?: Parameters<typeof connectClient>[1]): Promise<TestSocket>;
  /** Close clients and the host, and delete the data dir. */
  stop(): Promise<void>;
}

/** A host on a free port, a temp data dir, CPU only, 1 thread, no watcher, silent logs, no env leaking in. */
export async function startTestHost(options: HostOptions & { config?: Partial<HostConfig> } = {}): Promise<TestHost> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'lollms-host-test-')));
  const handle = await startHost({
    port: 0,
    env: {},
    ...options,
    dataDir,
    config: { n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent', ...options.config },
  });
  const sockets: TestSocket[] = [];
  return {
    ...handle,
    dataDir,
    async connect(clientOptions) {
      const socket = await connectTestClient(handle.url, clientOptions);
      sockets.push(socket);
      return socket;
    },
    async stop() {
      for (const socket of sockets) socket.close();
      await handle.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The next `event` on `socket`, or a rejection after `timeoutMs`. */
export function next<E extends ServerEventName>(socket: TestSocket, event: E, timeoutMs = 10_000): Promise<ServerPayload<E>> {
  return nextEvent(socket, event, timeoutMs);
}

/** Emit `event` with `payload` (or bare when undefined) and wait for `reply`. */
export function request<E extends ServerEventName>(socket: TestSocket, event: string, payload: unknown, reply: E, timeoutMs?: number): Promise<ServerPayload<E>> {
  const answer = next(socket, reply, timeoutMs);
  if (payload === undefined) (socket.emit as (e: string) => void)(event);
  else (socket.emit as (e: string, p: unknown) => void)(event, payload);
  return answer;
}

/** Send `generate_text` and collect the chunks until text_generated / generation_error. */
export async function generate(socket: TestSocket, payload: Record<string, unknown>): Promise<{ chunks: string[]; text?: string; error?: string }> {
  const chunks: string[] = [];
  const onChunk = (c: { chunk: string }) => chunks.push(c.chunk);
  socket.on('text_chunk', onChunk);
  try {
    const done = Promise.race([
      next(socket, 'text_generated', 60_000).then((r) => ({ text: r.text })),
      next(socket, 'generation_error', 60_000).then((r) => ({ error: r.error })),
    ]);
    socket.emit('generate_text', payload as never);
    const result = await done;
    return { chunks, ...result };
  } finally {
    socket.off('text_chunk', onChunk);
  }
}

/**
 * A round trip on `socket`: once it resolves, every event the host sent this socket before handling it has
 * arrived (socket.io keeps one socket's events in order). Use it instead of sleeping to see "nothing else came".
 */
export async function barrier(socket: TestSocket): Promise<void> {
  await request(socket, 'list_active_personalities', undefined, 'active_personalities_list');
}
