import type { HostConfig } from '../config.js';
import type { InstallOptions, InstallSource } from './install.js';
import { AddressPolicy } from './safe-fetch.js';

/** Margin over a catalogue entry's `filesize` (zoo sizes are not always exact). */
export const CATALOGUE_SIZE_MARGIN = 0.1;
const MIB = 1024 * 1024;

/**
 * The limits of an install a client asked for (`install_model`), from the config: only public addresses plus
 * `install_allowed_hosts`; at most the catalogue size + 10% when models.yaml knows the file, else
 * `install_max_size_mb`; `install_min_free_mb` left free on disk. The operator's `pull` runs without them.
 */
export function clientInstallLimits(
  config: Pick<HostConfig, 'install_allowed_hosts' | 'install_max_size_mb' | 'install_min_free_mb'>,
  source: InstallSource,
): Pick<InstallOptions, 'guard' | 'maxBytes' | 'minFreeBytes'> {
  const configured = config.install_max_size_mb * MIB;
  const maxBytes = source.size !== undefined ? Math.min(configured, Math.ceil(source.size * (1 + CATALOGUE_SIZE_MARGIN)) + MIB) : configured;
  return { guard: AddressPolicy.from(config.install_allowed_hosts), maxBytes, minFreeBytes: config.install_min_free_mb * MIB };
}
