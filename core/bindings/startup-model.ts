/**
 * Which model a start serves: the rule `lollms-host serve` follows, `lollms-host list` shows (`*`) and
 * `lollms-host pull` builds on (docs/configuration.md, "Which model serves"). A real model is always preferred
 * over the random-weight test model:
 *
 * 1. `model_name`, when it names an installed model other than the test model;
 * 2. otherwise the real model installed last (the newest file in the binding's models folder);
 * 3. otherwise the test model, when it is installed (every start then warns);
 * 4. otherwise none (the host writes the test model for llama_cpp, and serves it).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelFile } from '../../plugin-api/index.js';
import { TEST_MODEL_NAME } from './test-model-name.js';

/** Whether `name` is the random-weight test model the host writes on a fresh install. */
export function isTestModel(name: string): boolean {
  return name === TEST_MODEL_NAME;
}

/** An installed model and when it was installed (the modification time of its entry in the models folder). */
export interface InstalledModel {
  name: string;
  /** Milliseconds since the epoch; 0 when unknown (a binding whose models are not files). */
  installedAt: number;
}

/** The binding's models with their install times, read from `modelsDir`. */
export async function withInstallTimes(models: readonly ModelFile[], modelsDir: string): Promise<InstalledModel[]> {
  return Promise.all(
    models.map(async (m) => ({ name: m.name, installedAt: await stat(join(modelsDir, m.name)).then((s) => s.mtimeMs, () => 0) })),
  );
}

/** The model a start serves, and why (the host's log line says it). */
export interface StartupChoice {
  /** The model to load; undefined when none is installed. */
  model: string | undefined;
  /**
   * `configured`: model_name; `last-installed`: model_name names no real installed model; `test-model`: no real
   * model is installed; `none`: nothing is installed.
   */
  reason: 'configured' | 'last-installed' | 'test-model' | 'none';
}

/** Apply the rule to the installed models and the configured `model_name`. */
export function chooseStartupModel(installed: readonly InstalledModel[], configured: string | null): StartupChoice {
  const real = installed.filter((m) => !isTestModel(m.name));
  if (configured !== null && real.some((m) => m.name === configured)) return { model: configured, reason: 'configured' };
  if (real.length > 0) {
    // Newest first; equal times (or unknown ones) fall back to the name, so the choice never depends on luck.
    const newest = [...real].sort((a, b) => b.installedAt - a.installedAt || a.name.localeCompare(b.name))[0]!;
    return { model: newest.name, reason: 'last-installed' };
  }
  if (installed.some((m) => isTestModel(m.name))) return { model: TEST_MODEL_NAME, reason: 'test-model' };
  return { model: undefined, reason: 'none' };
}

/**
 * Whether a model just installed becomes the configured default (`model_name`): when the config names no real
 * installed model (null, the test model, or a model whose file is gone), the model pulled is the one the user
 * means to serve. `configuredInstalled`: whether `configured` was installed before this install.
 */
export function becomesDefault(configured: string | null, configuredInstalled: boolean, pulled: string): boolean {
  if (isTestModel(pulled)) return false;
  return configured === null || isTestModel(configured) || !configuredInstalled;
}
