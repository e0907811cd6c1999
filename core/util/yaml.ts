/**
 * The host's one YAML reader, for every YAML file it parses with locations: its own `config.yaml`, a
 * personality's `config.yaml` and a binding's `binding_card.yaml` / `models.yaml`. Errors name the file, line and
 * column; `positionOf` finds where a key was written, for errors found after parsing (a wrong type).
 *
 * `pyyaml: true` reads a file the way the original lollms did (PyYAML, YAML 1.1): `yes`/`no`/`on`/`off` are
 * booleans, a later duplicate key wins, and two things PyYAML accepts that YAML 1.2 does not are read with
 * PyYAML's values and reported as `oddities` (see `indentFlowContinuations` and `block scalar at the end`).
 */
import YAML, { LineCounter, isMap, isScalar, isSeq, visit, type Document, type Node, type ScalarTag } from 'yaml';
import type { LollmsHostError } from '../errors.js';

/** 1-based line and column in the file. */
export interface YamlPosition {
  line: number;
  column: number;
}

/** Something read in a way a reader should know about (a PyYAML-only construct), with where it is. */
export interface YamlOddity extends YamlPosition {
  message: string;
}

/** The coded error a caller raises for a syntax error (`ConfigSyntax`, `PluginManifest`, ...). */
export type YamlErrorFactory = (message: string, options: { file: string; line?: number; column?: number; cause?: unknown }) => LollmsHostError;

export interface ParseYamlOptions {
  /** The file's path, for messages and error locations. */
  file: string;
  /** Makes the error thrown for a syntax error. */
  syntaxError: YamlErrorFactory;
  /** How the message reads, from `where` (`file:line:column`) and the parser's reason. Default `<where>: YAML syntax error: <reason>`. */
  describe?: (where: string, reason: string) => string;
  /** Read as PyYAML does (see the module comment). Default false: YAML 1.2, unique keys. */
  pyyaml?: boolean;
}

/** A parsed YAML file. */
export interface ParsedYaml {
  /** The document, for callers that edit and write it back (comments kept). */
  readonly document: Document;
  /** The contents as plain data (`null` for an empty file). */
  readonly value: unknown;
  /** Where the value at `path` was written: the key's position for a mapping entry, the item's for a list. */
  positionOf(path: readonly (string | number)[]): YamlPosition | undefined;
  /** PyYAML-only constructs that were read anyway (empty unless `pyyaml`). */
  readonly oddities: readonly YamlOddity[];
}

/** `file:line:column`, or less when the position is unknown. */
export function formatLocation(file: string, position?: Partial<YamlPosition>): string {
  if (position?.line === undefined) return file;
  return `${file}:${position.line}${position.column === undefined ? '' : `:${position.column}`}`;
}

/**
 * PyYAML's YAML 1.1 booleans. The `yaml` package's own 1.1 schema goes further than PyYAML (`y`/`n`,
 * timestamps), so the 1.2 core schema plus exactly these is closer to what the original read.
 */
const PYYAML_BOOL: ScalarTag = {
  identify: (value) => typeof value === 'boolean',
  default: true,
  tag: 'tag:yaml.org,2002:bool',
  test: /^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$/,
  resolve: (source) => /^(?:yes|on)$/i.test(source),
};

function parseDocument(text: string, pyyaml: boolean, lineCounter: LineCounter): Document {
  return YAML.parseDocument(text, {
    prettyErrors: true,
    lineCounter,
    // PyYAML lets a later duplicate key win, and real zoo files have duplicates.
    ...(pyyaml ? { uniqueKeys: false, customTags: [PYYAML_BOOL] } : {}),
  });
}

/**
 * Parse `text`. Throws `options.syntaxError(...)` naming the file, line and column of the first error.
 * With `pyyaml`, a file that YAML 1.2 rejects only because of a PyYAML-only construct is read with PyYAML's
 * values instead, and each such construct is listed in `oddities`.
 */
export function parseYaml(text: string, options: ParseYamlOptions): ParsedYaml {
  const pyyaml = options.pyyaml ?? false;
  let lineCounter = new LineCounter();
  let document = parseDocument(text, pyyaml, lineCounter);
  const oddities: YamlOddity[] = [];
  if (document.errors.length > 0 && pyyaml) {
    const fixed = indentFlowContinuations(text);
    if (fixed.lines.length > 0) {
      const retryCounter = new LineCounter();
      const retry = parseDocument(fixed.text, true, retryCounter);
      if (retry.errors.length === 0) {
        document = retry;
        lineCounter = retryCounter;
        for (const line of fixed.lines) {
          oddities.push({
            line,
            column: 1,
            message: 'a quoted value or [list] continues on a line indented no deeper than its key; YAML 1.2 rejects this, PyYAML (the original) reads it, and so does this host. Indent the line to silence this warning.',
          });
        }
      }
    }
  }
  const error = document.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    const position = pos ? { line: pos.line, column: pos.col } : undefined;
    const reason = error.message.split('\n')[0] ?? error.message;
    const where = formatLocation(options.file, position);
    const describe = options.describe ?? ((w: string, r: string) => `${w}: YAML syntax error: ${r}`);
    throw options.syntaxError(describe(where, reason), { file: options.file, ...(position ?? {}), cause: error });
  }
  if (pyyaml) oddities.push(...chompFinalBlockScalar(document, text, lineCounter));
  const value: unknown = document.toJS();
  const counter = lineCounter;
  return {
    document,
    value,
    oddities,
    positionOf(path) {
      const node = nodeAt(document, path);
      if (!node?.range) return undefined;
      const pos = counter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    },
  };
}

/** The node written for `path` (for a mapping entry its key; the last of duplicate keys, which wins). */
function nodeAt(document: Document, path: readonly (string | number)[]): Node | undefined {
  let node: unknown = document.contents;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.findLast((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return undefined;
      if (last) return pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      return undefined;
    }
  }
  return node as Node | undefined;
}

/**
 * PyYAML leaves the last line break out of a block scalar (`|`, `>`) that ends the file without one; the `yaml`
 * package adds it. Strip it again, so that values match the original.
 */
function chompFinalBlockScalar(document: Document, text: string, lineCounter: LineCounter): YamlOddity[] {
  if (text.endsWith('\n') || text.endsWith('\r')) return [];
  const lastLine = text.slice(text.lastIndexOf('\n') + 1);
  if (lastLine.trim() === '') return [];
  const found: YamlOddity[] = [];
  visit(document, {
    Scalar(_key, node) {
      if ((node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') && node.range && node.range[1] >= text.length && typeof node.value === 'string' && node.value.endsWith('\n')) {
        node.value = node.value.slice(0, -1);
        const pos = lineCounter.linePos(node.range[0]);
        found.push({ line: pos.line, column: pos.col, message: 'the file ends inside a block scalar without a final line break; read as PyYAML does (no trailing line break)' });
      }
    },
  });
  return found;
}

/**
 * The PyYAML oddity the original zoo relies on: a quoted value or a flow collection (`[...]`, `{...}`) that starts
 * as a block value and continues on lines indented no deeper than its key, as in
 *
 *     link_text: '
 *     '
 *
 * PyYAML ignores indentation inside flow scalars and collections and reads `' '` here; YAML 1.2 requires those
 * continuation lines to be indented deeper than the key, so the `yaml` package rejects the file. This pre-pass
 * indents such lines by just enough. That keeps every value: leading white space of a continuation line is not
 * part of a flow scalar (line folding), nor meaningful between flow collection entries. Lines inside block
 * scalars are left alone. Returns the text and the 1-based numbers of the lines it changed.
 */
export function indentFlowContinuations(text: string): { text: string; lines: number[] } {
  const lines = text.split(/(?<=\n)/);
  const changed: number[] = [];
  // Scanner state carried across lines.
  let quote: "'" | '"' | undefined;
  let flowDepth = 0;
  let flowNodeStart = false;
  let required = 0;
  let blockScalarParent: number | undefined;

  const indentOf = (line: string) => line.length - line.replace(/^ +/, '').length;
  const isBlank = (line: string) => /^[ \t]*\r?\n?$/.test(line);

  /** Scan a quoted scalar from `i` (after the opening quote); returns the index after the closing quote, or -1. */
  const scanQuoted = (line: string, i: number): number => {
    for (; i < line.length; i++) {
      const ch = line[i];
      if (quote === "'" && ch === "'") {
        if (line[i + 1] === "'") {
          i++;
          continue;
        }
        quote = undefined;
        return i + 1;
      }
      if (quote === '"') {
        if (ch === '\\') {
          i++;
          continue;
        }
        if (ch === '"') {
          quote = undefined;
          return i + 1;
        }
      }
    }
    return -1;
  };

  /** Scan flow content from `i`; returns the index after the collection closed, or -1 when it goes on. */
  const scanFlow = (line: string, i: number): number => {
    while (i < line.length) {
      if (quote) {
        const end = scanQuoted(line, i);
        if (end < 0) return -1;
        i = end;
        flowNodeStart = false;
        continue;
      }
      const ch = line[i]!;
      if (ch === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) return -1;
      if (ch === '[' || ch === '{') {
        flowDepth++;
        flowNodeStart = true;
      } else if (ch === ']' || ch === '}') {
        flowDepth--;
        flowNodeStart = false;
        if (flowDepth === 0) return i + 1;
      } else if (ch === ',' || ch === '?' || (ch === ':' && /[\s,\]}]/.test(line[i + 1] ?? ' '))) {
        flowNodeStart = true;
      } else if ((ch === "'" || ch === '"') && flowNodeStart) {
        quote = ch;
      } else if (ch !== ' ' && ch !== '\t' && ch !== '\r' && ch !== '\n') {
        flowNodeStart = false;
      }
      i++;
    }
    return -1;
  };

  /** Scan a line in block context from its first non-space character. */
  const scanBlockLine = (line: string): void => {
    let i = indentOf(line);
    let nodeColumn = i;
    const skipSpaces = () => {
      while (line[i] === ' ' || line[i] === '\t') i++;
    };
    while (i < line.length) {
      const ch = line[i]!;
      const next = line[i + 1] ?? '\n';
      const endsToken = /\s/.test(next);
      if ((ch === '-' || ch === '?') && endsToken) {
        nodeColumn = i;
        i++;
        skipSpaces();
        continue;
      }
      if (ch === '#' || ch === '\r' || ch === '\n') return;
      if (ch === '&' || ch === '!') {
        while (i < line.length && !/\s/.test(line[i]!)) i++;
        skipSpaces();
        continue;
      }
      if (ch === '|' || ch === '>') {
        blockScalarParent = nodeColumn;
        return;
      }
      const start = i;
      if (ch === "'" || ch === '"') {
        quote = ch;
        const end = scanQuoted(line, i + 1);
        if (end < 0) {
          required = nodeColumn + 1;
          return;
        }
        i = end;
        skipSpaces();
        if (line[i] === ':' && /\s/.test(line[i + 1] ?? '\n')) {
          nodeColumn = start;
          i++;
          skipSpaces();
          continue;
        }
        return;
      }
      if (ch === '[' || ch === '{') {
        flowDepth = 0;
        flowNodeStart = false;
        if (scanFlow(line, i) < 0) required = nodeColumn + 1;
        return;
      }
      // A plain scalar: a key when `: ` follows, else a value that ends the interesting part of the line.
      const colon = line.slice(i).search(/:(?=\s)| #/);
      if (colon < 0 || line[i + colon] !== ':') return;
      nodeColumn = start;
      i += colon + 1;
      skipSpaces();
    }
  };

  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (blockScalarParent !== undefined) {
      if (isBlank(line) || indentOf(line) > blockScalarParent) continue;
      blockScalarParent = undefined;
    }
    if (quote || flowDepth > 0) {
      if (!isBlank(line) && indentOf(line) < required) {
        line = ' '.repeat(required - indentOf(line)) + line;
        lines[n] = line;
        changed.push(n + 1);
      }
      if (flowDepth > 0) {
        scanFlow(line, 0);
      } else if (quote) {
        const end = scanQuoted(line, 0);
        // The block value ended on this line; what follows (a comment) does not matter.
        if (end >= 0) continue;
      }
      continue;
    }
    if (isBlank(line)) continue;
    scanBlockLine(line);
  }
  return { text: lines.join(''), lines: changed };
}
