/**
 * `ctx.store` (issue 14): each personality's own persistent key-value storage. JSON values by key, one file per
 * personality (`<dataDir>/store/personalities/<personality id, percent-encoded>.json`), written atomically, its
 * keys and values bounded together by a quota (`personality_store_max_bytes`). The processor never sees a path:
 * it names keys, and the host picks the file from the personality's id.
 *
 * Operations of one personality run one after another (a read-modify-write never interleaves), and its entries
 * stay in memory after the first use (at most the quota per personality).
 */
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreKeyInvalid, StoreQuota } from '../errors.js';
import { storeKeyProblem, type SandboxStoreRequest } from '../sandbox/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { SerialQueue } from '../util/serial.js';
import { personalityFileName } from './settings.js';

export interface PersonalityStoreOptions {
  /** The host's data dir; files go to `<dataDir>/store/personalities/`. */
  dataDir: string;
  /** The quota of one personality, in UTF-8 bytes of keys and JSON values (read at every write). */
  maxBytes: () => number;
  /** Told about a store file that could not be used (set aside). */
  onWarning?: (message: string) => void;
}

/** One personality's entries: key -> JSON text, and their size. */
interface Entries {
  values: Map<string, string>;
  bytes: number;
}

const utf8 = (text: string) => Buffer.byteLength(text);
const entryBytes = (key: string, json: string) => utf8(key) + utf8(json);

export class PersonalityStore {
  readonly folder: string;
  readonly #options: PersonalityStoreOptions;
  readonly #loaded = new Map<string, Entries>();
  readonly #queues = new Map<string, SerialQueue>();

  constructor(options: PersonalityStoreOptions) {
    this.#options = options;
    this.folder = join(options.dataDir, 'store', 'personalities');
  }

  /** The file holding `id`'s entries. */
  fileFor(id: string): string {
    return join(this.folder, personalityFileName(id, '.json'));
  }

  /**
   * Run one `ctx.store` operation for personality `id`: `get` → `{found, value}`, `set` → null, `delete` →
   * whether the key existed, `keys` → the sorted keys with the prefix. Throws `LH_ERR_STORE_KEY` for a bad key and
   * `LH_ERR_STORE_QUOTA` when a `set` would pass the quota (nothing is written then).
   */
  run(id: string, request: SandboxStoreRequest): Promise<unknown> {
    if (request.action !== 'keys') {
      const problem = storeKeyProblem(request.key);
      if (problem) return Promise.reject(StoreKeyInvalid(`ctx.store: ${problem}`));
    }
    return this.#queue(id).run(async () => {
      const entries = await this.#entries(id);
      switch (request.action) {
        case 'get': {
          const json = entries.values.get(request.key);
          return json === undefined ? { found: false } : { found: true, value: JSON.parse(json) as unknown };
        }
        case 'keys':
          return [...entries.values.keys()].filter((k) => k.startsWith(request.prefix)).sort();
        case 'delete': {
          const json = entries.values.get(request.key);
          if (json === undefined) return false;
          const next = new Map(entries.values);
          next.delete(request.key);
          await this.#write(id, next);
          entries.values = next;
          entries.bytes -= entryBytes(request.key, json);
          return true;
        }
        case 'set': {
          const old = entries.values.get(request.key);
          const bytes = entries.bytes - (old === undefined ? 0 : entryBytes(request.key, old)) + entryBytes(request.key, request.json);
          const max = this.#options.maxBytes();
          if (bytes > max) {
            throw StoreQuota(`ctx.store.set: the store would hold ${bytes} bytes, more than its quota of ${max} bytes (personality_store_max_bytes); nothing was written`);
          }
          const next = new Map(entries.values);
          next.set(request.key, request.json);
          await this.#write(id, next);
          entries.values = next;
          entries.bytes = bytes;
          return null;
        }
      }
    });
  }

  #queue(id: string): SerialQueue {
    let queue = this.#queues.get(id);
    if (!queue) this.#queues.set(id, (queue = new SerialQueue()));
    return queue;
  }

  async #entries(id: string): Promise<Entries> {
    const known = this.#loaded.get(id);
    if (known) return known;
    const entries = await this.#read(id);
    this.#loaded.set(id, entries);
    return entries;
  }

  async #read(id: string): Promise<Entries> {
    const file = this.fileFor(id);
    const empty = (): Entries => ({ values: new Map(), bytes: 0 });
    // The file's JSON is its entries plus quotes, escapes and commas: a file far larger than the quota is not
    // the host's (or predates a lower quota by far) and is not parsed.
    const limit = Math.max(1024 * 1024, this.#options.maxBytes() * 8);
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size < 0) return empty();
    const setAside = async (why: string) => {
      await rename(file, `${file}.rejected`).catch(() => {});
      this.#options.onWarning?.(`personality ${id}: its store file ${why}; set aside as ${personalityFileName(id, '.json')}.rejected, starting empty`);
      return empty();
    };
    if (size > limit) return setAside(`is ${size} bytes, far above its quota`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      return setAside('is not JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return setAside('is not a JSON object');
    const values = new Map<string, string>();
    let bytes = 0;
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (storeKeyProblem(key)) continue;
      const json = JSON.stringify(value);
      values.set(key, json);
      bytes += entryBytes(key, json);
    }
    return { values, bytes };
  }

  async #write(id: string, values: ReadonlyMap<string, string>): Promise<void> {
    await mkdir(this.folder, { recursive: true });
    // Built from the JSON texts kept, so a value is never re-serialized differently from what was counted.
    const body = `{${[...values].map(([key, json]) => `${JSON.stringify(key)}:${json}`).join(',')}}\n`;
    await writeFileAtomic(this.fileFor(id), body);
  }
}
