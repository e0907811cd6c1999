import { Writable } from 'node:stream';
import { pino, type Logger, type LevelWithSilent } from 'pino';

/** One JSON log line as pino writes it. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * A pino logger (JSON lines) whose lines land, parsed, in `lines`: for tests that assert what the host logs.
 * `onLine` hears each line as it is written, to wait for one.
 */
export function capturingLogger(level: LevelWithSilent = 'info', onLine?: (line: LogLine) => void): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        const parsed = JSON.parse(line) as LogLine;
        lines.push(parsed);
        onLine?.(parsed);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** The first log line that passes `test`, from now on. */
export function logLineWhere(test: (line: LogLine) => boolean): { onLine: (line: LogLine) => void; line: Promise<LogLine> } {
  let resolve!: (line: LogLine) => void;
  const line = new Promise<LogLine>((r) => (resolve = r));
  return { onLine: (l) => void (test(l) && resolve(l)), line };
}
