/**
 * Type-checking a personality's processor with the TypeScript compiler, as `lollms-host check` and a watching
 * host do.
 *
 * TypeScript 7 (the native compiler) has no in-process compiler API, so this runs its `tsc` in a child process,
 * with a tsconfig of its own in a temp folder:
 * - the compiler options of a processor (`PROCESSOR_COMPILER_OPTIONS`, the same as the `tsconfig.json` that
 *   `lollms-host new personality` writes): what the sandbox allows type-checks (relative `.ts`, `.js` and
 *   extensionless imports, bare JSON imports), what it lacks (`setTimeout`, `process`, the DOM) does not;
 * - `lollms-host/plugin-api` mapped to this host's own plugin-api, whatever the folder has installed;
 * - `noResolve` and an explicit list of files (the folder's sources and plugin-api's): the compiler reads no
 *   other file, so an `import type` or a `/// <reference path>` that points out of the folder reads nothing
 *   outside it (such an import is reported as not found), and diagnostics never quote a host file.
 * The folder's own tsconfig.json is not read (it is for editors; an `extends` in it could name any file).
 * Diagnostics are kept for the folder's files only, with paths relative to it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lstat, mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { setPriority, tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { PACKAGE_ROOT } from '../util/package-root.js';
import { relativeInside, type PluginProblem } from './build-errors.js';

/**
 * The compiler options of a processor: those of the tsconfig.json `lollms-host new personality` writes. The
 * sandbox bundles with esbuild, so resolution is a bundler's; its globals are ES2024's plus `console`.
 */
export const PROCESSOR_COMPILER_OPTIONS = {
  target: 'es2024',
  lib: ['es2024'],
  module: 'preserve',
  moduleResolution: 'bundler',
  allowImportingTsExtensions: true,
  resolveJsonModule: true,
  allowJs: true,
  noEmit: true,
  strict: true,
  isolatedModules: true,
  skipLibCheck: true,
  types: ['lollms-host/sandbox-globals'],
} as const;

/** One compiler diagnostic in a file of the folder. */
export interface TypeDiagnostic {
  /** Relative to the folder, with `/`; undefined for a diagnostic of no file (a bad option). */
  file?: string;
  line?: number;
  column?: number;
  /** `TS2322`. */
  code: string;
  category: 'error' | 'warning' | 'message';
  message: string;
}

export interface TypeCheckResult {
  diagnostics: TypeDiagnostic[];
  /** Why nothing was checked (no TypeScript compiler found), when so. */
  skipped?: string;
  /** Diagnostics left out beyond `MAX_DIAGNOSTICS`. */
  omitted: number;
}

export interface TypeCheckOptions {
  /** Aborting kills the compiler; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The longest the compiler may run, in ms. Default 60 s. */
  timeoutMs?: number;
  /** Run the compiler at a low CPU priority (a watching host, so that generations keep their speed). */
  background?: boolean;
}

/** Extensions of the sources a processor may have (those the sandbox bundles). */
const SOURCE_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs', '.json']);
/** Folders never searched for sources: packages, the author's own tests (they run under Node), dot folders. */
const SKIPPED_FOLDERS = new Set(['node_modules', 'test', 'tests']);
const MAX_DEPTH = 8;
const MAX_FILES = 1000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_TOTAL_BYTES = 16 * 1024 * 1024;
const MAX_OUTPUT_BYTES = 1024 * 1024;
const MAX_DIAGNOSTICS = 200;
const DEFAULT_TIMEOUT_MS = 60_000;

/** The `tsc` of the TypeScript that lollms-host depends on (found from its package folder), or undefined. */
export function resolveTsc(): string | undefined {
  try {
    const manifest = createRequire(join(PACKAGE_ROOT, 'package.json')).resolve('typescript/package.json');
    const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: Record<string, string> }).bin?.['tsc'];
    return bin === undefined ? undefined : join(dirname(manifest), bin);
  } catch {
    return undefined;
  }
}

/** plugin-api's sources, which the processor's program includes (and whose own diagnostics are not reported). */
async function pluginApiFiles(): Promise<{ entry: string; files: string[] }> {
  const dir = join(PACKAGE_ROOT, 'plugin-api');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ts')).sort();
  return { entry: join(dir, 'index.ts'), files: names.map((n) => join(dir, n)) };
}

/**
 * The folder's sources, real paths, bounded in depth, count and bytes: regular files with a processor
 * extension, symlinks only when they resolve inside the folder.
 */
export async function processorSources(folder: string): Promise<string[]> {
  const root = await realpath(folder);
  const found = new Set<string>();
  let bytes = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (found.size >= MAX_FILES || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const info = await lstat(path).catch(() => undefined);
      if (!info) continue;
      if (info.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) await walk(path, depth + 1);
        continue;
      }
      if (!SOURCE_EXTENSIONS.has(extname(entry.name))) continue;
      const real = info.isSymbolicLink() ? await realpath(path).catch(() => undefined) : path;
      if (real === undefined || relativeInside(root, real) === undefined) continue;
      const target = info.isSymbolicLink() ? await stat(real).catch(() => undefined) : info;
      if (!target?.isFile() || target.size > MAX_FILE_BYTES || bytes + target.size > MAX_TOTAL_BYTES) continue;
      bytes += target.size;
      found.add(real);
    }
  };
  await walk(root, 0);
  return [...found].sort();
}

/**
 * Type-check the processor of the personality in `folder` (`scripts/processor.ts` and the folder's other
 * sources) against this host's `lollms-host/plugin-api`. Resolves with the diagnostics of the folder's files,
 * or `skipped` when no TypeScript compiler is installed.
 */
export async function typeCheckProcessor(folder: string, options: TypeCheckOptions = {}): Promise<TypeCheckResult> {
  const tsc = resolveTsc();
  if (tsc === undefined) return { diagnostics: [], omitted: 0, skipped: 'no TypeScript compiler was found (the typescript package is not installed next to lollms-host)' };
  const root = await realpath(resolve(folder));
  const sources = await processorSources(root);
  const api = await pluginApiFiles();
  const work = await mkdtemp(join(tmpdir(), 'lollms-typecheck-'));
  try {
    const config = {
      compilerOptions: {
        ...PROCESSOR_COMPILER_OPTIONS,
        types: [],
        noResolve: true,
        paths: { 'lollms-host/plugin-api': [api.entry] },
      },
      files: [...sources, ...api.files, join(PACKAGE_ROOT, 'plugin-api', 'sandbox-globals.d.ts')],
    };
    const project = join(work, 'tsconfig.json');
    await writeFile(project, JSON.stringify(config));
    const output = await runTsc(tsc, project, root, options);
    const all = parseDiagnostics(output, root);
    // Only the folder's own files (or no file: a problem of the options) are the author's concern.
    const mine = all.filter((d) => d.file === undefined || !d.file.startsWith('../'));
    return { diagnostics: mine.slice(0, MAX_DIAGNOSTICS), omitted: Math.max(0, mine.length - MAX_DIAGNOSTICS) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Run tsc on `project` from `cwd`; resolves with its output (capped), whatever its exit code. */
function runTsc(tsc: string, project: string, cwd: string, options: TypeCheckOptions): Promise<string> {
  return new Promise((resolveRun, reject) => {
    options.signal?.throwIfAborted();
    const env: NodeJS.ProcessEnv = {};
    for (const key of ['PATH', 'TMPDIR', 'TMP', 'TEMP', 'SYSTEMROOT', 'LANG']) if (process.env[key] !== undefined) env[key] = process.env[key];
    const child = spawn(process.execPath, [tsc, '--project', project, '--pretty', 'false'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    if (options.background && child.pid !== undefined) {
      try {
        setPriority(child.pid, 10);
      } catch {
        // not permitted here: it runs at normal priority
      }
    }
    let output = '';
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT_BYTES) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    timer.unref();
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) reject(options.signal.reason);
      else if (signal !== null) reject(new Error(`the TypeScript compiler was stopped (${signal}) after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`));
      else if (code !== 0 && code !== 1 && code !== 2) reject(new Error(`the TypeScript compiler failed (exit code ${String(code)}): ${output.slice(0, 500)}`));
      else resolveRun(output);
    });
  });
}

/**
 * tsc's `--pretty false` output: `file(line,col): error TS2322: message`, continuation lines indented, and
 * `error TS5023: message` for a diagnostic of no file. Paths become relative to `root` (`../` when outside).
 */
export function parseDiagnostics(output: string, root: string): TypeDiagnostic[] {
  const diagnostics: TypeDiagnostic[] = [];
  const located = /^(.+?)\((\d+),(\d+)\): (error|warning|message) (TS\d+): (.*)$/;
  const global = /^(error|warning|message) (TS\d+): (.*)$/;
  for (const line of output.split(/\r?\n/)) {
    const at = located.exec(line);
    const bare = at ? null : global.exec(line);
    if (at) {
      const file = relative(root, resolve(root, at[1]!)).split(sep).join('/');
      diagnostics.push({ file, line: Number(at[2]), column: Number(at[3]), category: at[4] as TypeDiagnostic['category'], code: at[5]!, message: at[6]! });
    } else if (bare) {
      diagnostics.push({ category: bare[1] as TypeDiagnostic['category'], code: bare[2]!, message: bare[3]! });
    } else if (/^\s+\S/.test(line) && diagnostics.length > 0) {
      diagnostics[diagnostics.length - 1]!.message += `\n${line}`;
    }
  }
  return diagnostics;
}

/** A compiler diagnostic as a plugin problem. */
export function typeProblem(diagnostic: TypeDiagnostic): PluginProblem {
  const problem: PluginProblem = { message: diagnostic.message, code: diagnostic.code };
  if (diagnostic.file !== undefined) problem.file = diagnostic.file;
  if (diagnostic.line !== undefined) problem.line = diagnostic.line;
  if (diagnostic.column !== undefined) problem.column = diagnostic.column;
  return problem;
}
