/**
 * A lollms-host engine in a process of its own, for the remote-pool tests and benches: the tiny test model,
 * one engine thread, on a loopback port (argv[2], 0 = a free one). It sends `{url}` over IPC once it serves,
 * stops cleanly on the message `stop`, and exits when its parent goes away. argv[3] is a JSON object of
 * extra config values (e.g. `{"tokenize_routes": false}`).
 */
import { startTestHost } from '../../core/testing.js';

const port = Number(process.argv[2] ?? 0);
const extra = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
const host = await startTestHost({ config: { port, seed: 1, parallel: 2, ...extra } });
process.send?.({ url: host.url });
process.on('message', (message) => {
  if (message === 'stop') void host.close().then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
