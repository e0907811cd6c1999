import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve, join } from 'node:path';
import { ConfigStore, resolveDataDir, type HostConfig } from './config.js';
import { CliUsage, LollmsHostError, errorMessage } from './errors.js';
import { PACKAGE_VERSION } from './util/package-root.js';
import { Host, startHost } from './host.js';
import { writeTestModel } from './bindings/test-model.js';

/** The commands `main` knows (an unknown one is answered with this list). */
export const COMMANDS = ['serve', 'ps', 'run', 'list', 'use', 'rm', 'pull', 'check', 'new', 'make-test-model'] as const;

/** Exit codes: 0 ok, 1 failure, 2 usage error (unknown flag, bad value). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The flags of `serve`, mirroring the original lollms-server (lollms-reference §2.1). Each original
 * snake_case flag is also accepted in kebab-case, and ours in both spellings.
 */
const SERVE_FLAGS: Array<{ names: [string, string]; type: 'string' | 'boolean'; multiple?: boolean; key?: keyof HostConfig; help: string; arg?: string }> = [
  { names: ['host', 'host'], type: 'string', key: 'host', arg: 'ADDR', help: 'address to bind (default 127.0.0.1; others need --api-key)' },
  { names: ['port', 'port'], type: 'string', key: 'port', arg: 'N', help: 'TCP port (default 9600; 0 picks a free one)' },
  { names: ['config', 'config'], type: 'string', arg: 'FILE', help: 'config file (default <data dir>/config.yaml)' },
  { names: ['bindings_path', 'bindings-path'], type: 'string', multiple: true, key: 'bindings_paths', arg: 'DIR', help: 'folder of bindings (repeatable)' },
  { names: ['personalities_path', 'personalities-path'], type: 'string', multiple: true, key: 'personalities_paths', arg: 'DIR', help: 'folder of personalities (repeatable)' },
  { names: ['models_path', 'models-path'], type: 'string', key: 'models_path', arg: 'DIR', help: 'models folder (default <data dir>/models)' },
  { names: ['binding_name', 'binding-name'], type: 'string', key: 'binding_name', arg: 'NAME', help: 'binding to load (default llama_cpp)' },
  { names: ['model_name', 'model-name'], type: 'string', key: 'model_name', arg: 'NAME', help: 'model file to load' },
  { names: ['reset_config', 'reset-config'], type: 'boolean', help: 'replace the config file with the defaults (the old one is kept as .bak)' },
  { names: ['threads', 'threads'], type: 'string', key: 'n_threads', arg: 'N', help: 'engine CPU threads (default cores - 1)' },
  { names: ['data_dir', 'data-dir'], type: 'string', arg: 'DIR', help: 'data dir (default $LOLLMS_HOST_HOME or ~/.lollms-host)' },
  { names: ['log_level', 'log-level'], type: 'string', key: 'log_level', arg: 'LEVEL', help: 'trace|debug|info|warn|error|fatal|silent' },
  { names: ['print_config', 'print-config'], type: 'boolean', help: 'print every effective config value and its source, then exit' },
  { names: ['watch', 'watch'], type: 'boolean', key: 'watch', help: 'hot-reload plugins on change (default; --no-watch turns it off)' },
  { names: ['builtins', 'builtins'], type: 'boolean', key: 'builtin_plugins', help: 'include the built-in plugins (--no-builtins leaves them out)' },
  { names: ['api_key', 'api-key'], type: 'string', key: 'api_key', arg: 'KEY', help: 'key every client must send, on any bind (required off loopback; or LOLLMS_HOST_API_KEY)' },
];

const ORIGINAL_FLAGS = new Set(['host', 'port', 'config', 'bindings_path', 'personalities_path', 'models_path', 'binding_name', 'model_name', 'reset_config']);

const NUMERIC_KEYS = new Set<keyof HostConfig>(['port', 'n_threads']);

function usage(): string {
  const lines = [
    `lollms-host ${PACKAGE_VERSION}: a host for local LLMs that speaks the LoLLMs socket.io protocol`,
    '',
    'Usage:',
    '  lollms-host [serve] [flags]                  start the host (default command)',
    '  lollms-host ps [--url URL | --host ADDR --port N] [--api-key KEY] [--data-dir DIR] [--json]',
    '                                               what a running host has loaded: model, slots, queue,',
    '                                               personalities, last generations (asked over HTTP)',
    '  lollms-host run <model | language/category/personality> [prompt] [--raw] [--n-predict N] [same flags as ps]',
    '                                               chat in the terminal (streamed; Ctrl-C cancels, twice exits)',
    '                                               with the running host, or one started in this process',
    '  lollms-host make-test-model [--preset tiny|bench] [--seed N] <out.gguf>',
    '                                               write a random-weight test model (gibberish output)',
    '  lollms-host pull <url | models.yaml filename> [--binding NAME] [--data-dir DIR] [--models_path DIR] [--bindings_path DIR]',
    '                                               download a model into <models>/<binding>/',
    '  lollms-host list [--binding NAME] [--data-dir DIR] [--config FILE] [--models_path DIR] [--bindings_path DIR]',
    '                                               installed models per binding, with size; * marks the one a start serves',
    '  lollms-host use <model> [same flags as list]  select an installed model and save it in the config',
    '  lollms-host rm <model> [same flags as list]   delete an installed model',
    '  lollms-host check [--no-types] <plugin folder>...',
    '                                               validate bindings or personalities (YAML, API range, compile,',
    '                                               trial load, processor types) without a server; exit 1 on errors',
    '  lollms-host new personality <name> [--folder NAME] [--dir DIR] [--language LANG] [--category CAT] [--with-processor] [--force]',
    '                                               create DIR/LANG/CAT/<folder>/ from sdk-templates/ (defaults:',
    '                                               ./personalities, english, custom, a folder name derived from',
    '                                               <name>, which may have spaces); exit 1 if it exists',
    '  lollms-host new binding <name> [--dir DIR] [--force]',
    '                                               create DIR/<name>/ (default ./bindings) from sdk-templates/',
    '  lollms-host --help | --version',
    '',
    'Flags of serve (snake_case and kebab-case both work):',
  ];
  for (const flag of SERVE_FLAGS) {
    // The original's flags are shown in its snake_case, ours in kebab-case; both spellings work for all.
    const name = ORIGINAL_FLAGS.has(flag.names[0]) ? flag.names[0] : flag.names[1];
    const spelled = flag.type === 'boolean' && (flag.key === 'watch' || flag.key === 'builtin_plugins') ? `--[no-]${name}` : `--${name}`;
    lines.push(`  ${`${spelled}${flag.arg ? ` ${flag.arg}` : ''}`.padEnd(36)} ${flag.help}`);
  }
  lines.push('', 'Every config key can also be set as LOLLMS_HOST_<KEY> (e.g. LOLLMS_HOST_PORT=9700).', 'Precedence: flag > environment > config file > default. See docs/configuration.md.');
  return lines.join('\n');
}

function serveOptions(): Options {
  const options: Options = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } };
  for (const flag of SERVE_FLAGS) {
    for (const name of new Set(flag.names)) options[name] = { type: flag.type, ...(flag.multiple ? { multiple: true } : {}) };
  }
  return options;
}

/** Parse `serve` flags into config overrides and host options. Throws CliUsage on any bad flag or value. */
export function parseServeArgs(argv: string[]): { help: boolean; version: boolean; printConfig: boolean; resetConfig: boolean; configFile?: string; dataDir?: string; overrides: Partial<HostConfig> } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: serveOptions(), allowPositionals: false, strict: true, allowNegative: true });
  } catch (error) {
    throw CliUsage(errorMessage(error));
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const pick = (names: [string, string]) => values[names[0]] ?? values[names[1]];
  const overrides: Record<string, unknown> = {};
  let configFile: string | undefined;
  let dataDir: string | undefined;
  for (const flag of SERVE_FLAGS) {
    const value = pick(flag.names);
    if (value === undefined) continue;
    if (flag.names[0] === 'config') configFile = resolve(String(value));
    if (flag.names[0] === 'data_dir') dataDir = resolve(String(value));
    if (!flag.key) continue;
    if (NUMERIC_KEYS.has(flag.key)) {
      const n = Number(value);
      if (typeof value !== 'string' || value.trim() === '' || !Number.isInteger(n)) throw CliUsage(`invalid value for --${flag.names[1]}: "${String(value)}" is not a whole number`);
      overrides[flag.key] = n;
    } else if (flag.multiple) {
      overrides[flag.key] = (value as string[]).map((p) => resolve(p));
    } else if (flag.key === 'models_path') {
      overrides[flag.key] = resolve(String(value));
    } else {
      overrides[flag.key] = value;
    }
  }
  return {
    help: Boolean(values.help),
    version: Boolean(values.version),
    printConfig: Boolean(pick(['print_config', 'print-config'])),
    resetConfig: Boolean(pick(['reset_config', 'reset-config'])),
    ...(configFile === undefined ? {} : { configFile }),
    ...(dataDir === undefined ? {} : { dataDir }),
    overrides: overrides as Partial<HostConfig>,
  };
}

interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** Run the CLI; resolves to the exit code (serve resolves when the host has stopped). */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [first, ...rest] = argv;
  try {
    switch (first) {
      case 'make-test-model':
        return await makeTestModelCommand(rest, io);
      case 'pull':
        return await pullCommand(rest, io);
      case 'check':
        return await checkCommand(rest, io);
      case 'new':
        return await (await import('./sdk/new.js')).newCommand(rest, io);
      case 'list':
      case 'ls':
        return await (await import('./bindings/models-command.js')).listCommand(rest, io);
      case 'use':
        return await (await import('./bindings/models-command.js')).useCommand(rest, io);
      case 'rm':
        return await (await import('./bindings/models-command.js')).rmCommand(rest, io);
      case 'run':
        return await (await import('./transports/socket/run-command.js')).runCommand(rest, io, startInProcessHost);
      case 'ps':
        return await (await import('./transports/http/ps-command.js')).psCommand(rest, io);
      case 'serve':
        return await serveCommand(rest, io);
      default:
        // Flags alone mean serve; a word is a command, and an unknown one is an error that lists them all.
        if (first !== undefined && !first.startsWith('-')) throw CliUsage(`unknown command "${first}". Commands: ${COMMANDS.join(', ')}`);
        return await serveCommand(argv, io);
    }
  } catch (error) {
    if (error instanceof LollmsHostError && error.code === CliUsage.code) {
      io.stderr.write(`lollms-host: ${error.message}\nRun "lollms-host --help" for usage.\n`);
      return EXIT.usage;
    }
    if (error instanceof LollmsHostError && (error.code === 'LH_ERR_CONFIG_INVALID' || error.code === 'LH_ERR_CONFIG_SYNTAX')) {
      io.stderr.write(`lollms-host: ${error.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`lollms-host: ${errorMessage(error)}\n`);
    return EXIT.failure;
  }
}

async function serveCommand(argv: string[], io: Io): Promise<number> {
  const args = parseServeArgs(argv);
  if (args.help) {
    io.stdout.write(`${usage()}\n`);
    return EXIT.ok;
  }
  if (args.version) {
    io.stdout.write(`${PACKAGE_VERSION}\n`);
    return EXIT.ok;
  }
  const dataDir = resolveDataDir(args.dataDir);
  if (args.printConfig) {
    const store = await ConfigStore.load({ file: args.configFile ?? join(dataDir, 'config.yaml'), cli: args.overrides });
    io.stdout.write(`# config file: ${store.file}\n${store.describe()}\n`);
    return EXIT.ok;
  }
  const host = await Host.create({
    dataDir,
    ...(args.configFile ? { configFile: args.configFile } : {}),
    config: args.overrides,
    resetConfig: args.resetConfig,
  });
  // Signals are handled from the first moment the port is open, model loading included.
  const stopped = waitForShutdown(host);
  await host.listen();
  await host.initialise();
  return stopped;
}

/** The host `lollms-host run` starts in its own process when none runs: loopback, a free port, quiet logs. */
async function startInProcessHost(options: { dataDir?: string; configFile?: string; modelName?: string }): Promise<{ url: string; close(): Promise<void> }> {
  const handle = await startHost({
    dataDir: resolveDataDir(options.dataDir),
    ...(options.configFile !== undefined ? { configFile: resolve(options.configFile) } : {}),
    config: { host: '127.0.0.1', port: 0, watch: false, log_level: 'warn', ...(options.modelName !== undefined ? { model_name: options.modelName } : {}) },
  });
  return { url: handle.url, close: () => handle.close() };
}

/** Stop gracefully on SIGINT/SIGTERM; a second signal, or 10 s without finishing, forces the exit. */
function waitForShutdown(host: Host): Promise<number> {
  const handle = { host, close: () => host.close() };
  return new Promise((resolveExit) => {
    let stoppingSince = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      // A terminal's Ctrl-C reaches both the bin wrapper and this process: a repeat within 1 s is the same press.
      if (stoppingSince && Date.now() - stoppingSince < 1000) return;
      if (stoppingSince) {
        handle.host.logger.warn(`${signal} again: exiting now`);
        process.exit(EXIT.failure);
      }
      stoppingSince = Date.now();
      handle.host.logger.info(`${signal} received: stopping`);
      setTimeout(() => {
        handle.host.logger.error('shutdown took longer than 10 s: exiting');
        process.exit(EXIT.failure);
      }, 10_000).unref();
      handle.close().then(
        () => resolveExit(EXIT.ok),
        (error: unknown) => {
          handle.host.logger.error({ err: errorMessage(error) }, 'shutdown failed');
          resolveExit(EXIT.failure);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function makeTestModelCommand(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { preset: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw CliUsage(errorMessage(error));
  }
  if (parsed.values.help) {
    io.stdout.write('lollms-host make-test-model [--preset tiny|bench] [--seed N] <out.gguf>\n');
    return EXIT.ok;
  }
  const out = parsed.positionals[0];
  if (!out || parsed.positionals.length > 1) throw CliUsage('make-test-model takes exactly one output path');
  const preset = parsed.values.preset ?? 'tiny';
  if (preset !== 'tiny' && preset !== 'bench') throw CliUsage(`invalid value for --preset: "${preset}" (tiny or bench)`);
  const seed = parsed.values.seed === undefined ? undefined : Number(parsed.values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw CliUsage(`invalid value for --seed: "${parsed.values.seed}"`);
  await writeTestModel(resolve(out), { preset, ...(seed === undefined ? {} : { seed }) });
  io.stdout.write(`wrote ${resolve(out)} (${preset} preset, random weights: it produces gibberish)\n`);
  return EXIT.ok;
}

async function checkCommand(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, 'no-types': { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw CliUsage(errorMessage(error));
  }
  if (parsed.values.help) {
    io.stdout.write('lollms-host check [--no-types] <plugin folder>...\n');
    return EXIT.ok;
  }
  if (parsed.positionals.length === 0) throw CliUsage('check takes one or more plugin folders');
  const { checkPlugin, formatCheckResult } = await import('./plugins/check.js');
  let failed = false;
  for (const folder of parsed.positionals) {
    const result = await checkPlugin(folder, { typecheck: parsed.values['no-types'] !== true });
    const { problems, summary } = formatCheckResult(result);
    for (const problem of problems) io.stderr.write(`${problem}\n`);
    if (result.errors.length > 0) {
      failed = true;
      io.stderr.write(`${summary}\n`);
    } else {
      io.stdout.write(`${summary}\n`);
    }
  }
  return failed ? EXIT.failure : EXIT.ok;
}

async function pullCommand(argv: string[], io: Io): Promise<number> {
  const { pullFromCli } = await import('./bindings/pull-command.js');
  return pullFromCli(argv, io);
}
