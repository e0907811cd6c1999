/**
 * What several views show: the mounted personalities and the model. One view refreshes it, every view that
 * subscribed redraws.
 */

/** A mounted personality: its id (index in `list_active_personalities`) and name. */
export interface Mounted {
  id: number;
  name: string;
}

export type StateEvent = 'personalities' | 'model';

export class ConsoleState {
  personalities: Mounted[] = [];
  /** The loaded model's name, or null. */
  model: string | null = null;
  /** The loaded model is the random-weight test model. */
  testModel = false;
  readonly #listeners = new Map<StateEvent, Set<() => void>>();

  on(event: StateEvent, listener: () => void): void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  setPersonalities(names: readonly string[]): void {
    this.personalities = names.map((name, id) => ({ id, name }));
    this.#emit('personalities');
  }

  setModel(model: string | null, testModel: boolean): void {
    if (model === this.model && testModel === this.testModel) return;
    this.model = model;
    this.testModel = testModel;
    this.#emit('model');
  }

  #emit(event: StateEvent): void {
    for (const listener of this.#listeners.get(event) ?? []) listener();
  }
}

import { TEST_MODEL_NAME } from '../../core/bindings/test-model-name.js';

export { TEST_MODEL_NAME };

/** What every view says about the test model. */
export const TEST_MODEL_WARNING = `${TEST_MODEL_NAME} is a random-weight test model: its answers are gibberish. Install a real model in Models, then select it.`;
