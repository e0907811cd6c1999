import type { HostConfig } from '../config.js';
import { ConfigInvalid, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { AddressPolicy } from '../bindings/safe-fetch.js';

/**
 * Start-up checks of the security keys that the config schema cannot make alone: `install_allowed_hosts`
 * entries must parse; risky `allowed_origins` (`null`, `*`) are said out loud in the log.
 */
export function checkSecurityConfig(values: HostConfig, logger: Logger): void {
  try {
    AddressPolicy.from(values.install_allowed_hosts);
  } catch (error) {
    throw ConfigInvalid(errorMessage(error));
  }
  if (values.allowed_origins.includes('*')) {
    logger.warn('allowed_origins contains "*": every web page the user opens can drive this host (install models, change settings). Set the origins you use instead.');
  } else if (values.allowed_origins.includes('null')) {
    logger.warn('allowed_origins contains "null": any web site can send requests with Origin null (a sandboxed iframe) and drive this host. Serve local pages with static_dirs instead.');
  }
}
