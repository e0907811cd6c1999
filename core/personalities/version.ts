import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadPersonalityConfig, type PersonalityConfig } from './config.js';
import { validateTemplate } from './settings.js';
import { checkApiRange } from '../plugins/api-range.js';
import { compileProcessor, PROCESSOR_ENTRY, ProcessorSandbox, type SandboxLimits, type SandboxPool } from '../sandbox/index.js';
import type { Logger } from '../logger.js';
import type { HostConfig } from '../config.js';

/**
 * One loaded version of a personality: its config and, when it has `scripts/processor.ts`, a sandbox that
 * passed its trial load. Hot reload builds a new version and swaps it in; the old one drains.
 */
export interface PersonalityVersion {
  readonly folder: string;
  readonly config: PersonalityConfig;
  /** The TypeScript processor, when the personality has one. */
  readonly processor: ProcessorSandbox | undefined;
  /** Whether the folder has an original Python `scripts/processor.py` (listed, never run). */
  readonly pythonProcessor: boolean;
  /** Problems that do not stop it from serving (logged at each load). */
  readonly warnings: readonly string[];
}

/** The sandbox limits of the config, in the sandbox's terms. */
export function sandboxLimits(config: Pick<HostConfig, 'sandbox_memory_limit_mb' | 'sandbox_cpu_time_ms' | 'sandbox_wall_time_ms' | 'sandbox_max_host_calls' | 'sandbox_max_emit_bytes' | 'sandbox_max_payload_bytes' | 'sandbox_log_lines_per_second' | 'sandbox_max_state_bytes' | 'sandbox_max_tool_rounds'>): SandboxLimits {
  return {
    memoryLimitMb: config.sandbox_memory_limit_mb,
    cpuTimeMs: config.sandbox_cpu_time_ms,
    wallTimeMs: config.sandbox_wall_time_ms,
    maxHostCalls: config.sandbox_max_host_calls,
    maxEmitBytes: config.sandbox_max_emit_bytes,
    maxPayloadBytes: config.sandbox_max_payload_bytes,
    maxLogLinesPerSecond: config.sandbox_log_lines_per_second,
    maxStateBytes: config.sandbox_max_state_bytes,
    maxToolRounds: config.sandbox_max_tool_rounds,
  };
}

/**
 * Load a personality folder: parse `config.yaml`, check its `host_api` range, compile the processor and
 * trial-load it in a new sandbox, and check its settings template. Any failure throws a coded error and leaves
 * nothing behind.
 */
export async function loadPersonalityVersion(
  folder: string,
  options: {
    limits: SandboxLimits;
    logger: Logger;
    maxSettingBytes?: number;
    pool?: SandboxPool | undefined;
    /** A hot reload: keep an incremental build of the processor, so that the next save compiles in a few ms. */
    incremental?: boolean;
  },
): Promise<PersonalityVersion> {
  // The processor compiles while the config is read; a config error still comes first.
  const reading = loadPersonalityConfig(folder);
  const compiling = existsSync(join(folder, PROCESSOR_ENTRY))
    ? compileProcessor(folder, { name: reading.then((c) => c.name, () => basename(folder)), ...(options.incremental ? { incremental: true } : {}) })
    : undefined;
  compiling?.catch(() => {});
  const config = await reading;
  if (config.host_api !== undefined) checkApiRange(config.host_api, { folder });
  let processor: ProcessorSandbox | undefined;
  if (compiling) {
    const compiled = await compiling;
    processor = await ProcessorSandbox.create({
      name: config.name,
      code: compiled.code,
      sourceMap: compiled.sourceMap,
      limits: options.limits,
      // Every sandbox log line names its personality itself.
      logger: options.logger,
      ...(options.pool ? { pool: options.pool } : {}),
    });
    try {
      validateTemplate(processor.settingsTemplate, options.maxSettingBytes);
    } catch (error) {
      await processor.dispose();
      throw error;
    }
  }
  const pythonProcessor = existsSync(join(folder, 'scripts', 'processor.py'));
  const warnings: string[] = [];
  const asked = Object.entries(config.processor_cfg ?? {}).filter(([, on]) => on === true).map(([flag]) => flag);
  if (!processor && !pythonProcessor && asked.length > 0) {
    // The zoo has such personalities (english/art/novelist...): their processor_cfg outlived their script.
    warnings.push(`processor_cfg asks for ${asked.join(', ')}, but the personality has no scripts/processor.ts: it generates as a plain personality`);
  }
  return { folder, config, processor, pythonProcessor, warnings };
}

/** End a version's processor sandbox; resolves once its process has exited. */
export async function disposeVersion(version: PersonalityVersion): Promise<void> {
  await version.processor?.dispose();
}

/**
 * How long the sandbox process of a version replaced by a hot reload lives on after its last call: a node
 * process that exits takes a core for a few ms, which on a small machine slowed the new version's first calls
 * (4 ms of the reload bench's 28). Nothing can reach it meanwhile.
 */
export const RETIRED_SANDBOX_END_DELAY_MS = 100;

/** End a version that was swapped out and drained: its sandbox process ends `RETIRED_SANDBOX_END_DELAY_MS` later. */
export async function retireVersion(version: PersonalityVersion): Promise<void> {
  if (version.processor) await delay(RETIRED_SANDBOX_END_DELAY_MS);
  await disposeVersion(version);
}
