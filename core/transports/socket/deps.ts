/**
 * What the socket transport uses of the host, each part narrowed to the members the handlers call. The
 * composition root (host.ts) hands these in; nothing here reaches for the whole host.
 */
import type { BindingManager } from '../../bindings/manager.js';
import type { InstallRegistry } from '../../bindings/installs.js';
import type { Selection } from '../../bindings/selection.js';
import type { GenerationService } from '../../generation/service.js';
import type { Logger } from '../../logger.js';
import type { PersonalityManager } from '../../personalities/manager.js';
import type { AccessSettings } from '../access.js';
import type { HostConfig } from '../../config.js';
import type { ZooCache } from '../../personalities/zoo.js';

export interface SocketDeps {
  generation: Pick<GenerationService, 'run' | 'cancel'>;
  bindings: Pick<BindingManager, 'listAvailable' | 'activePlugin' | 'activeBinding' | 'modelsDir' | 'requireModel' | 'whenReady' | 'holdResident'>;
  selection: Pick<Selection, 'selectBinding' | 'selectModel'>;
  personalities: Pick<PersonalityManager, 'get' | 'mounted' | 'add' | 'activate' | 'readSettings' | 'writeSettings' | 'template'>;
  /** The folders the personality listings read. */
  personalitiesPaths: readonly string[];
  /** Parsed personality configs between listings (refreshed by the watcher). */
  zoo: ZooCache;
  installs: InstallRegistry;
  /** The config keys that bound a client's install (issue 11), read at each install. */
  installConfig: () => Pick<HostConfig, 'install_allowed_hosts' | 'install_max_size_mb' | 'install_min_free_mb'>;
  /** The access rules' config keys, read at each connection. */
  access: () => AccessSettings;
  logger: Logger;
}
