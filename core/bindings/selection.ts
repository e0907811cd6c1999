/**
 * Selecting a binding or a model and saving the choice in the config, as `select_binding`, `select_model`
 * and `POST /update_setting` do: the one place where a selection is persisted. The config changes only once
 * the selection succeeded, so a failed one leaves both the host and the file as they were.
 */
import type { HostConfig } from '../config.js';
import type { BindingManager } from './manager.js';

export interface SelectionOptions {
  bindings: Pick<BindingManager, 'selectBinding' | 'selectModel'>;
  config: { update(changes: Partial<Pick<HostConfig, 'binding_name' | 'model_name'>>): Promise<void> };
}

export class Selection {
  readonly #options: SelectionOptions;

  constructor(options: SelectionOptions) {
    this.#options = options;
  }

  /** Load and activate the binding `name`, then save it as `binding_name`. */
  async selectBinding(name: string): Promise<void> {
    await this.#options.bindings.selectBinding(name);
    await this.#options.config.update({ binding_name: name });
  }

  /** Load the model `name` with the active binding, then save it as `model_name`. `onProgress` gets 0..1. */
  async selectModel(name: string, onProgress?: (progress: number) => void): Promise<void> {
    await this.#options.bindings.selectModel(name, onProgress);
    await this.#options.config.update({ model_name: name });
  }
}
