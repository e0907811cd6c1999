import { context, type BuildContext, type BuildFailure, type BuildOptions, type BuildResult, type OnResolveArgs, type OnResolveResult, type Plugin } from 'esbuild';
import { build, isServiceDeath } from '../plugins/esbuild-service.js';
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
   * (`lollms-host:plugin-api/index.js`): no host path is in it.
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
  /**
   * The personality's name, for error messages, or a promise of it (a reload compiles while it reads the
   * config). Default, and when the promise fails: the folder's name.
   */
  name?: string | PromiseLike<string>;
  /**
   * Keep an incremental build of this folder for the next compile of it (hot reload of a personality being
   * edited): esbuild then parses only what changed, a few ms instead of tens. The last few folders are kept;
   * `disposeIncrementalCompiles()` frees them (host shutdown).
   */
  incremental?: boolean;
}

/** The one package a processor may import. */
export const PLUGIN_API_SPECIFIER = 'lollms-host/plugin-api';
/** The entry, relative to the personality folder. */
export const PROCESSOR_ENTRY = join('scripts', 'processor.ts');

/**
 * The esbuild namespaces of the personality's own files and of plugin-api's. Module paths inside them are
 * relative (`scripts/util.ts`, `plugin-api/index.js`), so that the bundle's module comments and the source
 * map never carry a host path; the absolute path travels in `pluginData`.
 */
const PERSONALITY_NS = 'personality';
const API_NS = 'lollms-host';
/** The source-map prefix of plugin-api's files (`lollms-host/plugin-api/index.js`). */
const API_SOURCE_PREFIX = 'lollms-host/';
/** plugin-api's one module (`pluginApiModule`) in its namespace. */
const API_MODULE_PATH = 'plugin-api/index.js';
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
  const api = pluginApiEntry();
  if (!options.incremental) return compileIn(root, options, new ImportGuard(root));
  // One incremental build of a folder at a time: its kept context and guard serve one build.
  const previous = COMPILING.get(root) ?? Promise.resolve();
  const run = previous.then(
    () => compileIn(root, options, INCREMENTAL.get(root)?.guard ?? new ImportGuard(root)),
    () => compileIn(root, options, INCREMENTAL.get(root)?.guard ?? new ImportGuard(root)),
  );
  COMPILING.set(root, run);
  try {
    return await run;
  } finally {
    if (COMPILING.get(root) === run) COMPILING.delete(root);
  }
}

/** The incremental compile of each folder under way. */
const COMPILING = new Map<string, Promise<CompiledProcessor>>();

/** Compile the processor of the folder `root` (a real path) with `guard`, reset first. */
async function compileIn(root: string, options: CompileProcessorOptions, guard: ImportGuard): Promise<CompiledProcessor> {
  const label = async () => `personality "${await Promise.resolve(options.name ?? basename(root)).then(undefined, () => basename(root))}"`;
  const entryPath = join(root, PROCESSOR_ENTRY);
  const api = pluginApiEntry();
  guard.reset();
  const entry = await guard.checkFile(entryPath);
  if ('problem' in entry) throw PluginCompile(`${await label()}: ${toPosix(PROCESSOR_ENTRY)}: ${entry.problem}`, { file: entryPath });
  const entryReal = entry.real;

  try {
    const buildOptions: BuildOptions = {
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
      plugins: [guard.plugin(api.entry)],
    };
    guard.entryReal = entryReal;
    const result = options.incremental ? await incrementalBuild(root, entryReal, guard, buildOptions) : await build({ ...buildOptions, write: false });
    const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
    const map = result.outputFiles.find((f) => f.path.endsWith('.js.map'));
    if (!output || !map) throw new Error('esbuild produced no output');
    return { code: output.text, sourceMap: relativeSourceMap(map.text), files: [...guard.files].sort() };
  } catch (error) {
    const first = (error as Partial<BuildFailure>).errors?.[0];
    if (!first) throw PluginCompile(`${await label()}: ${(error as Error).message}`, { cause: error, file: entryPath });
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
      loc.file = api.entry;
    }
    throw PluginCompile(`${await label()}: ${formatLocation({ ...loc, ...(shown === undefined ? {} : { file: shown }) })}`, {
      cause: error,
      ...(loc.file !== undefined ? { file: loc.file } : {}),
      ...(loc.line !== undefined ? { line: loc.line } : {}),
      ...(loc.column !== undefined ? { column: loc.column } : {}),
    });
  }
}

/** Incremental builds of the folders compiled with `incremental`, least recently used first. */
const INCREMENTAL = new Map<string, { entryReal: string; guard: ImportGuard; context: BuildContext<BuildOptions & { write: false }> }>();
/** Folders kept: the personalities a developer edits at once. */
const MAX_INCREMENTAL = 4;

/** Rebuild `root` on its kept context (made on first use); a context whose entry moved is made anew. */
async function incrementalBuild(root: string, entryReal: string, guard: ImportGuard, options: BuildOptions): Promise<BuildResult<BuildOptions & { write: false }>> {
  let kept = INCREMENTAL.get(root);
  if (kept && kept.entryReal !== entryReal) {
    INCREMENTAL.delete(root);
    void kept.context.dispose().catch(() => {});
    kept = undefined;
  }
  if (!kept) {
    kept = { entryReal, guard, context: await context({ ...options, write: false }) };
    while (INCREMENTAL.size >= MAX_INCREMENTAL) {
      const [oldest, entry] = INCREMENTAL.entries().next().value!;
      INCREMENTAL.delete(oldest);
      void entry.context.dispose().catch(() => {});
    }
  }
  // Most recently used last.
  INCREMENTAL.delete(root);
  INCREMENTAL.set(root, kept);
  try {
    return await kept.context.rebuild();
  } catch (error) {
    if (!isServiceDeath(error)) throw error;
    // esbuild's service died and took every context with it: build the usual way (which restarts it).
    await disposeIncrementalCompiles();
    return build({ ...options, write: false });
  }
}

/** Free the incremental builds kept by `compileProcessor` (host shutdown); later compiles make new ones. */
export async function disposeIncrementalCompiles(): Promise<void> {
  const kept = [...INCREMENTAL.values()];
  INCREMENTAL.clear();
  await Promise.all(kept.map((k) => k.context.dispose().catch(() => {})));
}

/**
 * esbuild's map with host-free sources: `personality:scripts/x.ts` becomes `scripts/x.ts`,
 * `lollms-host:plugin-api/index.js` becomes `lollms-host/plugin-api/index.js`, listed in `ignoreList` (library code).
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
 * plugin-api as one ES module, bundled once per host process from its files (the host's own, unchanged while
 * it runs): a processor's compile resolves and loads this one module, not a dozen, and tree shaking still
 * leaves out what the processor does not use. It carries no source map of its own: its frames are library code,
 * left out of the stacks shown to authors (the map's `ignoreList`), so the processor's map names it as one
 * source, `lollms-host/plugin-api/index.js`; chaining a map through it made every compile 1.5 ms slower.
 */
let apiModule: Promise<string> | undefined;

function pluginApiModule(entry: string): Promise<string> {
  apiModule ??= (async () => {
    const result = await build({
      entryPoints: [basename(entry)],
      absWorkingDir: dirname(entry),
      bundle: true,
      write: false,
      platform: 'neutral',
      format: 'esm',
      target: 'es2024',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      tsconfigRaw: '{}',
    });
    const code = result.outputFiles[0]?.text;
    if (code === undefined) throw new Error('esbuild produced no plugin-api module');
    return code;
  })();
  apiModule.catch(() => (apiModule = undefined));
  return apiModule;
}

/** Resolution and loading rules of one compile. */
class ImportGuard {
  /** Personality files read so far. */
  readonly files = new Set<string>();
  #bytes = 0;
  /** The real path of the entry of the build under way. */
  entryReal = '';

  constructor(private readonly root: string) {}

  /** Before each build (an incremental build reuses its guard): nothing read yet. */
  reset(): void {
    this.files.clear();
    this.#bytes = 0;
  }

  /** The personality's module `abs` (a real path already checked), named relative to the folder. */
  #module(abs: string): { path: string; namespace: string; pluginData: ModuleData } {
    return { path: toPosix(relative(this.root, abs)), namespace: PERSONALITY_NS, pluginData: { abs } };
  }

  plugin(apiEntry: string): Plugin {
    return {
      name: 'lollms-host-processor-imports',
      setup: (b) => {
        b.onResolve({ filter: /.*/ }, async (args) => {
          if (args.kind === 'entry-point') return this.#module(this.entryReal);
          return this.#resolve(args, apiEntry);
        });

        const load = async (args: { path: string; pluginData?: unknown }) => {
          const abs = (args.pluginData as ModuleData | undefined)?.abs;
          if (abs === undefined) return { errors: [{ text: `${args.path}: not resolved by the processor's import rules` }] };
          const ext = extname(abs) as AllowedExt;
          const loader = LOADERS[ext];
          if (!loader) return { errors: [{ text: `${args.path}: unsupported file type` }] };
          const contents = await readFile(abs);
          this.#bytes += contents.length;
          if (contents.length > MAX_FILE_BYTES || this.#bytes > MAX_TOTAL_BYTES) {
            return { errors: [{ text: `${args.path}: the processor's sources exceed the size limit` }] };
          }
          // Checked before esbuild parses it: deep nesting overflows esbuild's stack and kills its service.
          const deep = findDeepNesting(contents.toString('utf8'));
          if (deep) return { errors: [{ text: `${isInside(this.root, abs) ? relative(this.root, abs) : basename(abs)}:${deep.line}: brackets nest deeper than ${MAX_NESTING} levels` }] };
          this.files.add(abs);
          return { contents, loader, resolveDir: dirname(abs), pluginData: args.pluginData };
        };
        b.onLoad({ filter: /.*/, namespace: PERSONALITY_NS }, load);
        // plugin-api: one module with no imports of its own.
        b.onLoad({ filter: /.*/, namespace: API_NS }, async () => ({ contents: await pluginApiModule(apiEntry), loader: 'js' }));
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
    if (spec === PLUGIN_API_SPECIFIER) return { path: API_MODULE_PATH, namespace: API_NS, pluginData: { abs: apiEntry } };
    if (isBuiltin(spec)) return problem(`import "${spec}": node builtins cannot be imported in a processor`);
    if (isAbsolute(spec) || /^[A-Za-z]:[\\/]/.test(spec) || spec.startsWith('\\')) {
      return problem(`import "${spec}": absolute paths cannot be imported in a processor`);
    }
    if (!spec.startsWith('./') && !spec.startsWith('../') && spec !== '.' && spec !== '..') {
      return problem(
        `import "${spec}": packages cannot be imported in a processor; only ${PLUGIN_API_SPECIFIER} and relative files inside the personality folder`,
      );
    }
    // A personality's relative imports stay inside its folder (plugin-api is one module with no imports).
    const base = this.root;
    const target = resolve(args.resolveDir, spec);
    if (!isInside(base, target)) return problem(`import "${spec}": leaves the personality folder`);
    const found = await this.#find(target);
    if (!found) return problem(`import "${spec}": file not found (a processor may import .ts, .mts, .js, .mjs and .json files)`);
    const checked = await this.checkFile(found, base);
    if ('problem' in checked) return problem(`import "${spec}": ${checked.problem}`);
    // Bundle the real path, so that what is read is exactly what was checked.
    return this.#module(checked.real);
  }

  /** `file`'s real path, or why it may not be bundled (not a regular file, a symlink out of `base`, a bad extension). */
  async checkFile(file: string, base = this.root): Promise<{ real: string } | { problem: string }> {
    const refuse = (problem: string) => ({ problem });
    if (!(extname(file) in LOADERS)) return refuse('only .ts, .mts, .js, .mjs and .json files can be imported');
    const real = await realpath(file).catch(() => undefined);
    if (real === undefined) return refuse('file not found');
    if (!isInside(base, real)) return refuse('resolves (through a symlink) outside the personality folder');
    const info = await stat(real).catch(() => undefined);
    if (!info?.isFile()) return refuse('not a regular file');
    if (info.size > MAX_FILE_BYTES) return refuse(`larger than ${MAX_FILE_BYTES} bytes`);
    return { real };
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
