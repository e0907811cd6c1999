/**
 * Shared test models and engine. The tiny model is written once per machine into a cache folder (tests of
 * every file reuse it); the engine is always CPU-only with one thread, because more threads than cores
 * makes llama.cpp orders of magnitude slower on the test machines.
 */
import { mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLlamaEngine, type LlamaEngine } from '../../core/bindings/engine.js';
import { TEST_MODEL_FORMAT, writeTestModel } from '../../core/bindings/test-model.js';

/** Seed of the shared tiny model. */
export const TINY_MODEL_SEED = 1;

/** Where generated test models are cached between runs. */
export const TEST_MODELS_DIR = join(tmpdir(), 'lollms-host-test-models');

/** Path of the cached tiny model for `seed` (the format version is in the name, so a writer change re-creates it). */
export function tinyModelPathFor(seed = TINY_MODEL_SEED): string {
  return join(TEST_MODELS_DIR, `tiny-v${TEST_MODEL_FORMAT}-${seed}.gguf`);
}

const written = new Map<number, Promise<string>>();

/** The tiny model's path, writing it first when it is not cached yet. */
export function tinyModel(seed = TINY_MODEL_SEED): Promise<string> {
  let path = written.get(seed);
  if (!path) {
    path = (async () => {
      const file = tinyModelPathFor(seed);
      if (await stat(file).then((s) => s.isFile() && s.size > 0, () => false)) return file;
      await mkdir(TEST_MODELS_DIR, { recursive: true });
      await writeTestModel(file, { preset: 'tiny', seed }); // atomic: parallel runs never see a torn file
      return file;
    })();
    path.catch(() => written.delete(seed));
    written.set(seed, path);
  }
  return path;
}

/** llama.cpp errors seen by test engines (warnings are dropped: random models trigger some). */
export const engineErrors: string[] = [];

/** A new CPU-only, one-thread engine. The caller disposes it (in `after`), so that mocha can exit. */
export function testEngine(): LlamaEngine {
  return createLlamaEngine({
    gpu: false,
    threads: 1,
    // A test that makes llama.cpp fail a load may leave node-llama-cpp unable to dispose (see core/bindings/engine.ts).
    disposeTimeoutMs: 2000,
    logger: {
      debug() {},
      warn() {},
      error(_obj, msg) {
        if (msg) engineErrors.push(msg);
      },
    },
  });
}
