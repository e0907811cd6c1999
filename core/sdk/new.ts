/**
 * `lollms-host new personality|binding <name>`: a new plugin folder made from `sdk-templates/`.
 *
 * Templates are plain files. In text files, `{{name}}` (the display name), `{{folder}}` (the folder name),
 * `{{language}}`, `{{category}}` and `{{author}}` are replaced (other `{{...}}`, such as a conditioning's
 * `{{date}}`, are left alone), and a line that is only `// {{#processor}}` or `# {{#processor}}` ...
 * `{{/processor}}` opens and closes a section kept only with `--with-processor` (`{{^processor}}` for the
 * opposite). `__name__` in a file name becomes the folder name. The TypeScript templates are real
 * TypeScript, type-checked with the repository, so they cannot rot. A `tsconfig.json` is completed for the
 * folder it lands in (`tsconfigFor`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { CliUsage, ScaffoldExists, errorMessage } from '../errors.js';
import { FOLDER_NAME_PATTERN, folderNameFor } from '../personalities/folder-name.js';

export { ScaffoldExists };
import { PACKAGE_ROOT } from '../util/package-root.js';
import { tsconfigFor } from './tsconfig.js';

/** The folder `new` copies from. */
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'sdk-templates');

/** Names of bindings, languages, categories and folders: a letter or digit, then letters, digits, `_` and `-` (64 at most). */
export const NAME_PATTERN = FOLDER_NAME_PATTERN;

/**
 * Display names of personalities, as the zoo's (`"ascii artist"`, `"Chain Of Thoughts"`): a letter or digit,
 * then letters, digits, spaces and `_ - . , ' ( ) & + ! ?`, 64 characters at most. Their folder name is
 * derived (`folderNameFor`) unless `--folder` gives one.
 */
export const DISPLAY_NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} _.,'()&+!?-]{0,63}$/u;

/** The target folder exists and `--force` was not given. */

export type PluginKind = 'personality' | 'binding';

/** Options of `scaffold`. */
export interface ScaffoldOptions {
  kind: PluginKind;
  /**
   * The plugin's name. A binding's is its folder name (`NAME_PATTERN`); a personality's is its display name
   * (`DISPLAY_NAME_PATTERN`, spaces allowed); its folder name is the name when that is a valid folder name, else
   * derived from it (`folderNameFor`), unless `folder` is given.
   */
  name: string;
  /** Personality only: the folder name (`NAME_PATTERN`). Default: derived from `name` (`ascii artist` → `ascii_artist`). */
  folder?: string;
  /** The personalities path (personality) or bindings path (binding) to create it in. */
  dir: string;
  /** Personality only: language folder. Default `english`. */
  language?: string;
  /** Personality only: category folder. Default `custom`. */
  category?: string;
  /** Personality only: add `scripts/processor.ts` and `processor_cfg`. */
  withProcessor?: boolean;
  /** Write into an existing folder, replacing the template's files there (other files are kept). */
  force?: boolean;
  /** `author` of the config or card. Default the user's login name. */
  author?: string;
  /** Where the templates are. Default `TEMPLATES_DIR`. */
  templatesDir?: string;
}

/** What `scaffold` made. */
export interface ScaffoldResult {
  /** Absolute folder of the new plugin. */
  folder: string;
  /** Its folder name (the last segment of `folder`). */
  folderName: string;
  /** Files written, relative to `folder`, with `/`. */
  files: string[];
  /** Whether an existing folder was written into (`force`). */
  overwritten: boolean;
}

/** Extensions of the template files that are rendered; any other file is copied byte for byte. */
const TEXT_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.yaml', '.yml', '.md', '.json', '.txt'];
/**
 * Personality template paths that only `--with-processor` gets. The tsconfig.json too: it is for the
 * processor's TypeScript, and a project with no input is an error for tsc.
 */
const PROCESSOR_ONLY = ['scripts/', 'tsconfig.json'];

const SECTION = /^\s*(?:\/\/|#)\s*\{\{([#^/])(\w+)\}\}\s*$/;

/** Check a name; throws a usage error naming `what`. */
function checkName(what: string, value: string): void {
  if (!NAME_PATTERN.test(value)) {
    throw CliUsage(
      `invalid ${what} "${value}": use 1 to 64 letters, digits, "_" or "-", starting with a letter or digit (no spaces, dots or path separators)`,
    );
  }
}

function defaultAuthor(): string {
  try {
    const name = userInfo().username.replace(/[^\w .@-]/g, '').trim();
    return name || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Render one template text: sections first, then the known variables. */
export function renderTemplate(text: string, vars: Readonly<Record<string, string>>, flags: Readonly<Record<string, boolean>>, file = 'template'): string {
  const out: string[] = [];
  const stack: Array<{ flag: string; keep: boolean }> = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const marker = SECTION.exec(line);
    if (marker) {
      const [, sigil, flag = ''] = marker;
      if (sigil === '/') {
        const open = stack.pop();
        if (open?.flag !== flag) throw new Error(`${file}:${index + 1}: {{/${flag}}} closes ${open ? `{{#${open.flag}}}` : 'nothing'}`);
      } else {
        if (!(flag in flags)) throw new Error(`${file}:${index + 1}: unknown section flag "${flag}"`);
        stack.push({ flag, keep: sigil === '#' ? flags[flag] === true : flags[flag] !== true });
      }
      return;
    }
    if (stack.every((s) => s.keep)) out.push(line);
  });
  if (stack.length > 0) throw new Error(`${file}: section {{#${stack[stack.length - 1]!.flag}}} is not closed`);
  return out.join('\n').replace(/\{\{(\w+)\}\}/g, (match, key: string) => (Object.hasOwn(vars, key) ? vars[key]! : match));
}

/** Every file under `dir`, relative, with `/`, sorted. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) files.push(rel);
  }
  return files;
}

/**
 * Create a plugin folder from its template: `<dir>/<language>/<category>/<name>/` for a personality,
 * `<dir>/<name>/` for a binding. A new folder appears at once, complete (it is written under a dot name,
 * which the host's watcher ignores, then renamed). An existing folder is refused (`ScaffoldExists`) unless
 * `force`, which writes the template's files into it and keeps its other files.
 */
export async function scaffold(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const { kind, name } = options;
  const language = options.language ?? 'english';
  const category = options.category ?? 'custom';
  let folderName = name;
  if (kind === 'personality') {
    if (!DISPLAY_NAME_PATTERN.test(name) || name.trimEnd() !== name) {
      throw CliUsage(
        `invalid personality name "${name}": use 1 to 64 letters, digits, spaces or _ - . , ' ( ) & + ! ?, starting with a letter or digit`,
      );
    }
    // A name that already is a folder name is kept as written (`MyHelper`); others are derived (`ascii artist` → `ascii_artist`).
    folderName = options.folder ?? (NAME_PATTERN.test(name) ? name : folderNameFor(name));
    if (folderName === '') throw CliUsage(`personality name "${name}" gives no folder name: give one with --folder`);
    checkName('folder name', folderName);
    checkName('language', language);
    checkName('category', category);
  } else {
    if (options.folder !== undefined) throw CliUsage('--folder: only for new personality (a binding\'s folder is its name)');
    checkName(`${kind} name`, name);
  }
  const withProcessor = kind === 'personality' && options.withProcessor === true;
  const templateDir = join(options.templatesDir ?? TEMPLATES_DIR, kind);
  const root = resolve(options.dir);
  const folder = kind === 'personality' ? join(root, language, category, folderName) : join(root, folderName);

  const existing = await stat(folder).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw ScaffoldExists(`${folder} exists and is not a folder`);
  if (existing && !options.force) throw ScaffoldExists(`${folder} already exists; use --force to write the template's files into it`);

  const vars = { name, folder: folderName, language, category, author: options.author ?? defaultAuthor() };
  const flags = { processor: withProcessor };
  const files = (await listFiles(templateDir)).filter((f) => kind !== 'personality' || withProcessor || !PROCESSOR_ONLY.some((p) => f.startsWith(p)));

  const target = existing ? folder : join(dirname(folder), `.${folderName}.new-${randomBytes(4).toString('hex')}`);
  const written: string[] = [];
  try {
    for (const file of files) {
      const outRel = file.split('__name__').join(folderName);
      const out = join(target, ...outRel.split('/'));
      await mkdir(dirname(out), { recursive: true });
      const from = join(templateDir, ...file.split('/'));
      if (TEXT_EXTENSIONS.some((ext) => file.endsWith(ext))) {
        let text = renderTemplate(await readFile(from, 'utf8'), vars, flags, relative(PACKAGE_ROOT, from));
        // Its resolution completed from where the plugin really lands (the final folder, not the temp one).
        if (file === 'tsconfig.json') text = tsconfigFor(text, folder, kind === 'binding' ? ['node-llama-cpp'] : []);
        await writeFile(out, text);
      } else {
        await copyFile(from, out);
      }
      written.push(outRel);
    }
    if (!existing) {
      try {
        await rename(target, folder);
      } catch (error) {
        throw ScaffoldExists(`${folder} appeared while it was being created: ${errorMessage(error)}`, { cause: error });
      }
    }
  } catch (error) {
    if (!existing) await rm(target, { recursive: true, force: true });
    throw error;
  }
  return { folder, folderName, files: written, overwritten: existing !== undefined };
}

/** Usage of `new`, also shown by `lollms-host --help`. */
export const NEW_USAGE = [
  'lollms-host new personality <name> [--folder NAME] [--dir DIR] [--language LANG] [--category CAT] [--with-processor] [--force]',
  '    creates DIR/LANG/CAT/<folder>/ (defaults: DIR ./personalities, LANG english, CAT custom) with config.yaml,',
  '    assets/logo.png, test/<folder>.test.ts and, with --with-processor, scripts/processor.ts and tsconfig.json.',
  '    <name> may have spaces ("ascii artist"); the folder name is derived from it (ascii_artist) unless --folder',
  'lollms-host new binding <name> [--dir DIR] [--force]',
  '    creates DIR/<name>/ (default DIR ./bindings) with binding_card.yaml, models.yaml, index.ts, tsconfig.json and a test',
  'Folder, binding, language and category names: 1 to 64 letters, digits, "_" or "-".',
  'An existing folder is only written into with --force.',
].join('\n');

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** `lollms-host new ...`; returns the exit code (usage errors are thrown as `CliUsage`). */
export async function newCommand(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        language: { type: 'string' },
        category: { type: 'string' },
        folder: { type: 'string' },
        'with-processor': { type: 'boolean' },
        with_processor: { type: 'boolean' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw CliUsage(errorMessage(error));
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(`${NEW_USAGE}\n`);
    return 0;
  }
  const [kind, name, ...extra] = parsed.positionals;
  if (kind !== 'personality' && kind !== 'binding') {
    throw CliUsage(kind === undefined ? 'new needs a kind: personality or binding' : `new: unknown kind "${kind}" (personality or binding)`);
  }
  if (name === undefined || name === '') throw CliUsage(`new ${kind} needs a name`);
  if (extra.length > 0) throw CliUsage(`new ${kind} takes one name (got also ${extra.map((e) => `"${e}"`).join(', ')})`);
  const withProcessor = v['with-processor'] === true || v.with_processor === true;
  if (kind === 'binding') {
    const misplaced = [
      v.language !== undefined && '--language',
      v.category !== undefined && '--category',
      v.folder !== undefined && '--folder',
      withProcessor && '--with-processor',
    ].filter(Boolean);
    if (misplaced.length > 0) throw CliUsage(`${misplaced.join(', ')}: only for new personality`);
  }
  if (v.dir === '') throw CliUsage('--dir needs a folder');
  const dir = resolve(v.dir ?? (kind === 'personality' ? 'personalities' : 'bindings'));

  const result = await scaffold({
    kind,
    name,
    dir,
    ...(v.language === undefined ? {} : { language: v.language }),
    ...(v.category === undefined ? {} : { category: v.category }),
    ...(v.folder === undefined ? {} : { folder: v.folder }),
    withProcessor,
    force: v.force === true,
  });

  const lines = [`${result.overwritten ? 'Wrote' : 'Created'} ${kind} "${name}" in ${result.folder}:`, ...result.files.map((f) => `  ${f}`), '', 'Next steps:'];
  const test = join(result.folder, 'test', `${result.folderName}.test.ts`);
  lines.push(`  lollms-host check ${result.folder}`);
  if (kind === 'personality') {
    const zooPath = relative(dir, result.folder).split(sep).join('/');
    lines.push(`  lollms-host serve --personalities_path ${dir}`, `      then a client sends add_personality {"path": "${zooPath}"}`);
  } else {
    lines.push(
      `  put a .gguf model (or a <model>.reference file) in <models_path>/${name}/ (default ~/.lollms-host/models/${name}/), then`,
      `  lollms-host serve --bindings_path ${dir} --binding_name ${name} --model_name <model file>`,
    );
  }
  lines.push(`  node --no-node-snapshot --test ${test}`, '      (runs its test; lollms-host must be installed where the test can import it)');
  if (!existsSync(join(PACKAGE_ROOT, 'dist', 'core', 'testing.js'))) {
    lines.push('      (this lollms-host is not built: run `npm run build` in it first)');
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
