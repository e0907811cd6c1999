/**
 * Resolve a client-supplied relative path inside a root folder without ever leaving it. Used for
 * `add_personality {path}`, the personality asset route and anything else that turns wire input into a path.
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative as relativePath, sep, win32 } from 'node:path';
import { PathNotFound, PathOutsideRoot } from '../errors.js';

export interface ResolveInsideOptions {
  /**
   * Require the target to exist (default `true`; a missing target is a `PathNotFound` error). With `false`
   * the deepest existing ancestor is checked instead and the path below it is returned as is (for writes).
   */
  mustExist?: boolean;
}

/**
 * Split a relative path into its segments, refusing every form that could name something outside the root
 * or mean different things on different systems: NUL bytes, absolute paths (POSIX or Windows, drive letters
 * included), backslashes, and empty, `.` or `..` segments. `''` is the root itself (no segments).
 */
export function splitRelativePath(relative: string): string[] {
  const refuse = (why: string) => PathOutsideRoot(`path ${JSON.stringify(relative)} refused: ${why}`);
  if (relative.includes('\0')) throw refuse('it contains a NUL byte');
  if (isAbsolute(relative) || win32.isAbsolute(relative) || /^[A-Za-z]:/.test(relative)) throw refuse('it is absolute');
  // A backslash is a separator on Windows and an ordinary character here: refuse it so both agree.
  if (relative.includes('\\')) throw refuse('it contains a backslash');
  if (relative === '') return [];
  const segments = relative.split('/');
  for (const segment of segments) {
    if (segment === '') throw refuse('it has an empty segment');
    if (segment === '.' || segment === '..') throw refuse(`it has a "${segment}" segment`);
  }
  return segments;
}

/** Whether `candidate` is `root` or below it (both absolute and already resolved). */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const rel = relativePath(root, candidate);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The real path of `relative` inside `root`. The path is checked lexically first (see `splitRelativePath`),
 * then by `realpath`, so a symlink anywhere along the way that points outside `root` is refused too.
 * Throws `PathOutsideRoot` for an escape and `PathNotFound` when the root (or, by default, the target) is missing.
 */
export async function resolveInside(root: string, relative: string, options: ResolveInsideOptions = {}): Promise<string> {
  const segments = splitRelativePath(relative);
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    if (isMissing(error)) throw PathNotFound(`folder ${root} does not exist`, { cause: error });
    throw error;
  }
  const mustExist = options.mustExist ?? true;
  // Walk up from the target to the deepest part that exists; only that part can hold symlinks.
  for (let keep = segments.length; keep >= 0; keep--) {
    let real: string;
    try {
      real = await realpath(join(realRoot, ...segments.slice(0, keep)));
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (mustExist) throw PathNotFound(`${relative} does not exist in ${root}`, { cause: error });
      continue;
    }
    if (!isInside(realRoot, real)) throw PathOutsideRoot(`path ${JSON.stringify(relative)} refused: it leads outside ${root}`);
    const rest = segments.slice(keep);
    return rest.length === 0 ? real : real + sep + rest.join(sep);
  }
  // Unreachable: keep = 0 is the root itself, which exists.
  throw PathNotFound(`${relative} does not exist in ${root}`);
}
