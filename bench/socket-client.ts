/**
 * The client side of bench/socket.ts, run in its own process so that socket.io's client work does not share
 * the host's event loop. It takes commands over IPC and answers with timings measured at the client.
 */
import { connectTestClient } from '../core/testing.js';

interface RunCommand { kind: 'run'; prompt: string; n_predicts: number; parameters: Record<string, number> }
interface CancelCommand { kind: 'cancel'; prompt: string; n_predicts: number; afterChunks: number }
type Command = RunCommand | CancelCommand | { kind: 'exit' };

const url = process.argv[2];
if (!url || !process.send) throw new Error('usage: forked with the host URL');
const socket = await connectTestClient(url);
const send = (message: unknown) => process.send!(message);
const now = () => Number(process.hrtime.bigint()) / 1e6;

process.on('message', (command: Command) => {
  if (command.kind === 'exit') {
    socket.close();
    process.disconnect();
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
