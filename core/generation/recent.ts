/** The last generations, for `GET /status`: what ran, how fast, how it ended. A fixed-size ring. */
import { errorCode } from '../errors.js';
import type { ClientRef, GenerationKind } from './types.js';

export interface RecentGeneration {
  mode: GenerationKind;
  /** The personality's mounted path, in personality mode. */
  personality?: string;
  transport: ClientRef['transport'];
  promptTokens: number;
  /** Of `promptTokens`, those taken from the binding's cache of the same client's earlier prompts. */
  cachedPromptTokens: number;
  completionTokens: number;
  /** Generated tokens per second of model time; null when nothing was generated. */
  tokensPerSecond: number | null;
  outcome: 'done' | 'cancelled' | 'error';
  /** The error's code when it failed with a coded error (never its message: it may name server paths). */
  error?: string;
  /** When it ended, ISO 8601. */
  endedAt: string;
}

export class RecentGenerations {
  readonly #limit: number;
  readonly #entries: RecentGeneration[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(0, limit);
  }

  add(entry: {
    mode: GenerationKind;
    personality?: string;
    client: ClientRef;
    usage: { promptTokens: number; completionTokens: number; cachedPromptTokens: number };
    tokensPerSecond?: number;
    outcome: RecentGeneration['outcome'];
    error?: unknown;
  }): void {
    if (this.#limit === 0) return;
    this.#entries.push({
      mode: entry.mode,
      ...(entry.personality !== undefined ? { personality: entry.personality } : {}),
      transport: entry.client.transport,
      promptTokens: entry.usage.promptTokens,
      cachedPromptTokens: entry.usage.cachedPromptTokens,
      completionTokens: entry.usage.completionTokens,
      tokensPerSecond: entry.tokensPerSecond !== undefined && Number.isFinite(entry.tokensPerSecond) ? Math.round(entry.tokensPerSecond * 10) / 10 : null,
      outcome: entry.outcome,
      ...(errorCode(entry.error) !== undefined ? { error: errorCode(entry.error)! } : {}),
      endedAt: new Date().toISOString(),
    });
    if (this.#entries.length > this.#limit) this.#entries.splice(0, this.#entries.length - this.#limit);
  }

  /** Newest last. */
  list(): RecentGeneration[] {
    return this.#entries.map((e) => ({ ...e }));
  }
}
