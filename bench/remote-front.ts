/**
 * The front host of bench/remote.ts, in a process of its own (as it would be on its own machine): the
 * openai_remote binding with one endpoint, the engine host whose base URL is argv[2], serving its model
 * `bench.reference` under the name `bench`. Sends `{url}` over IPC once it serves; exits on `exit`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost } from '../core/host.js';

const engine = process.argv[2];
if (!engine || !process.send) throw new Error('usage: forked with the engine host URL');
const dataDir = await mkdtemp(join(tmpdir(), 'lollms-bench-front-'));
await mkdir(join(dataDir, 'settings', 'bindings'), { recursive: true });
await writeFile(
  join(dataDir, 'settings', 'bindings', 'openai_remote.yaml'),
  `endpoints:\n  - name: engine\n    url: ${engine}/v1\n    models: { bench: bench.reference }\n`,
);
const host = await startHost({ port: 0, dataDir, env: {}, config: { binding_name: 'openai_remote', model_name: 'bench', enable_gpu: false, watch: false, log_level: 'silent' } });
process.send({ url: host.url });
process.on('message', () => {
  void host.close().then(() => rm(dataDir, { recursive: true, force: true })).then(() => process.exit(0));
});
