/**
 * A lollms-host engine in a process of its own, for the remote-pool tests and benches: the tiny test model,
 * one engine thread, on a loopback port (argv[2], 0 = a free one). It sends `{url}` over IPC once it serves,
 * stops cleanly on the message `stop`, and exits when its parent goes away. argv[3] is a JSON object of
 * extra config values (e.g. `{"tokenize_routes": false}` or `{"api_key": "..."}`).
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost } from '../../core/host.js';
import { TEST_MODEL_NAME, tinyTestModel } from '../../core/testing.js';

const port = Number(process.argv[2] ?? 0);
const extra = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
const dataDir = await mkdtemp(join(tmpdir(), 'lollms-engine-'));
await mkdir(join(dataDir, 'models', 'llama_cpp'), { recursive: true });
await copyFile(await tinyTestModel(1), join(dataDir, 'models', 'llama_cpp', TEST_MODEL_NAME));
const host = await startHost({
  port,
  dataDir,
  env: {},
  config: { model_name: TEST_MODEL_NAME, n_threads: 1, enable_gpu: false, watch: false, log_level: 'silent', seed: 1, parallel: 2, ...extra },
});
process.send?.({ url: host.url });
const stop = async () => {
  await host.close();
  await rm(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('message', (message) => {
  if (message === 'stop') void stop();
});
process.on('disconnect', () => void stop());
