/**
 * A nesting check run on every plugin source before esbuild sees it. esbuild parses recursively: a file of
 * megabytes of nested brackets (`[[[[...]]]]` in a .json, `((((...))))` in a .ts) overflows its stack, the
 * whole esbuild service process dies, and every later compile of every plugin fails until it is restarted.
 * Real code and data nest a few dozen levels; this refuses sources past `MAX_NESTING` with a clear error.
 */

/** Deepest bracket nesting accepted in a plugin source file (not configurable). */
export const MAX_NESTING = 1000;

/** Words after which a `/` starts a regular expression, not a division. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await']);
const PUNCT_BEFORE_REGEX = new Set([...'(,=:[!&|?{};+-*%<>~^']);

/** Where a source nests too deeply: the 1-based line and the depth reached. */
export interface NestingProblem {
  line: number;
  depth: number;
}

/**
 * The first place `source` nests brackets (`(`, `[`, `{`, template `${`) deeper than `max`, or undefined. A
 * lexer that knows strings, template literals, comments and regular expressions, so brackets inside them do not
 * count; for JSON only strings matter. Linear in the size of the source.
 */
export function findDeepNesting(source: string, max = MAX_NESTING): NestingProblem | undefined {
  let depth = 0;
  let line = 1;
  // Template literals can nest: each open `${` remembers the depth at which its `}` returns to the template.
  const templates: number[] = [];
  let lastSignificant = '';
  let lastWord = '';
  let i = 0;
  const n = source.length;
  const open = (): NestingProblem | undefined => {
    depth++;
    return depth > max ? { line, depth } : undefined;
  };
  const skipString = (quote: string) => {
    i++;
    while (i < n && source[i] !== quote) {
      if (source[i] === '\\') i++;
      else if (source[i] === '\n') line++;
      i++;
    }
    i++;
  };
  /** Scan template text from `i` (after a backtick or a closing `}`) to its end or its next `${`. */
  const scanTemplate = (): 'end' | 'expr' => {
    while (i < n) {
      const c = source[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        i++;
        return 'end';
      } else if (c === '$' && source[i + 1] === '{') {
        i += 2;
        return 'expr';
      } else {
        if (c === '\n') line++;
        i++;
      }
    }
    return 'end';
  };
  const enterTemplate = (): NestingProblem | undefined => {
    if (scanTemplate() === 'expr') {
      templates.push(depth);
      return open();
    }
    lastSignificant = '`';
    return undefined;
  };
  while (i < n) {
    const c = source[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      skipString(c);
      lastSignificant = c;
      lastWord = '';
      continue;
    }
    if (c === '`') {
      i++;
      const problem = enterTemplate();
      if (problem) return problem;
      lastWord = '';
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      i += 2;
      while (i < n && !(source[i] === '*' && source[i + 1] === '/')) {
        if (source[i] === '\n') line++;
        i++;
      }
      i += 2;
      continue;
    }
    if (c === '/' && (lastSignificant === '' || PUNCT_BEFORE_REGEX.has(lastSignificant) || BEFORE_REGEX.has(lastWord))) {
      // A regular expression literal: skip it, with its character classes and escapes.
      i++;
      let inClass = false;
      while (i < n && source[i] !== '\n') {
        const r = source[i];
        if (r === '\\') i++;
        else if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        i++;
      }
      i++;
      lastSignificant = '/';
      lastWord = '';
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      const problem = open();
      if (problem) return problem;
    } else if (c === ')' || c === ']' || c === '}') {
      if (c === '}' && templates.length > 0 && templates[templates.length - 1] === depth - 1) {
        templates.pop();
        depth--;
        i++;
        const problem = enterTemplate();
        if (problem) return problem;
        lastWord = '';
        continue;
      }
      depth = Math.max(0, depth - 1);
    }
    if (isIdentifierChar(source.charCodeAt(i))) {
      let j = i;
      while (j < n && isIdentifierChar(source.charCodeAt(j))) j++;
      lastWord = source.slice(i, j);
      lastSignificant = 'a';
      i = j;
      continue;
    }
    lastSignificant = c;
    lastWord = '';
    i++;
  }
  return undefined;
}

/** `[A-Za-z0-9_$]` by char code (this runs once per character of up to 16 MiB of sources). */
function isIdentifierChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 36;
}
