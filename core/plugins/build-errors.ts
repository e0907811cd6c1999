import { codeFrameColumns } from '@babel/code-frame';
import type { Message } from 'esbuild';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { errorMessage, LollmsHostError } from '../errors.js';

/** A compile problem with its place in the source, as a compiler prints it. */
export interface SourceLocationError {
  message: string;
  /** Absolute path of the file, when known. */
  file?: string;
  /** 1-based line. */
  line?: number;
  /** 1-based column. */
  column?: number;
}

/**
 * A problem of a plugin as `plugin_error`, `plugin_warning` and `lollms-host check` show it: `file` relative to
 * the plugin's folder, and a code frame when the file is there to read.
 */
export interface PluginProblem {
  message: string;
  /** Relative to the plugin's folder, with `/`. */
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
  /** A few numbered lines around the place, a caret under its column. */
  frame?: string;
  /** The tool's own code of the problem, e.g. `TS2322`. */
  code?: string;
}

/**
 * The problem of a failed (re)load of the plugin in `folder`: the error's message and, for a coded error with
 * a place (a build error, a located processor fault), the file relative to `folder` and its code frame. A
 * place outside the folder is left out, so nothing names a host path.
 */
export async function problemOf(error: unknown, folder: string): Promise<PluginProblem> {
  const problem: PluginProblem = { message: errorMessage(error) };
  if (!(error instanceof LollmsHostError) || error.file === undefined) return problem;
  const file = relativeInside(folder, error.file);
  if (file === undefined) return problem;
  problem.file = file;
  if (error.line !== undefined) problem.line = error.line;
  if (error.column !== undefined) problem.column = error.column;
  if (error.line !== undefined) {
    const frame = await readCodeFrame(folder, file, error.line, error.column);
    if (frame !== undefined) problem.frame = frame;
  }
  return problem;
}

/** The problem with its code frame read from `folder`, when it has a place and none yet. */
export async function withFrame(problem: PluginProblem, folder: string): Promise<PluginProblem> {
  if (problem.frame !== undefined || problem.file === undefined || problem.line === undefined) return problem;
  const frame = await readCodeFrame(folder, problem.file, problem.line, problem.column);
  return frame === undefined ? problem : { ...problem, frame };
}

/** esbuild's first error as `{message, file, line, column}` (esbuild columns are 0-based). */
export function fromEsbuildMessage(message: Message, cwd: string): SourceLocationError {
  const loc = message.location;
  if (!loc) return { message: message.text };
  return {
    message: message.text,
    file: loc.file.startsWith('/') ? loc.file : `${cwd}/${loc.file}`,
    line: loc.line,
    column: loc.column + 1,
  };
}

/** `file:line:column: message`, with the file relative to `base` when it is inside it. */
export function formatLocation(error: SourceLocationError, base?: string): string {
  let where = error.file ?? '';
  if (where && base) {
    const rel = relative(base, where);
    if (!rel.startsWith('..')) where = rel;
  }
  if (where && error.line !== undefined) where += `:${error.line}`;
  if (where && error.column !== undefined) where += `:${error.column}`;
  return where ? `${where}: ${error.message}` : error.message;
}

/** `file` relative to `folder` with `/`, or undefined when it is not inside it. */
export function relativeInside(folder: string, file: string): string | undefined {
  const rel = relative(folder, isAbsolute(file) ? file : join(folder, file));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** Lines shown above and below the error in a code frame. */
const FRAME_CONTEXT = 2;
/** Longest source line shown in full in a frame; longer ones (minified code) are not framed. */
const MAX_FRAME_LINE = 400;
/** Largest file a frame is read from. */
const MAX_FRAME_FILE_BYTES = 4 * 1024 * 1024;

/**
 * A code frame of `source` at `line`:`column` (1-based), as Vite's overlay and Babel show one: a few numbered
 * lines, `>` on the error's line and a caret under its column. Undefined when the line is not in the source or
 * too long to show.
 */
export function codeFrame(source: string, line: number, column = 1): string | undefined {
  const lines = source.split(/\r?\n/);
  const text = lines[line - 1];
  if (!Number.isInteger(line) || line < 1 || text === undefined) return undefined;
  const first = Math.max(0, line - 1 - FRAME_CONTEXT);
  const shown = lines.slice(first, line + FRAME_CONTEXT);
  if (shown.some((l) => l.length > MAX_FRAME_LINE)) return undefined;
  // Only the shown lines go to the formatter: the rest of the file never leaves this function. It puts the
  // caret after `column` characters of the line, so it takes the 0-based index.
  return codeFrameColumns(
    shown.join('\n'),
    { start: { line, column: Math.max(0, Math.min(column - 1, text.length)) } },
    { highlightCode: false, linesAbove: FRAME_CONTEXT, linesBelow: FRAME_CONTEXT, startLine: first + 1 },
  );
}

/**
 * The code frame of `file` (absolute, or relative to `folder`) at `line`:`column`, read only when the file
 * really is inside `folder` (symlinks resolved) and not larger than 4 MiB: a frame never shows a file from
 * outside the plugin. Undefined when it cannot be made.
 */
export async function readCodeFrame(folder: string, file: string, line: number, column?: number): Promise<string | undefined> {
  try {
    const realFolder = await realpath(folder);
    const real = await realpath(isAbsolute(file) ? file : join(folder, file));
    if (relativeInside(realFolder, real) === undefined) return undefined;
    const handle = await open(real, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.size > MAX_FRAME_FILE_BYTES) return undefined;
      return codeFrame(await handle.readFile('utf8'), line, column);
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}
