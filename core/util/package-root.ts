import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  // Walk up from this module: it runs from core/ under tsx and from dist/core/ when built.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'lollms-host') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('lollms-host: cannot find the package root');
    dir = parent;
  }
}

/** The lollms-host package folder (holds the built-in plugins/ and personalities/). */
export const PACKAGE_ROOT = findRoot();

/** The package version, for `--version` and `/get_server_ifos`. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const BUILTIN_BINDINGS_PATH = join(PACKAGE_ROOT, 'plugins');
export const BUILTIN_PERSONALITIES_PATH = join(PACKAGE_ROOT, 'personalities');
