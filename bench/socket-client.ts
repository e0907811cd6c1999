/**
 * The client side of bench/socket.ts, run in its own process so that socket.io's client work does not share
 * the host's event loop. It takes commands over IPC and answers with timings measured at the client.
 */
import { connectTestClient } from '../core/testing.js';

interface RunCommand { kind: 'run'; prompt: string; n_predicts: number; parameters: Record<string, number> }
interface CancelCommand { kind: 'cancel'; prompt: string; n_predicts: number; afterChunks: number }
/** `clients` sockets of the host at `url` (connected once, then reused) each send one `generate_text` at once. */
interface ParallelCommand { kind: 'parallel'; url: string; clients: number; prompt: string; n_predicts: number; parameters: Record<string, number> }
type Command = RunCommand | CancelCommand | ParallelCommand | { kind: 'exit' };

const url = process.argv[2];
if (!url || !process.send) throw new Error('usage: forked with the host URL');
const socket = await connectTestClient(url);
const send = (message: unknown) => process.send!(message);
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Sockets of each host URL for the parallel runs, connected on first use. */
const pools = new Map<string, Awaited<ReturnType<typeof connectTestClient>>[]>();

async function runParallel(command: ParallelCommand): Promise<void> {
  const pool = pools.get(command.url) ?? [];
  pools.set(command.url, pool);
  while (pool.length < command.clients) pool.push(await connectTestClient(command.url));
  const start = now();
  const texts = await Promise.all(
    pool.slice(0, command.clients).map(
      (client) =>
        new Promise<string>((resolveText, reject) => {
          const done = (reply: { text: string }) => {
            client.off('generation_error', failed);
            resolveText(reply.text);
          };
          const failed = (reply: { error: string }) => {
            client.off('text_generated', done);
            reject(new Error(reply.error));
          };
          client.once('text_generated', done);
          client.once('generation_error', failed);
          client.emit('generate_text', { prompt: command.prompt, personality: -1, n_predicts: command.n_predicts, parameters: command.parameters });
        }),
    ),
  );
  send({ totalMs: now() - start, texts });
}

process.on('message', (command: Command) => {
  if (command.kind === 'exit') {
    socket.close();
    for (const pool of pools.values()) for (const client of pool) client.close();
    process.disconnect();
    return;
  }
  if (command.kind === 'parallel') {
    runParallel(command).catch((error: unknown) => send({ error: String(error) }));
    return;
  }
  if (command.kind === 'run') {
    let first = 0;
    let chunks = 0;
    const start = now();
    const onChunk = () => {
      if (chunks++ === 0) first = now();
    };
    socket.on('text_chunk', onChunk);
    socket.once('text_generated', (reply: { text: string }) => {
      const end = now();
      socket.off('text_chunk', onChunk);
      send({ firstChunkMs: first - start, totalMs: end - start, chunks, text: reply.text });
    });
    socket.once('generation_error', (reply: { error: string }) => send({ error: reply.error }));
    socket.emit('generate_text', { prompt: command.prompt, personality: -1, n_predicts: command.n_predicts, parameters: command.parameters });
    return;
  }
  let chunks = 0;
  let cancelAt = 0;
  let lastChunkAt = 0;
  const onChunk = () => {
    chunks++;
    if (cancelAt) lastChunkAt = now();
    if (chunks === command.afterChunks) {
      cancelAt = now();
      socket.emit('cancel_generation', {});
    }
  };
  socket.on('text_chunk', onChunk);
  socket.once('generation_canceled', () => {
    // A round trip: whatever the host sent before answering it has arrived (one socket's events keep their order).
    const report = () => {
      socket.off('text_chunk', onChunk);
      send({ cancelToLastChunkMs: lastChunkAt ? lastChunkAt - cancelAt : 0 });
    };
    socket.timeout(10_000).emitWithAck('list_active_personalities', {}).then(report, report);
  });
  socket.emit('generate_text', { prompt: command.prompt, personality: -1, n_predicts: command.n_predicts });
});
send({ ready: true });
