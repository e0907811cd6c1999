import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BINDING_CARD_FILE, MODELS_FILE } from './discovery.js';
import { loadBindingPlugin } from './load-binding.js';
import { errorLocation } from '../errors.js';
import { formatLocation } from './build-errors.js';
import { PERSONALITY_CONFIG_FILE } from '../personalities/config.js';
import { disposeVersion, loadPersonalityVersion, sandboxLimits } from '../personalities/version.js';
import { defaultConfig } from '../config.js';
import { createLogger } from '../logger.js';

/** The outcome of `lollms-host check <folder>`. */
export interface CheckResult {
  kind: 'binding' | 'personality' | 'unknown';
  /** The plugin's name when it loaded. */
  name?: string;
  version?: string;
  /** Problems, as `file:line:column: message` lines. Empty when the plugin is good. */
  errors: string[];
  /** What was checked, for the report. */
  checked: string[];
}

/**
 * Validate a binding or personality folder without starting a server: YAML, API range, compile and a trial
 * load (a binding is imported and must be a `defineBinding`; a personality's processor runs its trial load in
 * a sandbox and its settings template is checked). Plugin developers run it in their own CI.
 */
export async function checkPlugin(folderArg: string): Promise<CheckResult> {
  const folder = resolve(folderArg);
  const logger = createLogger({ level: 'silent' });
  if (existsSync(join(folder, BINDING_CARD_FILE)) || existsSync(join(folder, MODELS_FILE))) {
    const checked = ['binding_card.yaml', 'models.yaml', 'host_api range', 'compile', 'import + defineBinding export'];
    const cacheDir = await mkdtemp(join(tmpdir(), 'lollms-check-'));
    try {
      const plugin = await loadBindingPlugin(folder, { cacheDir, logger });
      return { kind: 'binding', name: plugin.name, version: plugin.version, errors: [], checked };
    } catch (error) {
      return { kind: 'binding', errors: [formatLocation(errorLocation(error))], checked };
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
  if (existsSync(join(folder, PERSONALITY_CONFIG_FILE))) {
    const checked = ['config.yaml', 'host_api range', 'processor compile', 'processor trial load', 'settings template'];
    try {
      const version = await loadPersonalityVersion(folder, { limits: sandboxLimits(defaultConfig()), logger });
      await disposeVersion(version);
      return { kind: 'personality', name: version.config.name, version: version.config.version, errors: [], checked };
    } catch (error) {
      return { kind: 'personality', errors: [formatLocation(errorLocation(error))], checked };
    }
  }
  return { kind: 'unknown', errors: [`${folder}: not a plugin: a binding has ${BINDING_CARD_FILE} and ${MODELS_FILE}, a personality has ${PERSONALITY_CONFIG_FILE}`], checked: [] };
}
