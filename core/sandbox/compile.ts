import type { BuildFailure, OnResolveArgs, OnResolveResult, Plugin } from 'esbuild';
import { build } from '../plugins/esbuild-service.js';
import { findDeepNesting, MAX_NESTING } from '../plugins/nesting.js';
import { readFile, realpath, stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginCompile } from '../errors.js';
import { formatLocation, fromEsbuildMessage } from '../plugins/build-errors.js';
import { GUEST_GLOBAL_NAME } from './bootstrap.js';

/** A processor bundle, ready for `ProcessorSandbox.create`. */
export interface CompiledProcessor {
  /**
   * One classic script (an IIFE assigning `__lh_processor`), with no imports left. It names its modules only
   * by paths relative to the personality folder (`personality:scripts/util.ts`) or to lollms-host
   * (`lollms-host:plugin-api/processor.ts`): no host path is in it.
   */
  code: string;
  /**
   * The bundle's source map (JSON, version 3, no sources content): `sources` are relative to the personality
   * folder (`scripts/processor.ts`), or `lollms-host/plugin-api/...` for the API, which `ignoreList` marks as
   * library code to leave out of stack traces.
   */
  sourceMap: string;
  /** Real paths of the personality's files in the bundle (for watching); plugin-api files are not listed. */
  files: string[];
}

/** Options of `compileProcessor`. */
export interface CompileProcessorOptions {
  /** The personality's name, for error messages. Default: the folder's name. */
  name?: string;
}

/** The one package a processor may import. */
export const PLUGIN_API_SPECIFIER = 'lollms-host/plugin-api';
/** The entry, relative to the personality folder. */
export const PROCESSOR_ENTRY = join('scripts', 'processor.ts');

/**
 * The esbuild namespaces of the personality's own files and of plugin-api's. Module paths inside them are
 * relative (`scripts/util.ts`, `plugin-api/processor.ts`), so that the bundle's module comments and the source
 * map never carry a host path; the absolute path travels in `pluginData`.
 */
const PERSONALITY_NS = 'personality';
const API_NS = 'lollms-host';
/** The source-map prefix of plugin-api's files (`lollms-host/plugin-api/processor.ts`). */
const API_SOURCE_PREFIX = 'lollms-host/';
interface ModuleData {
  /** Real absolute path of the module. */
  abs: string;
}
/** Loaders by extension; no other file may enter a bundle, so esbuild's file/dataurl/text loaders never run. */
const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js', '.json': 'json' } as const;
type AllowedExt = keyof typeof LOADERS;
/** Candidates tried for an extensionless or `.js`-spelled relative import (TypeScript's NodeNext habit). */
const TRY_EXTS = ['.ts', '.mts', '.js', '.mjs', '.json'] as const;
/** Bounds on what a compile reads, so a hostile folder cannot make the host read gigabytes. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
export const MAX_TOTAL_BYTES = 16 * 1024 * 1024;

/**
 * The host's own plugin-api folder: `plugin-api/` next to `core/` under tsx, `dist/plugin-api/` when running
 * from the build. plugin-api has no runtime imports, so it bundles into the guest.
 */
function pluginApiEntry(): { dir: string; entry: string } {
  const ext = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] === '.ts' ? '.ts' : '.js';
  const dir = fileURLToPath(new URL('../../plugin-api/', import.meta.url));
  return { dir, entry: join(dir, `index${ext}`) };
}

/**
 * Bundle `<personalityFolder>/scripts/processor.ts` into one script for the isolate.
 *
 * Only `lollms-host/plugin-api` and relative files inside the personality folder may be imported. A node
 * builtin, a package, an absolute path, a `../` that leaves the folder or a symlink resolving outside it is a
 * `PluginCompile` error naming the import, with file, line and column (relative to the folder). Every module is
 * resolved and read by this function itself (private esbuild namespaces), so esbuild reads no file (no
 * tsconfig.json, no package.json) and picks no loader by file name; nothing outside the folder is read except
 * plugin-api. The result has a source map for error locations (`GuestErrorLocator`).
 */
export async function compileProcessor(personalityFolder: string, options: CompileProcessorOptions = {}): Promise<CompiledProcessor> {
  const root = await realpath(resolve(personalityFolder)).catch(() => {
    throw PluginCompile(`personality ${personalityFolder}: folder not found`);
  });
  const label = `personality "${options.name ?? basename(root)}"`;
  const entryPath = join(root, PROCESSOR_ENTRY);
  const api = pluginApiEntry();
  const guard = new ImportGuard(root, api.dir);
  const entryProblem = await guard.checkFile(entryPath);
  if (entryProblem) throw PluginCompile(`${label}: ${toPosix(PROCESSOR_ENTRY)}: ${entryProblem}`, { file: entryPath });
  const entryReal = await realpath(entryPath);

  try {
    const result = await build({
      entryPoints: [toPosix(relative(root, entryReal))],
      absWorkingDir: root,
      // Never written (write: false): it only names the source map, whose sources are rewritten below.
      outfile: join(root, 'processor.js'),
      bundle: true,
      write: false,
      platform: 'neutral',
      format: 'iife',
      globalName: GUEST_GLOBAL_NAME,
      target: 'es2024',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      sourcemap: 'external',
      sourcesContent: false,
      tsconfigRaw: '{}',
      plugins: [guard.plugin(api.entry, entryReal)],
    });
    const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
    const map = result.outputFiles.find((f) => f.path.endsWith('.js.map'));
    if (!output || !map) throw new Error('esbuild produced no output');
    return { code: output.text, sourceMap: relativeSourceMap(map.text), files: [...guard.files].sort() };
  } catch (error) {
    const first = (error as Partial<BuildFailure>).errors?.[0];
    if (!first) throw PluginCompile(`${label}: ${(error as Error).message}`, { cause: error, file: entryPath });
    const loc = fromEsbuildMessage(first, root);
    // Locations are in a namespace: `personality:scripts/x.ts` is a file of the folder, `lollms-host:...`
    // plugin-api's. The message names them relative; `file` keeps the real path for the host's own use.
    let shown = loc.file;
    const named = first.location ? /^([\w-]+):(.*)$/.exec(first.location.file) : null;
    if (named?.[1] === PERSONALITY_NS) {
      shown = named[2]!;
      loc.file = join(root, named[2]!);
    } else if (named?.[1] === API_NS) {
      shown = API_SOURCE_PREFIX + named[2]!;
      loc.file = join(api.dir, '..', named[2]!);
    }
    throw PluginCompile(`${label}: ${formatLocation({ ...loc, ...(shown === undefined ? {} : { file: shown }) })}`, {
      cause: error,
      ...(loc.file !== undefined ? { file: loc.file } : {}),
      ...(loc.line !== undefined ? { line: loc.line } : {}),
      ...(loc.column !== undefined ? { column: loc.column } : {}),
    });
  }
}

/**
 * esbuild's map with host-free sources: `personality:scripts/x.ts` becomes `scripts/x.ts`,
 * `lollms-host:plugin-api/x.ts` becomes `lollms-host/plugin-api/x.ts`, listed in `ignoreList` (library code).
 */
function relativeSourceMap(json: string): string {
  const map = JSON.parse(json) as { sources: string[]; ignoreList?: number[] };
  const ignoreList: number[] = [];
  map.sources = map.sources.map((source, index) => {
    if (source.startsWith(`${PERSONALITY_NS}:`)) return source.slice(PERSONALITY_NS.length + 1);
    ignoreList.push(index);
    return source.startsWith(`${API_NS}:`) ? API_SOURCE_PREFIX + source.slice(API_NS.length + 1) : source;
  });
  map.ignoreList = ignoreList;
  return JSON.stringify(map);
}

const toPosix = (path: string) => path.split(sep).join('/');

/**
 * plugin-api's modules as resolved and read by earlier compiles: the host's own files, the same for every
 * processor (and unchanged while the host runs), so later compiles skip their checks and reads.
 */
const API_RESOLVED = new Map<string, OnResolveResult>();
const API_LOADED = new Map<string, Uint8Array>();

/** Resolution and loading rules of one compile. */
class ImportGuard {
  /** Personality files read so far. */
  readonly files = new Set<string>();
  #bytes = 0;

  constructor(
    private readonly root: string,
    private readonly apiDir: string,
  ) {}

  /** The module `abs` (a real path already checked) in its namespace, named relative to its root. */
  #module(abs: string): { path: string; namespace: string; pluginData: ModuleData } {
    const inApi = isInside(this.apiDir, abs);
    const path = inApi ? `plugin-api/${toPosix(relative(this.apiDir, abs))}` : toPosix(relative(this.root, abs));
    return { path, namespace: inApi ? API_NS : PERSONALITY_NS, pluginData: { abs } };
  }

  plugin(apiEntry: string, entryReal: string): Plugin {
    return {
      name: 'lollms-host-processor-imports',
      setup: (b) => {
        b.onResolve({ filter: /.*/ }, async (args) => {
          if (args.kind === 'entry-point') return this.#module(entryReal);
          // plugin-api is the host's own code: its modules resolve the same way in every compile.
          const plain = Object.keys(args.with).length === 0;
          const apiKey = plain && (args.namespace === API_NS || args.path === PLUGIN_API_SPECIFIER) ? `${args.namespace === API_NS ? args.resolveDir : ''}\0${args.path}` : undefined;
          const cached = apiKey === undefined ? undefined : API_RESOLVED.get(apiKey);
          if (cached) return cached;
          const result = await this.#resolve(args, apiEntry);
          if (apiKey !== undefined && !('errors' in result)) API_RESOLVED.set(apiKey, result);
          return result;
        });

        const load = async (args: { path: string; pluginData?: unknown }) => {
          const abs = (args.pluginData as ModuleData | undefined)?.abs;
          if (abs === undefined) return { errors: [{ text: `${args.path}: not resolved by the processor's import rules` }] };
          const ext = extname(abs) as AllowedExt;
          const loader = LOADERS[ext];
          if (!loader) return { errors: [{ text: `${args.path}: unsupported file type` }] };
          const api = API_LOADED.get(abs);
          if (api) return { contents: api, loader, resolveDir: dirname(abs), pluginData: args.pluginData };
          const contents = await readFile(abs);
          this.#bytes += contents.length;
          if (contents.length > MAX_FILE_BYTES || this.#bytes > MAX_TOTAL_BYTES) {
            return { errors: [{ text: `${args.path}: the processor's sources exceed the size limit` }] };
          }
          // Checked before esbuild parses it: deep nesting overflows esbuild's stack and kills its service.
          const deep = findDeepNesting(contents.toString('utf8'));
          if (deep) return { errors: [{ text: `${isInside(this.root, abs) ? relative(this.root, abs) : basename(abs)}:${deep.line}: brackets nest deeper than ${MAX_NESTING} levels` }] };
          if (isInside(this.root, abs)) this.files.add(abs);
          else if (isInside(this.apiDir, abs)) API_LOADED.set(abs, contents);
          return { contents, loader, resolveDir: dirname(abs), pluginData: args.pluginData };
        };
        b.onLoad({ filter: /.*/, namespace: PERSONALITY_NS }, load);
        b.onLoad({ filter: /.*/, namespace: API_NS }, load);
      },
    };
  }

  /** Where an import leads, or why it may not be bundled. */
  async #resolve(args: OnResolveArgs, apiEntry: string): Promise<OnResolveResult> {
    const problem = (text: string) => ({ errors: [{ text }] });
    const spec = args.path;
    const attributes = Object.keys(args.with);
    if (attributes.length > 0 && !(attributes.length === 1 && args.with['type'] === 'json' && extname(spec) === '.json')) {
      return problem(`import "${spec}": import attributes are not allowed in a processor`);
    }
    if (spec === PLUGIN_API_SPECIFIER) return this.#module(apiEntry);
    if (isBuiltin(spec)) return problem(`import "${spec}": node builtins cannot be imported in a processor`);
    if (isAbsolute(spec) || /^[A-Za-z]:[\\/]/.test(spec) || spec.startsWith('\\')) {
      return problem(`import "${spec}": absolute paths cannot be imported in a processor`);
    }
    if (!spec.startsWith('./') && !spec.startsWith('../') && spec !== '.' && spec !== '..') {
      return problem(
        `import "${spec}": packages cannot be imported in a processor; only ${PLUGIN_API_SPECIFIER} and relative files inside the personality folder`,
      );
    }
    // plugin-api's own relative imports stay inside plugin-api; a personality's inside its folder.
    const base = args.namespace === API_NS ? this.apiDir : this.root;
    const target = resolve(args.resolveDir, spec);
    if (!isInside(base, target)) return problem(`import "${spec}": leaves the personality folder`);
    const found = await this.#find(target);
    if (!found) return problem(`import "${spec}": file not found (a processor may import .ts, .mts, .js, .mjs and .json files)`);
    const fileProblem = await this.checkFile(found, base);
    if (fileProblem) return problem(`import "${spec}": ${fileProblem}`);
    // Bundle the real path, so that what is read is exactly what was checked.
    return this.#module(await realpath(found));
  }

  /** Why `file` may not be bundled (not a regular file, a symlink out of `base`, a bad extension), or undefined. */
  async checkFile(file: string, base = this.root): Promise<string | undefined> {
    if (!(extname(file) in LOADERS)) return 'only .ts, .mts, .js, .mjs and .json files can be imported';
    const real = await realpath(file).catch(() => undefined);
    if (real === undefined) return 'file not found';
    if (!isInside(base, real)) return 'resolves (through a symlink) outside the personality folder';
    const info = await stat(real).catch(() => undefined);
    if (!info?.isFile()) return 'not a regular file';
    if (info.size > MAX_FILE_BYTES) return `larger than ${MAX_FILE_BYTES} bytes`;
    return undefined;
  }

  async #find(target: string): Promise<string | undefined> {
    const candidates: string[] = [];
    const ext = extname(target);
    if (ext in LOADERS) candidates.push(target);
    if (ext === '.js') candidates.push(target.slice(0, -3) + '.ts');
    if (ext === '.mjs') candidates.push(target.slice(0, -4) + '.mts');
    for (const e of TRY_EXTS) candidates.push(target + e);
    for (const e of TRY_EXTS) candidates.push(join(target, `index${e}`));
    for (const candidate of candidates) {
      // stat follows symlinks: a link to a file outside counts as found, and checkFile then refuses it by name.
      const exists = await stat(candidate).then(
        (s) => s.isFile(),
        () => false,
      );
      if (exists) return candidate;
    }
    return undefined;
  }
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
