import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Cancelled, InstallExists, LollmsHostError, errorMessage } from '../errors.js';
import { installModel, installSourceFromEntry, installSourceFromUrl, findModelEntry, type InstallProgress, type InstallSource } from './install.js';

/** Options of `runPull`. */
export interface PullOptions {
  /** Where the model goes (the binding's models dir). */
  modelsDir: string;
  /** The binding's parsed `models.yaml` entries, to look a filename up in. */
  models: readonly unknown[];
  /** Where progress and the result are written. */
  stdout: NodeJS.WritableStream;
  /** Draw a progress bar (true) or print plain percentage lines (false, for logs and pipes). */
  isTTY: boolean;
  /** Cancels the download (e.g. on SIGINT); the `.part` file is kept so that the next pull resumes. */
  signal?: AbortSignal;
  /** Called with the installed file's path once the model is installed (or was already). */
  onInstalled?: (path: string) => void;
}

/** Exit codes of `runPull`. */
export const PULL_EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;

/**
 * `lollms-host pull <url-or-models.yaml-filename>`: download a model into `modelsDir` and report on stdout.
 * Returns the process exit code: 0 installed (or already there), 1 failed, 2 unknown target, 130 cancelled.
 */
export async function runPull(target: string, options: PullOptions): Promise<number> {
  const out = options.stdout;
  const say = (line: string) => void out.write(`${line}\n`);
  let source: InstallSource;
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      source = installSourceFromUrl(target);
    } else {
      const entry = findModelEntry(options.models, target);
      if (!entry) {
        const known = options.models.flatMap((m) => (typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)['filename'] === 'string' ? [(m as Record<string, string>)['filename']] : []));
        say(`pull: "${target}" is neither an http(s) URL nor a models.yaml filename${known.length ? ` (known: ${known.join(', ')})` : ''}`);
        return PULL_EXIT.usage;
      }
      source = installSourceFromEntry(entry);
    }
  } catch (error) {
    say(`pull: ${errorMessage(error)}`);
    return PULL_EXIT.usage;
  }

  say(`pulling ${source.filename} from ${source.url}`);
  const progress = options.isTTY ? barReporter(out, source.filename) : lineReporter(say, source.filename);
  try {
    const result = await installModel({
      source,
      modelsDir: options.modelsDir,
      onProgress: progress.update,
      progressIntervalMs: options.isTTY ? 100 : 500,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    progress.stop();
    say(`installed ${result.path} (${result.bytes} bytes, sha256 ${result.sha256})`);
    options.onInstalled?.(result.path);
    return PULL_EXIT.ok;
  } catch (error) {
    progress.stop();
    const code = error instanceof LollmsHostError ? error.code : undefined;
    if (code === InstallExists.code) {
      say(`pull: ${errorMessage(error)}`);
      options.onInstalled?.(join(options.modelsDir, source.filename));
      return PULL_EXIT.ok;
    }
    if (code === Cancelled.code) {
      say(`pull: ${errorMessage(error)}`);
      return PULL_EXIT.cancelled;
    }
    say(`pull failed: ${errorMessage(error)}`);
    return PULL_EXIT.failed;
  }
}

interface Reporter {
  update(progress: InstallProgress): void;
  stop(): void;
}

/** A cli-progress bar; created on the first report, once it is known whether the size is known. */
function barReporter(stream: NodeJS.WritableStream, filename: string): Reporter {
  let bar: cliProgress.SingleBar | undefined;
  return {
    update({ bytes, total }) {
      if (!bar) {
        bar = new cliProgress.SingleBar({
          stream,
          format: total === null ? `${filename} {done}` : `${filename} [{bar}] {percentage}% | {done} / {size} | ETA {eta_formatted}`,
          hideCursor: true,
          barsize: 30,
          etaBuffer: 50,
        }, cliProgress.Presets.shades_classic);
        bar.start(total ?? 0, bytes, { done: mib(bytes), size: total === null ? '?' : mib(total) });
      }
      if (total !== null && total !== bar.getTotal()) bar.setTotal(total);
      bar.update(bytes, { done: mib(bytes), size: total === null ? '?' : mib(total) });
    },
    stop() {
      bar?.stop();
    },
  };
}

/** Plain lines for logs: one per 10 % step, or one per 5 s when the size is unknown. */
function lineReporter(say: (line: string) => void, filename: string): Reporter {
  let lastStep = -1;
  let lastTime = -Infinity;
  return {
    update({ bytes, total, progress }) {
      if (progress !== null && total !== null) {
        const step = Math.floor(progress * 10);
        if (step <= lastStep) return;
        lastStep = step;
        say(`${filename}: ${step * 10}% (${mib(bytes)} / ${mib(total)})`);
      } else {
        const now = performance.now();
        if (now - lastTime < 5000) return;
        lastTime = now;
        say(`${filename}: ${mib(bytes)}`);
      }
    },
    stop() {},
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
