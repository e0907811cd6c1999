import type { Message } from 'esbuild';
import { relative } from 'node:path';

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
