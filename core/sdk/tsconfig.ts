/**
 * The `tsconfig.json` of a new plugin, completed for the folder it lands in, so that editors and `tsc` work
 * there at once. The template resolves `lollms-host/plugin-api` (and a binding's `node-llama-cpp` and Node
 * types) the way a project that installed lollms-host does, through node_modules. Where the folder cannot
 * resolve one of them (a zoo outside any project, a binding folder whose project has no `@types/node`), the
 * config gets `paths`, `files` or `typeRoots` pointing at this lollms-host's own copies, relative to the folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { PACKAGE_ROOT } from '../util/package-root.js';

interface TsConfig {
  compilerOptions?: { types?: string[]; paths?: Record<string, string[]>; typeRoots?: string[]; [key: string]: unknown };
  files?: string[];
  include?: string[];
  [key: string]: unknown;
}

/** The types entry of the sandbox's globals (`console`), a type library of the lollms-host package. */
const SANDBOX_GLOBALS = 'lollms-host/sandbox-globals';

/**
 * `template` (a tsconfig.json text) completed for `folder`: `lollms-host`, the type libraries its options name
 * and `hostModules` (packages the plugin imports that lollms-host provides, e.g. a binding's `node-llama-cpp`)
 * resolve from there. Returned as it was when nothing is missing.
 */
export function tsconfigFor(template: string, folder: string, hostModules: readonly string[] = []): string {
  const config = JSON.parse(template) as TsConfig;
  const options = (config.compilerOptions ??= {});
  const toFolder = (file: string) => {
    const rel = relative(folder, file).split(sep).join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  let changed = false;
  if (!packageResolves(folder, 'lollms-host')) {
    options.paths = { ...options.paths, 'lollms-host/plugin-api': [toFolder(join(PACKAGE_ROOT, 'plugin-api', 'index.ts'))] };
    if (options.types?.includes(SANDBOX_GLOBALS)) {
      // `paths` does not apply to `types`: name the file itself.
      options.types = options.types.filter((t) => t !== SANDBOX_GLOBALS);
      config.files = [...(config.files ?? []), toFolder(join(PACKAGE_ROOT, 'plugin-api', 'sandbox-globals.d.ts'))];
    }
    changed = true;
  }
  for (const name of hostModules) {
    const copy = hostPackage(name);
    if (copy && !packageResolves(folder, name)) {
      options.paths = { ...options.paths, [name]: [toFolder(copy.types)] };
      changed = true;
    }
  }
  const nodeTypes = hostPackage('@types/node');
  if (options.types?.includes('node') && nodeTypes && !packageResolves(folder, '@types/node')) {
    options.typeRoots = [toFolder(dirname(nodeTypes.dir))];
    changed = true;
  }
  return changed ? `${formatJson(config)}\n` : template;
}

/** Whether `name` resolves from `folder` as a bundler does: node_modules up the tree, or the project itself. */
function packageResolves(folder: string, name: string): boolean {
  for (let dir = folder; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', ...name.split('/'), 'package.json'))) return true;
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === name) return true;
      } catch {
        // not a package manifest we can read
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/** This lollms-host's copy of a package: its folder and its type entry (found by node's lookup, not `exports`). */
function hostPackage(name: string): { dir: string; types: string } | undefined {
  const lookup = createRequire(join(PACKAGE_ROOT, 'package.json')).resolve.paths(name) ?? [];
  for (const base of lookup) {
    const manifest = join(base, ...name.split('/'), 'package.json');
    if (!existsSync(manifest)) continue;
    try {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { types?: string; typings?: string };
      return { dir: dirname(manifest), types: join(dirname(manifest), pkg.types ?? pkg.typings ?? 'index.d.ts') };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** JSON with 2-space indents, short lists of strings on one line (as the templates are written). */
function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s*((?:"[^"\n]*"\s*,?\s*)+)\]/g, (_match, items: string) => `[${items.split(/",\s*"/).join('", "').trim()}]`);
}
