import { open, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** What `writeFileAtomic` can write: a whole buffer/string, or chunks produced as they come. */
export type AtomicData = string | Uint8Array | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/**
 * Write a file so that readers see either the old content or the complete new one, never a torn file:
 * write a temp file in the same folder, fsync it, rename it over the target, then fsync the folder so the
 * rename itself survives a crash. On any failure the temp file is removed and the target is untouched.
 */
export async function writeFileAtomic(path: string, data: AtomicData, options: { mode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // A replaced file keeps its permissions (an operator's chmod 600 on a config with an API key survives saves).
  const existingMode = await stat(path).then((s) => s.mode & 0o777, () => undefined);
  const mode = existingMode ?? options.mode ?? 0o644;
  const handle = await open(temp, 'wx', mode);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await handle.writeFile(data);
    } else {
      for await (const chunk of data as AsyncIterable<Uint8Array | string>) {
        await (typeof chunk === 'string' ? handle.write(chunk) : handle.write(chunk));
      }
    }
    // open()'s mode is filtered by the umask; set it exactly.
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
}

/** fsync a folder so that a rename inside it is durable. Best effort: some filesystems refuse it. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close().catch(() => {});
}
