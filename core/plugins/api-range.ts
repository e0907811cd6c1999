import semver from 'semver';
import { PLUGIN_API_VERSION } from '../../plugin-api/version.js';
import { PluginApiMismatch, PluginManifest } from '../errors.js';

/**
 * The range assumed when a plugin declares no `host_api`. Plugins written before the field existed were
 * written against the 1.x contract, so a host that bumps the major refuses them instead of guessing.
 */
export const DEFAULT_HOST_API = '^1.0.0';

/** Options of `checkApiRange`. */
export interface ApiRangeCheckOptions {
  /** The plugin's folder, named in the error. */
  folder: string;
  /** The host's plugin API version; defaults to `PLUGIN_API_VERSION` (tests override it). */
  hostVersion?: string;
}

/**
 * Refuse a plugin whose `host_api` range the host does not satisfy (as Fastify does with `semver.satisfies`).
 * An invalid range is refused too. Pre-release host versions are matched (`includePrerelease`), so that a
 * `1.1.0-beta` host still loads `^1.0.0` plugins.
 */
export function checkApiRange(range: string, options: ApiRangeCheckOptions): void {
  const hostVersion = options.hostVersion ?? PLUGIN_API_VERSION;
  if (semver.validRange(range) === null) {
    throw PluginManifest(`plugin ${options.folder}: host_api "${range}" is not a valid semver range`, { file: options.folder });
  }
  if (!semver.satisfies(hostVersion, range, { includePrerelease: true })) {
    throw PluginApiMismatch(
      `plugin ${options.folder} needs plugin API "${range}", but this host provides ${hostVersion}`,
      { file: options.folder },
    );
  }
}
