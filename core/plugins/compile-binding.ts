import type { BuildFailure, Message, Plugin } from 'esbuild';
import { build } from './esbuild-service.js';
import { findDeepNesting, MAX_NESTING } from './nesting.js';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginCompile } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { formatLocation, fromEsbuildMessage } from './build-errors.js';

/** Options of `compileBinding`. */
export interface CompileBindingOptions {
  /** Where compiled modules are written (`<cacheDir>/<name>-<contenthash>.mjs`); created when missing. */
  cacheDir: string;
  /** The binding's name, used in the output file name; defaults to the folder name. */
  name?: string;
}

/** A compiled binding module, ready for `import()`. */
export interface CompiledBinding {
  /** `file://` URL of the written module; it changes whenever the output changes (busts the ESM cache). */
  moduleUrl: string;
  /** Absolute path of the written module. */
  path: string;
  /** Hex content hash in the file name. */
  hash: string;
  /** esbuild warnings, formatted `file:line:column: message`. */
  warnings: string[];
}

/** The package name plugins import the contract from. */
export const PLUGIN_API_SPECIFIER = 'lollms-host/plugin-api';
const LLAMA_PACKAGE = 'node-llama-cpp';
/**
 * Small, stable libraries the host provides to every binding (documented in docs/writing-a-binding.md), shared
 * like node-llama-cpp: `eventsource-parser` parses the server-sent events of remote engines (openai_remote).
 */
const HOST_PROVIDED_PACKAGES = ['eventsource-parser'] as const;

/**
 * The plugin-api module this host runs: `plugin-api/index.ts` under tsx (tests, dev), `plugin-api/index.js`
 * when running from the esbuild-built `dist/`. Plugins import exactly this URL, so they share the host's
 * module instance (one `defineBinding`, one set of classes) rather than a bundled copy.
 */
export function hostPluginApiUrl(): string {
  const ext = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? '.js';
  return new URL(`../../plugin-api/index${ext}`, import.meta.url).href;
}

/** The host's node-llama-cpp or another host-provided package (or a subpath of it), as an absolute `file://` URL. */
function hostLlamaUrl(specifier: string): string {
  return import.meta.resolve(specifier);
}

/**
 * Bundle a binding's TypeScript entry into one ESM file and write it to the cache.
 *
 * Imports resolve as follows:
 * - `lollms-host/plugin-api`, `node-llama-cpp` and `eventsource-parser` (and their subpaths): external, as
 *   absolute `file://` URLs of the host's own copies, so the plugin shares the host's module instances and its
 *   single llama engine;
 * - Node builtins: external as written;
 * - any other bare package: bundled from the plugin folder's own `node_modules`; a package that only the
 *   host (or nobody) has is a compile error naming the import — a plugin must not silently depend on the
 *   host's private dependencies;
 * - relative imports: bundled.
 *
 * A compile error is a `PluginCompile` error carrying `file`, `line` and `column` (1-based) of esbuild's
 * first error.
 */
export async function compileBinding(folder: string, entry: string, options: CompileBindingOptions): Promise<CompiledBinding> {
  const dir = resolve(folder);
  const name = options.name ?? basename(dir);
  const entryPath = resolve(dir, entry);
  const cacheDir = resolve(options.cacheDir);
  if (!(await stat(entryPath).then((s) => s.isFile(), () => false))) {
    throw PluginCompile(`binding ${dir}: entry ${relative(dir, entryPath)} not found`, { file: entryPath });
  }
  await mkdir(cacheDir, { recursive: true });
  // The output path is only used for source-map paths: the sources are written relative to the cache dir,
  // which is where the hashed module really lives, so stack traces point at the plugin's .ts files.
  const fileBase = safeFileName(name);
  const outfile = join(cacheDir, `${fileBase}.mjs`);

  const pluginApi = hostPluginApiUrl();
  let text: string;
  let warnings: Message[];
  try {
    const result = await build({
      entryPoints: [entryPath],
      absWorkingDir: dir,
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      sourcemap: 'inline',
      write: false,
      logLevel: 'silent',
      plugins: [hostImports(dir, pluginApi), nestingGuard(dir)],
    });
    const output = result.outputFiles.find((f) => f.path.endsWith('.mjs')) ?? result.outputFiles[0];
    if (!output) throw new Error('esbuild produced no output');
    text = output.text;
    warnings = result.warnings;
  } catch (error) {
    const failure = error as Partial<BuildFailure>;
    const first = failure.errors?.[0];
    if (!first) throw PluginCompile(`binding ${dir}: ${(error as Error).message}`, { cause: error, file: entryPath });
    const loc = fromEsbuildMessage(first, dir);
    const more = (failure.errors?.length ?? 1) > 1 ? ` (and ${(failure.errors?.length ?? 1) - 1} more errors)` : '';
    throw PluginCompile(`binding ${dir}: ${formatLocation(loc, dir)}${more}`, {
      cause: error,
      ...(loc.file !== undefined ? { file: loc.file } : {}),
      ...(loc.line !== undefined ? { line: loc.line } : {}),
      ...(loc.column !== undefined ? { column: loc.column } : {}),
    });
  }

  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const path = join(cacheDir, `${fileBase}-${hash}.mjs`);
  // Same hash, same bytes: a module already written (by an earlier load) is reused as is.
  if (!(await stat(path).then((s) => s.isFile(), () => false))) await writeFileAtomic(path, text);
  return {
    moduleUrl: pathToFileURL(path).href,
    path,
    hash,
    warnings: warnings.map((w) => formatLocation(fromEsbuildMessage(w, dir), dir)),
  };
}

/**
 * Remove the cached modules of binding `name` other than `keep` (best effort). Safe once `keep` is imported:
 * a loaded module no longer needs its file, and its inline source map travels with the loaded source.
 */
export async function pruneCompiledBindings(cacheDir: string, name: string, keep: string): Promise<void> {
  const pattern = new RegExp(`^${escapeRegExp(safeFileName(name))}-[0-9a-f]{16}\\.mjs$`);
  const files = await readdir(cacheDir).catch(() => [] as string[]);
  await Promise.all(
    files
      .filter((f) => pattern.test(f) && join(resolve(cacheDir), f) !== resolve(keep))
      .map((f) => unlink(join(cacheDir, f)).catch(() => {})),
  );
}

/**
 * The binding's own sources (not its node_modules) are checked for deep nesting before esbuild parses them:
 * a file that overflows esbuild's stack would kill the compiler service for every plugin. Returning undefined
 * lets esbuild load the file as usual.
 */
function nestingGuard(pluginDir: string): Plugin {
  const ownModules = join(pluginDir, 'node_modules');
  return {
    name: 'lollms-host-nesting',
    setup(b) {
      b.onLoad({ filter: /\.(?:[cm]?[jt]sx?|json)$/ }, async (args) => {
        const rel = relative(pluginDir, args.path);
        if (rel.startsWith('..') || isAbsolute(rel) || !relative(ownModules, args.path).startsWith('..')) return undefined;
        const deep = findDeepNesting(await readFile(args.path, 'utf8'));
        return deep ? { errors: [{ text: `${rel}:${deep.line}: brackets nest deeper than ${MAX_NESTING} levels` }] } : undefined;
      });
    },
  };
}

/** The esbuild plugin that maps bare imports as described on `compileBinding`. */
function hostImports(pluginDir: string, pluginApiUrl: string): Plugin {
  const ownModules = join(pluginDir, 'node_modules');
  const again = Symbol('lollms-host.resolve-again');
  return {
    name: 'lollms-host-imports',
    setup(b) {
      // Bare specifiers only: not relative (`./`, `../`), not absolute.
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if ((args.pluginData as Record<symbol, unknown> | undefined)?.[again]) return undefined;
        if (isAbsolute(args.path)) return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        if (args.path === PLUGIN_API_SPECIFIER) return { path: pluginApiUrl, external: true };
        const shared = [LLAMA_PACKAGE, ...HOST_PROVIDED_PACKAGES].some((p) => args.path === p || args.path.startsWith(`${p}/`));
        if (shared) {
          try {
            return { path: hostLlamaUrl(args.path), external: true };
          } catch (error) {
            return { errors: [{ text: `cannot resolve "${args.path}" in the host: ${(error as Error).message}` }] };
          }
        }
        const found = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { [again]: true },
        });
        const rel = found.path ? relative(ownModules, found.path) : '..';
        if (found.errors.length > 0 || rel.startsWith('..') || isAbsolute(rel)) {
          return {
            errors: [{
              text: `cannot resolve "${args.path}": a binding may import node builtins, ${PLUGIN_API_SPECIFIER}, ` +
                `${[LLAMA_PACKAGE, ...HOST_PROVIDED_PACKAGES].join(', ')} and packages installed in its own node_modules`,
            }],
          };
        }
        return { path: found.path, sideEffects: found.sideEffects, namespace: found.namespace, pluginData: found.pluginData };
      });
    },
  };
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_') || 'binding';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
