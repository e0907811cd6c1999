import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Host } from '../host.js';
import { errorMessage, createError } from '../errors.js';
import { loadPersonalityConfig, type PersonalityConfig } from './config.js';
import { resolvePersonalityAsset, resolvePersonalityPath } from './zoo.js';

export const PersonalityIdInvalid = createError('LH_ERR_PERSONALITY_ID');

/** A mounted personality. Its id is its index in the mounted list (= `config.personalities`). */
export interface MountedPersonality {
  /** The path as mounted: `language/category/name` or `category/name`. */
  readonly path: string;
  /** Absolute folder, once resolved. */
  folder?: string;
  /** The loaded config; absent when the personality failed to load. */
  config?: PersonalityConfig;
  /** Why it failed to load (generation on it answers this error). */
  error?: string;
}

/**
 * The mounted personalities. Ids are indexes, as in the original (`list_active_personalities` order); a
 * configured personality that fails to load keeps its place (with its error) so the ids of the others do not
 * shift under clients.
 */
export class PersonalityManager {
  readonly #host: Host;
  readonly #mounted: MountedPersonality[] = [];

  constructor(host: Host) {
    this.#host = host;
  }

  get mounted(): readonly MountedPersonality[] {
    return this.#mounted;
  }

  /** The mounted paths, in id order (`config.personalities`). */
  mountedPaths(): string[] {
    return this.#mounted.map((m) => m.path);
  }

  get(id: number): MountedPersonality | undefined {
    return Number.isInteger(id) && id >= 0 ? this.#mounted[id] : undefined;
  }

  /** The display name of a mounted personality (its config `name`, or its path when broken). */
  nameOf(m: MountedPersonality): string {
    return m.config?.name ?? m.path;
  }

  /**
   * Mount `config.personalities` at start. An empty list gets the default personality, and an out-of-range
   * `active_personality_id` is reset to 0, as the original did (lollms-reference §2.4 step 6).
   */
  async mountConfigured(): Promise<void> {
    const config = this.#host.config;
    let paths = config.values.personalities;
    if (paths.length === 0) {
      paths = ['english/generic/lollms'];
      await config.update({ personalities: paths });
    }
    for (const path of paths) this.#mounted.push(await this.#load(path));
    if (config.values.active_personality_id >= this.#mounted.length) await config.update({ active_personality_id: 0 });
  }

  async #load(path: string): Promise<MountedPersonality> {
    try {
      const folder = await resolvePersonalityPath(this.#host.paths.personalities, path);
      const personality: MountedPersonality = { path, folder, config: await loadPersonalityConfig(folder) };
      return personality;
    } catch (error) {
      this.#host.logger.error({ personality: path, err: errorMessage(error) }, 'personality could not be mounted');
      return { path, error: errorMessage(error) };
    }
  }

  /**
   * `add_personality {path}`: resolve inside the personalities paths (escapes refused), load, append, persist.
   * Mounting a path that is already mounted returns its existing id.
   */
  async add(path: string): Promise<{ id: number; name: string }> {
    const folder = await resolvePersonalityPath(this.#host.paths.personalities, path);
    const existing = this.#mounted.findIndex((m) => m.folder === folder);
    if (existing >= 0) return { id: existing, name: this.nameOf(this.#mounted[existing]!) };
    const config = await loadPersonalityConfig(folder);
    this.#mounted.push({ path, folder, config });
    await this.#host.config.update({ personalities: this.mountedPaths() });
    return { id: this.#mounted.length - 1, name: config.name };
  }

  /** `activate_personality {id}`: persisted as `active_personality_id`. */
  async activate(id: number): Promise<{ id: number; name: string }> {
    const m = this.get(id);
    if (!m) throw PersonalityIdInvalid('Personality ID not valid');
    await this.#host.config.update({ active_personality_id: id });
    return { id, name: this.nameOf(m) };
  }

  /** Whether the personality ships a Python processor (listed, but never run here). */
  hasPythonProcessor(m: MountedPersonality): boolean {
    return m.folder !== undefined && existsSync(join(m.folder, 'scripts', 'processor.py'));
  }

  /** The file behind a personality asset URL (`/personalities/.../assets/logo.png`), escapes refused. */
  assetFile(urlPath: string): Promise<string> {
    return resolvePersonalityAsset(this.#host.paths.personalities, urlPath);
  }

  /** A short label for logs: the path relative to its personalities folder. */
  label(m: MountedPersonality): string {
    return m.folder ? relative(process.cwd(), m.folder) : m.path;
  }

  async dispose(): Promise<void> {
    // Processor sandboxes are disposed here once processors are wired in.
  }
}
