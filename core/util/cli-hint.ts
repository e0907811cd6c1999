import { join, resolve } from 'node:path';
import { homedir } from 'node:os';

/** Where a host keeps its data, to spell the flags a `lollms-host` command needs to act on the same data. */
export interface DataLocation {
  dataDir: string;
  configFile: string;
  modelsPath: string;
  /** The binding the command is about (`--binding` is added when it is not `llama_cpp`). */
  binding?: string | null | undefined;
}

/** Quote a path for a POSIX shell when it needs it. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The flags that point a CLI command at this data: `--data-dir` unless it is `~/.lollms-host`, `--config` unless it
 * is `<data dir>/config.yaml`, `--models_path` unless it is `<data dir>/models`, `--binding` unless `llama_cpp`.
 * Empty, or a string starting with a space.
 */
export function locationFlags(location: DataLocation): string {
  const flags: string[] = [];
  const dataDir = resolve(location.dataDir);
  if (dataDir !== join(homedir(), '.lollms-host')) flags.push(`--data-dir ${shellQuote(dataDir)}`);
  if (resolve(location.configFile) !== join(dataDir, 'config.yaml')) flags.push(`--config ${shellQuote(resolve(location.configFile))}`);
  if (resolve(location.modelsPath) !== join(dataDir, 'models')) flags.push(`--models_path ${shellQuote(resolve(location.modelsPath))}`);
  if (location.binding && location.binding !== 'llama_cpp') flags.push(`--binding ${shellQuote(location.binding)}`);
  return flags.map((f) => ` ${f}`).join('');
}

/** `` `lollms-host <command><flags>` `` for a log line. */
export function commandHint(command: string, location: DataLocation): string {
  return `\`lollms-host ${command}${locationFlags(location)}\``;
}
