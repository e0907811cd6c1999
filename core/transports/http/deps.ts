/**
 * What the HTTP transport uses of the host, each part narrowed to the members the routes call. The
 * composition root (host.ts) hands these in; nothing here reaches for the whole host.
 */
import type { LlamaEngine } from '../../bindings/engine.js';
import type { BindingManager } from '../../bindings/manager.js';
import type { Selection } from '../../bindings/selection.js';
import type { ConfigStore } from '../../config.js';
import type { GenerationService } from '../../generation/service.js';
import type { HotReloader } from '../../hot-reload/reloader.js';
import type { Logger } from '../../logger.js';
import type { PersonalityManager } from '../../personalities/manager.js';

export interface HttpDeps {
  config: Pick<ConfigStore, 'values' | 'redacted' | 'update'>;
  bindings: Pick<BindingManager, 'loading' | 'readiness' | 'model' | 'activeBinding' | 'listModels'>;
  selection: Pick<Selection, 'selectBinding' | 'selectModel'>;
  personalities: Pick<PersonalityManager, 'mounted' | 'mountedPaths' | 'assetFile'>;
  generation: Pick<GenerationService, 'status'>;
  reloads: Pick<HotReloader, 'recentReloads'>;
  engine: Pick<LlamaEngine, 'getLlama'>;
  /** The models folder (disk figures of `/get_server_ifos`). */
  modelsPath: string;
  /** Whether a model name is the random-weight test model (`GET /status`). */
  isTestModel: (name: string) => boolean;
  logger: Logger;
}
