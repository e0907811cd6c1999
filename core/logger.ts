import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface LoggerOptions {
  /** Minimum level written. Default `info`. */
  level?: LevelWithSilent;
  /** Force human-readable output (default: only when stderr is a TTY). */
  pretty?: boolean;
  /** Where the lines go (default: stderr, so stdout stays free for command output). */
  destination?: NodeJS.WritableStream;
}

/**
 * The host logger: readable lines on a TTY, JSON lines otherwise (for log collectors).
 * pino-pretty runs in this thread as a plain stream: a pino transport would start a worker thread, and
 * worker threads do not accept `--no-node-snapshot`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const usePretty = options.pretty ?? Boolean(process.stderr.isTTY);
  if (usePretty) {
    return pino({ level }, pretty({ sync: true, destination: options.destination ?? 2, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' }));
  }
  return pino({ level, base: undefined }, (options.destination ?? pino.destination({ dest: 2, sync: true })) as never);
}

/** A child logger that carries the plugin's kind and name on every line. */
export function pluginLogger(parent: Logger, kind: 'binding' | 'personality', name: string): Logger {
  return parent.child({ plugin: `${kind}:${name}` });
}
