/**
 * Save-to-serving latency of a personality processor edit: from the file write to the moment a
 * `generate_text` on the new code succeeds, through the real watcher and host. Median of 30. The watcher's
 * debounce is part of the figure; `host work ms` subtracts it.
 *
 * Run alone: `node --no-node-snapshot --conditions=lollms-host-source --import tsx bench/reload.ts`
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { startHost } from '../core/host.js';
import { median } from './common.js';
import { DEFAULT_DEBOUNCE_MS as DEBOUNCE_MS } from '../core/hot-reload/watcher.js';


/** Time between two edits. */
const EDIT_INTERVAL_MS = 500;

const processor = (marker: number) => `import { defineProcessor } from 'lollms-host/plugin-api';
export default defineProcessor({ runWorkflow() { return 'v${marker}'; } });
`;

export async function runReloadBench(options: { runs?: number; print?: (line: string) => void } = {}): Promise<{ saveToServingMs: number }> {
  const print = options.print ?? ((line: string) => console.log(line));
  const runs = options.runs ?? 30;
  const dataDir = await mkdtemp(join(tmpdir(), 'lollms-bench-reload-'));
  const zoo = join(dataDir, 'zoo');
  const folder = join(zoo, 'english', 'bench', 'reload');
  await mkdir(join(folder, 'scripts'), { recursive: true });
  await writeFile(join(folder, 'config.yaml'), 'name: Reload bench\nprocessor_cfg: {custom_workflow: true}\n');
  await writeFile(join(folder, 'scripts', 'processor.ts'), processor(0));
  const host = await startHost({
    port: 0, dataDir, env: {},
    config: { personalities_paths: [zoo], personalities: ['english/bench/reload'], n_threads: 1, enable_gpu: false, watch: true, log_level: 'silent' },
  });
  const socket = io(host.url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const ask = () =>
    new Promise<string>((r) => {
      socket.once('text_generated', (reply: { text: string }) => r(reply.text));
      socket.once('generation_error', (reply: { error: string }) => r(`error: ${reply.error}`));
      socket.emit('generate_text', { prompt: 'x', personality: 0 });
    });
  try {
    const latencies: number[] = [];
    for (let i = 1; i <= runs; i++) {
      // Edits come a moment apart, as a developer saves: the host has its spare sandbox process ready again.
      await new Promise((r) => setTimeout(r, EDIT_INTERVAL_MS));
      const start = performance.now();
      await writeFile(join(folder, 'scripts', 'processor.ts'), processor(i));
      // Poll the way a developer's client would: request until the new code answers.
      while ((await ask()) !== `v${i}`) await new Promise((r) => setTimeout(r, 2));
      latencies.push(performance.now() - start);
    }
    const saveToServingMs = median(latencies);
    print(`reload runs: ${runs}`);
    print(`ms between edits: ${EDIT_INTERVAL_MS}`);
    print(`watcher debounce ms: ${DEBOUNCE_MS}`);
    print(`host work ms: ${(saveToServingMs - DEBOUNCE_MS).toFixed(1)}`);
    print(`save-to-serving ms: ${saveToServingMs.toFixed(1)}`);
    return { saveToServingMs };
  } finally {
    socket.close();
    await host.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runReloadBench();
}
