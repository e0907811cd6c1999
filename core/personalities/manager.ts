import { errorCode, errorMessage, PersonalityIdInvalid, PersonalityNotFound, PersonalityUnavailable } from '../errors.js';
import type { HostConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { SerialQueue } from '../util/serial.js';
import { Versioned, type Lease } from '../util/versioned.js';
import { resolvePersonalityAsset, resolvePersonalityPath } from './zoo.js';
import { PersonalitySettingsStore, validateSettings, type SettingsResult } from './settings.js';
import { clampToTemplate, resolveTemplate } from './setting-rules.js';
import { PersonalityStore } from './store.js';
import { disposeVersion, loadPersonalityVersion, retireVersion, sandboxLimits, type PersonalityVersion } from './version.js';
import type { SettingsTemplate } from '../../plugin-api/index.js';
import { disposeIncrementalCompiles, stopSpareSandboxProcess, type SandboxPool, type SandboxStoreRequest } from '../sandbox/index.js';

/** The config keys the manager reads and persists. */
export type PersonalityConfigKeys = Pick<
  HostConfig,
  | 'personalities' | 'active_personality_id'
  | 'sandbox_memory_limit_mb' | 'sandbox_cpu_time_ms' | 'sandbox_wall_time_ms' | 'sandbox_max_host_calls' | 'sandbox_max_emit_bytes' | 'sandbox_max_payload_bytes'
  | 'sandbox_log_lines_per_second' | 'personality_setting_max_bytes'
  | 'sandbox_max_state_bytes' | 'sandbox_max_tool_rounds' | 'personality_store_max_bytes' | 'ctx_size'
>;

export interface PersonalityManagerOptions {
  /** Folders personalities are found in, in order (later ones win). */
  personalitiesPaths: readonly string[];
  /** Where processor settings are saved (`<dataDir>/settings/personalities/`). */
  dataDir: string;
  /** The config: the mounted list and active id are read and saved there; sandbox limits are read at each load. */
  config: { readonly values: PersonalityConfigKeys; update(changes: Partial<PersonalityConfigKeys>): Promise<void> };
  logger: Logger;
  /**
   * The context size settings bounds like `max: ctx_size` resolve with: the loaded model's, or the config's
   * `ctx_size` while none is loaded. Default: the config's `ctx_size`.
   */
  contextSize?: () => number;
  /** The host's pool of sandbox processes (idle ones are ended, their number bounded); without it each runs until disposed. */
  sandboxPool?: SandboxPool;
}

/** A mounted personality leased for one turn. */
export interface HeldPersonality {
  /** Its mounted id. */
  id: number;
  mounted: MountedPersonality;
  lease: Lease<PersonalityVersion>;
}

/**
 * A mounted personality. Its id is its index in the mounted list (= `config.personalities`). Its loaded
 * version can be swapped by hot reload: work that holds a lease finishes on the version it started with.
 */
export class MountedPersonality {
  /** The path as mounted: `language/category/name` or `category/name`. */
  readonly path: string;
  /** Absolute folder, once resolved. */
  folder: string | undefined;
  /** Why it failed to load, while no version serves. */
  error: string | undefined;
  /**
   * Unmounted (`remove_personality`, or its folder was removed): the slot is an empty hole that the next
   * `add_personality` fills, so the ids of the others stay; it is left out of `config.personalities`.
   */
  removed = false;
  readonly versions: Versioned<PersonalityVersion>;

  constructor(path: string, logger?: Logger) {
    this.path = path;
    this.versions = new Versioned<PersonalityVersion>((version, retired) => (retired ? retireVersion(version) : disposeVersion(version)), (error) => logger?.warn({ personality: path, err: errorMessage(error) }, 'a personality version failed to dispose'));
  }

  get current(): PersonalityVersion | undefined {
    return this.versions.current;
  }

  /** The config `name`, or the path while broken. */
  get name(): string {
    return this.current?.config.name ?? this.path;
  }
}

/**
 * The mounted personalities. Ids are indexes, as in the original (`list_active_personalities` order); a
 * configured personality that fails to load keeps its place (with its error) so the ids of the others do not
 * shift under clients.
 */
export class PersonalityManager {
  readonly #options: PersonalityManagerOptions;
  readonly #mounted: MountedPersonality[] = [];
  readonly settings: PersonalitySettingsStore;
  /** Each personality's `ctx.store` (`<dataDir>/store/personalities/`). */
  readonly store: PersonalityStore;
  /** One add or remove at a time: two requests for one path must not both pass the "already mounted" check. */
  readonly #adding = new SerialQueue();
  /** The active personality's id (`activate_personality`); saved as its index among the live personalities. */
  #activeId = 0;
  /** Settles once the configured personalities are mounted: a turn that arrives during start-up waits for it. */
  #configured: Promise<void> = Promise.resolve();

  constructor(options: PersonalityManagerOptions) {
    this.#options = options;
    this.settings = new PersonalitySettingsStore({ dataDir: options.dataDir, maxValueBytes: () => options.config.values.personality_setting_max_bytes });
    this.store = new PersonalityStore({
      dataDir: options.dataDir,
      maxBytes: () => options.config.values.personality_store_max_bytes,
      onWarning: (message) => options.logger.warn(message),
    });
  }

  get mounted(): readonly MountedPersonality[] {
    return this.#mounted;
  }

  /** The mounted paths, in id order (`/list_mounted_personalities`); an unmounted id is an empty string. */
  mountedPaths(): string[] {
    return this.#mounted.map((m) => (m.removed ? '' : m.path));
  }

  get(id: number): MountedPersonality | undefined {
    return Number.isInteger(id) && id >= 0 ? this.#mounted[id] : undefined;
  }

  /** A lease on a mounted personality's current version, for one turn. */
  acquire(id: number): { mounted: MountedPersonality; lease: Lease<PersonalityVersion> } | undefined {
    const mounted = this.get(id);
    const lease = mounted?.versions.acquire();
    return mounted && lease ? { mounted, lease } : undefined;
  }

  /**
   * Lease a personality for one generation turn: by mounted id, or by zoo path (mounted first when it is not,
   * as `add_personality` does). Coded errors say why it cannot serve.
   */
  async acquireTurn(ref: { readonly id: number } | { readonly path: string }): Promise<HeldPersonality> {
    await this.#configured;
    const id = 'id' in ref ? ref.id : (await this.add(ref.path)).id;
    const held = this.acquire(id);
    if (held) return { id, ...held };
    const mounted = this.get(id);
    if (mounted) throw PersonalityUnavailable(`personality "${mounted.path}" failed to load: ${mounted.error ?? 'unknown error'}`);
    throw PersonalityIdInvalid(`personality ${id} is not mounted (ids 0..${this.#mounted.length - 1}; see list_active_personalities)`);
  }

  /**
   * Mount `config.personalities` at start. An empty list gets the default personality, and an out-of-range
   * `active_personality_id` is reset to 0, as the original did (lollms-reference §2.4 step 6). A personality
   * whose folder is gone is reported once and dropped from the config (no client holds ids yet, so the ids
   * after it move up); one that fails to load keeps its place, with its error.
   */
  mountConfigured(): Promise<void> {
    this.#configured = this.#mountConfigured();
    return this.#configured;
  }

  async #mountConfigured(): Promise<void> {
    const config = this.#options.config;
    let paths = config.values.personalities;
    if (paths.length === 0) {
      paths = ['english/generic/lollms'];
      await config.update({ personalities: paths });
    }
    const configuredActive = config.values.active_personality_id;
    let dropped = false;
    for (const [index, path] of paths.entries()) {
      const mounted = new MountedPersonality(path, this.#options.logger);
      try {
        mounted.folder = await resolvePersonalityPath(this.#options.personalitiesPaths, path);
      } catch (error) {
        if (errorCode(error) !== PersonalityNotFound.code) throw error;
        dropped = true;
        this.#options.logger.warn(
          { personality: path, err: errorMessage(error) },
          `personality "${path}" is in the config, but its folder is gone: dropped from the config's personalities (add_personality mounts it again once it is back)`,
        );
        continue;
      }
      try {
        mounted.versions.swap(await this.load(mounted.folder));
      } catch (error) {
        mounted.error = errorMessage(error);
        this.#options.logger.error({ personality: path, err: mounted.error }, 'personality could not be mounted; it keeps its id and answers this error');
      }
      if (index === configuredActive) this.#activeId = this.#mounted.length;
      this.#mounted.push(mounted);
    }
    if (configuredActive >= paths.length) this.#activeId = 0;
    if (dropped || configuredActive !== this.#activeId) await this.#persist();
  }

  /**
   * Save the mounted list: the paths in id order without the unmounted holes (the next start numbers them
   * afresh, before any client knows an id), and the active personality's index among them.
   */
  async #persist(): Promise<void> {
    const live = this.#mounted.flatMap((m, id) => (m.removed ? [] : [{ m, id }]));
    const active = Math.max(0, live.findIndex((entry) => entry.id === this.#activeId));
    await this.#options.config.update({ personalities: live.map((entry) => entry.m.path), active_personality_id: active });
  }

  /**
   * Load one version of a personality folder (config, processor sandbox), with the config's sandbox limits; its
   * warnings are logged. `reloading`: a hot reload, whose processor is kept as an incremental build for the next.
   */
  async load(folder: string, reloading = false): Promise<PersonalityVersion> {
    const version = await loadPersonalityVersion(folder, {
      limits: sandboxLimits(this.#options.config.values),
      logger: this.#options.logger,
      maxSettingBytes: this.#options.config.values.personality_setting_max_bytes,
      pool: this.#options.sandboxPool,
      incremental: reloading,
    });
    for (const warning of version.warnings) this.#options.logger.warn({ personality: version.config.name, folder }, warning);
    return version;
  }

  /**
   * `add_personality {path}`: resolve inside the personalities paths (escapes refused), load, append, persist.
   * Mounting a path that is already mounted returns its existing id.
   */
  add(path: string): Promise<{ id: number; name: string }> {
    return this.#adding.run(() => this.#add(path));
  }

  async #add(path: string): Promise<{ id: number; name: string }> {
    const folder = await resolvePersonalityPath(this.#options.personalitiesPaths, path);
    const existing = this.#mounted.findIndex((m) => !m.removed && m.folder === folder);
    if (existing >= 0) return { id: existing, name: this.#mounted[existing]!.name };
    const version = await this.load(folder);
    const mounted = new MountedPersonality(path, this.#options.logger);
    mounted.folder = folder;
    mounted.versions.swap(version);
    // A slot freed by a removed folder is reused, so the ids of the other personalities never shift.
    const free = this.#mounted.findIndex((m) => m.removed);
    const id = free >= 0 ? free : this.#mounted.length;
    this.#mounted[id] = mounted;
    await this.#persist();
    return { id, name: mounted.name };
  }

  /**
   * `remove_personality {id}`: unmount a mounted personality and drop it from the config. Its turns already
   * running finish on it; its sandbox is disposed after them. The id becomes a hole that the next
   * `add_personality` fills: the ids of the others do not change.
   */
  remove(id: number): Promise<{ id: number; name: string }> {
    return this.#adding.run(async () => {
      const m = this.get(id);
      if (!m || m.removed) throw PersonalityIdInvalid(`personality ${id} is not mounted (see list_active_personalities)`);
      const name = m.name;
      this.#unmount(m, 'it was removed (remove_personality); the id is free for the next add_personality');
      await this.#persist();
      return { id, name };
    });
  }

  /** The mounted personalities whose folder is `folder` (normally one). */
  byFolder(folder: string): MountedPersonality[] {
    return this.#mounted.filter((m) => m.folder === folder && !m.removed);
  }

  /**
   * Hot reload: load `m`'s folder again and swap the new version in; turns already running finish on the old
   * one, which is disposed once they end. On failure the old version keeps serving and the error is thrown.
   * Saved settings are migrated to the new template (values that no longer fit are reset, with a warning).
   */
  async reload(m: MountedPersonality): Promise<PersonalityVersion> {
    if (!m.folder) throw new Error(`personality "${m.path}" has no folder`);
    const version = await this.load(m.folder, true);
    m.versions.swap(version);
    m.error = undefined;
    await this.readSettings(m);
    return version;
  }

  /**
   * The folder of `m` disappeared: unmount it and drop it from the config. Its slot stays (so no other id
   * shifts) and answers `generation_error` until the next `add_personality`, which reuses the freed id.
   */
  async unmount(m: MountedPersonality): Promise<void> {
    this.#unmount(m, 'its folder was removed; the id is free for the next add_personality');
    await this.#adding.run(() => this.#persist());
  }

  #unmount(m: MountedPersonality, why: string): void {
    m.versions.swap(undefined);
    m.removed = true;
    m.error = why;
  }

  /** `activate_personality {id}`: persisted as `active_personality_id`. */
  async activate(id: number): Promise<{ id: number; name: string }> {
    const m = this.get(id);
    if (!m || m.removed) throw PersonalityIdInvalid('Personality ID not valid');
    this.#activeId = id;
    await this.#persist();
    return { id, name: m.name };
  }

  /** The processor settings template of a mounted personality as it declares it (empty without a processor). */
  declaredTemplate(m: MountedPersonality): SettingsTemplate {
    return (m.current?.processor?.settingsTemplate ?? {}) as SettingsTemplate;
  }

  /**
   * The processor settings template of a mounted personality, with its context-size bounds (`max: ctx_size`)
   * resolved for the loaded model: what clients are shown and new values are checked against.
   */
  template(m: MountedPersonality): SettingsTemplate {
    return resolveTemplate(this.declaredTemplate(m), this.#contextSize());
  }

  /**
   * Current settings of a mounted personality; migration warnings are logged. A value above a context-size bound
   * is lowered to it (the saved value stays, for a model with a larger context).
   */
  async readSettings(m: MountedPersonality): Promise<SettingsResult> {
    const result = await this.settings.get(m.path, this.declaredTemplate(m));
    for (const warning of result.warnings) this.#options.logger.warn({ personality: m.path }, warning);
    return { ...result, values: clampToTemplate(result.values, this.template(m)) };
  }

  /** Validate (against the resolved bounds) and save settings of a mounted personality. */
  async writeSettings(m: MountedPersonality, changes: unknown): Promise<SettingsResult> {
    validateSettings(this.template(m), changes, this.#options.config.values.personality_setting_max_bytes);
    const result = await this.settings.set(m.path, this.declaredTemplate(m), changes);
    for (const warning of result.warnings) this.#options.logger.warn({ personality: m.path }, warning);
    return { ...result, values: clampToTemplate(result.values, this.template(m)) };
  }

  #contextSize(): number {
    return this.#options.contextSize?.() ?? this.#options.config.values.ctx_size;
  }

  /** Run a `ctx.store` operation of the personality mounted as `id` (its mounted path). */
  runStore(id: string, request: SandboxStoreRequest): Promise<unknown> {
    return this.store.run(id, request);
  }

  /**
   * Whether the personality whose folder is `callerFolder` may run `callee` with `ctx.callPersonality`: its
   * `callable_by` absent or `true` allows every personality, `false` none, a list those whose path resolves to
   * the caller's folder (`"*"`: every one).
   */
  async mayCall(callee: PersonalityVersion, callerFolder: string | undefined): Promise<boolean> {
    const rule = callee.config.callable_by;
    if (rule === undefined || rule === true) return true;
    if (rule === false || callerFolder === undefined) return false;
    for (const path of rule) {
      if (path === '*') return true;
      const folder = await resolvePersonalityPath(this.#options.personalitiesPaths, path).catch(() => undefined);
      if (folder === callerFolder) return true;
    }
    return false;
  }

  /** The file behind a personality asset URL (`/personalities/.../assets/logo.png`), escapes refused. */
  assetFile(urlPath: string): Promise<string> {
    return resolvePersonalityAsset(this.#options.personalitiesPaths, urlPath);
  }

  /** Dispose every version (host shutdown; generations were cancelled before). */
  async dispose(): Promise<void> {
    this.#options.sandboxPool?.dispose();
    // First, so that the sandboxes ending below do not start another spare.
    stopSpareSandboxProcess();
    await Promise.all(this.#mounted.map((m) => m.versions.disposeAll()));
    // A version retired just before (its process ends a moment after its last call) has ended too.
    await Promise.all(this.#mounted.map((m) => m.versions.settled()));
    await disposeIncrementalCompiles();
  }
}
