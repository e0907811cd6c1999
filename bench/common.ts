import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TEST_MODEL_FORMAT, writeTestModel } from '../core/bindings/test-model.js';

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The bench-preset model in `modelsDir`, written once (about 120 MB, a few seconds) and reused. */
export async function benchModel(modelsDir: string): Promise<string> {
  const path = join(modelsDir, `bench-v${TEST_MODEL_FORMAT}.gguf`);
  if (await stat(path).then((s) => s.isFile() && s.size > 0, () => false)) return path;
  await mkdir(modelsDir, { recursive: true });
  await writeTestModel(path, { preset: 'bench', seed: 1 });
  return path;
}
