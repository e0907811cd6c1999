/**
 * Guest stack traces, mapped back to the processor author's TypeScript.
 *
 * A processor runs as one esbuild bundle; V8 reports its frames against that bundle
 * (`file:///personalities/<name>/scripts/processor.js:35:20`). `GuestErrorLocator` turns such a stack into the
 * author's own frames (`at titleOf (scripts/util.ts:2:20)`) through the bundle's source map, made by
 * `compileProcessor`.
 *
 * The stack text is untrusted: the guest may throw any object, define `stack` as it likes or set
 * `Error.prepareStackTrace`. So the text is only searched for frames that name the bundle's own script; each
 * such frame contributes its line and column, which are looked up in the host-made map, and a function name
 * cut to a safe length and alphabet. The output holds only source names of that map (relative to the
 * personality folder), numbers and those names: nothing the guest writes can make it read a file, name a
 * host path or grow past a few kilobytes. Frames of plugin-api (the map's `ignoreList`), of the bootstrap and
 * of the host are left out, so the stack shows the author's code only. Mapping runs in the sandbox process,
 * outside the isolate, in host code.
 */
import { isIgnored, originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import { wrapGuestBundle } from './bootstrap.js';
import type { GuestError } from './errors.js';

/** The script name a processor bundle is compiled under in its isolate: what its stack frames show. */
export function bundleFilename(name: string): string {
  return `file:///personalities/${encodeURIComponent(name)}/scripts/processor.js`;
}

/** Lines `wrapGuestBundle` puts before the bundle's first line. */
const WRAPPER_LINES = wrapGuestBundle('\u0000').split('\n').findIndex((line) => line.includes('\u0000'));
/** Frames kept in a mapped stack (V8's own default limit is 10). */
const MAX_FRAMES = 12;
/** Lines of the guest's stack text looked at. */
const MAX_STACK_LINES = 200;
/** Longest function name kept from a frame. */
const MAX_NAME = 120;

/** One frame of the author's code. */
export interface AuthorFrame {
  /** The function, as V8 named it (`titleOf`, `async runWorkflow`, `Object.runWorkflow`), when it had one. */
  fn?: string;
  /** Relative to the personality folder, with `/`: `scripts/util.ts`. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface GuestErrorLocatorOptions {
  /** The bundle's source map (`CompiledProcessor.sourceMap`); without one, no frame can be located. */
  sourceMap?: string;
  /** The bundle's script name in the isolate (`bundleFilename(name)`). */
  filename: string;
}

/**
 * Maps guest error stacks of one processor bundle to the author's files. The map is parsed on first use and
 * kept; a map that does not parse locates nothing (the error is still reported, without a place).
 */
export class GuestErrorLocator {
  readonly #json: string | undefined;
  readonly #framePattern: RegExp;
  #map: TraceMap | null | undefined;

  constructor(options: GuestErrorLocatorOptions) {
    this.#json = options.sourceMap;
    const file = options.filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // `at name (FILE:L:C)`, `at FILE:L:C`, `at async name (FILE:L:C)`: only frames of the bundle.
    this.#framePattern = new RegExp(`^\\s*at (?:(.{1,${MAX_NAME * 4}}?) \\()?${file}:(\\d{1,9}):(\\d{1,9})\\)?\\s*$`);
  }

  /** The author's frames in `stack` (an untrusted text), innermost first, at most `MAX_FRAMES`. */
  frames(stack: string | undefined): AuthorFrame[] {
    const map = this.#traceMap();
    if (!map || !stack) return [];
    const frames: AuthorFrame[] = [];
    const lines = stack.split('\n', MAX_STACK_LINES);
    for (const text of lines) {
      if (frames.length >= MAX_FRAMES) break;
      const match = this.#framePattern.exec(text);
      if (!match) continue;
      const line = Number(match[2]) - WRAPPER_LINES;
      const column = Number(match[3]) - 1;
      if (line < 1 || column < 0) continue;
      const original = originalPositionFor(map, { line, column });
      if (original.source === null || isIgnored(map, original.source)) continue;
      const frame: AuthorFrame = { file: original.source, line: original.line, column: original.column + 1 };
      const fn = safeName(match[1]);
      if (fn) frame.fn = fn;
      frames.push(frame);
    }
    return frames;
  }

  /**
   * `guest` with its place in the author's code: `file`, `line`, `column` of the innermost author frame, and a
   * `stack` of the author's frames only (`TypeError: msg\n    at titleOf (scripts/util.ts:2:20)`). Without an
   * author frame, the stack is only its first line: nothing of the bundle, the bootstrap or the host remains.
   */
  locate(guest: GuestError): GuestError {
    const frames = this.frames(guest.stack);
    const located: GuestError = { name: guest.name, message: guest.message };
    if (guest.code !== undefined) located.code = guest.code;
    const head = `${guest.name}: ${guest.message}`;
    located.stack = [head, ...frames.map(formatFrame)].join('\n');
    const top = frames[0];
    if (top) {
      located.file = top.file;
      located.line = top.line;
      located.column = top.column;
    }
    return located;
  }

  #traceMap(): TraceMap | null {
    if (this.#map === undefined) {
      try {
        this.#map = this.#json === undefined ? null : new TraceMap(this.#json);
      } catch {
        this.#map = null;
      }
    }
    return this.#map;
  }
}

/** `    at fn (file:line:column)`, as V8 prints a frame. */
export function formatFrame(frame: AuthorFrame): string {
  const where = `${frame.file}:${frame.line}:${frame.column}`;
  return frame.fn ? `    at ${frame.fn} (${where})` : `    at ${where}`;
}

/** A frame's function name when it looks like one V8 prints (identifiers, dots, `async `, `new `, `[as x]`, `<anonymous>`). */
function safeName(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length > MAX_NAME) return undefined;
  return /^[\p{L}\p{N}_$.<>[\] ]+$/u.test(raw) ? raw : undefined;
}
