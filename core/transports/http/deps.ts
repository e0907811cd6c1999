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
import type { ZooCache } from '../../personalities/zoo.js';

export interface HttpDeps {
  config: Pick<ConfigStore, 'values' | 'redacted' | 'update'>;
  bindings: Pick<BindingManager, 'loading' | 'model' | 'activeBinding' | 'listModels' | 'requireModel' | 'keepAliveChanged'>;
  selection: Pick<Selection, 'selectBinding' | 'selectModel'>;
  personalities: Pick<PersonalityManager, 'mounted' | 'mountedPaths' | 'assetFile'>;
  /** `run`: the OpenAI API's generations (the one scheduler every transport shares); `status`: `GET /status`. */
  generation: Pick<GenerationService, 'status' | 'run'>;
  /** The folders personalities are found in (the OpenAI API lists them as models). */
  personalitiesPaths: readonly string[];
  /** Parsed personality configs between listings (refreshed by the watcher). */
  zoo: ZooCache;
  reloads: Pick<HotReloader, 'recentReloads'>;
  engine: Pick<LlamaEngine, 'getLlama'>;
  /** The models folder (disk figures of `/get_server_ifos`). */
  modelsPath: string;
  /** Whether a model name is the random-weight test model (`GET /status`). */
  isTestModel: (name: string) => boolean;
  /** The Prometheus metrics of `GET /metrics`. */
  metrics: { readonly contentType: string; render(): Promise<string> };
  logger: Logger;
}
