/**
 * Crash-safe file replacement: write a temporary file beside the target, flush it to disk, rename
 * it over the target, then flush the directory. A crash at any point leaves either the old file
 * or the new one, never a torn mix. The file-system calls are injectable so tests can fail each
 * step. Two forms: writeFileAtomic blocks until done (shutdown, explicit saves);
 * writeFileAtomicAsync writes piece by piece with fs.promises (the address book's periodic save).
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  mkdirSync(path: string, options: { recursive: true }): unknown;
}

export const realFs: AtomicWriteFs = fs;

let tempCounter = 0;

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, ops: AtomicWriteFs = realFs): void {
  const dir = dirname(path);
  ops.mkdirSync(dir, { recursive: true });
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tempCounter++}`);
  let fd = -1;
  try {
    fd = ops.openSync(temp, 'w', mode);
    let off = 0;
    while (off < bytes.length) off += ops.writeSync(fd, bytes, off, bytes.length - off);
    ops.fsyncSync(fd);
    ops.closeSync(fd);
    fd = -1;
    ops.renameSync(temp, path);
  } catch (err) {
    if (fd >= 0) {
      try {
        ops.closeSync(fd);
      } catch {
        /* already failing; the original error is the one to report */
      }
    }
    try {
      ops.unlinkSync(temp);
    } catch {
      /* the temp file may not exist */
    }
    throw err;
  }
  // Make the rename itself durable. Some platforms cannot fsync a directory; the data is safe anyway.
  try {
    const dfd = ops.openSync(dir, 'r');
    try {
      ops.fsyncSync(dfd);
    } finally {
      ops.closeSync(dfd);
    }
  } catch {
    /* best effort */
  }
}

/** The file handle calls the asynchronous writer needs (a subset of fs.promises.FileHandle). */
export interface AtomicWriteFileHandle {
  write(data: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * File-system calls of the asynchronous writer; injectable so tests can fail each step. The rename
 * is synchronous on purpose: the caller's last check ("is this snapshot still the newest?") and the
 * rename must happen in one event-loop turn, or a synchronous save made meanwhile (stop()) could be
 * overwritten by an older snapshot whose rename was already under way. A rename costs microseconds.
 */
export interface AtomicWriteAsyncFs {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  open(path: string, flags: string, mode?: number): Promise<AtomicWriteFileHandle>;
  unlink(path: string): Promise<void>;
  renameSync(from: string, to: string): void;
}

export const realAsyncFs: AtomicWriteAsyncFs = {
  mkdir: (path, options) => fs.promises.mkdir(path, options),
  open: (path, flags, mode) => fs.promises.open(path, flags, mode),
  unlink: (path) => fs.promises.unlink(path),
  renameSync: (from, to) => fs.renameSync(from, to),
};

export interface AtomicWriteAsyncOptions {
  mode?: number;
  ops?: AtomicWriteAsyncFs;
  /**
   * Asked right before the rename, in the same turn: false discards the temporary file and leaves
   * the target alone (the content is stale or the write was abandoned). Default: always commit.
   */
  shouldCommit?: () => boolean;
  /** Called right after the rename, in the same turn. */
  onCommitted?: () => void;
}

/**
 * The asynchronous form of writeFileAtomic: `produce` hands the content to `write` piece by piece
 * (each piece is written before the next is asked for, so the event loop runs in between); then
 * the temporary file is fsynced, renamed over the target and the directory fsynced, all without
 * blocking. Same crash guarantee: the target is the old file or the new one, never a mix, and a
 * failed write removes its temporary file. Resolves true when the target was replaced, false when
 * `shouldCommit` declined.
 */
export async function writeFileAtomicAsync(
  path: string,
  produce: (write: (piece: string | Uint8Array) => Promise<void>) => Promise<void>,
  options: AtomicWriteAsyncOptions = {},
): Promise<boolean> {
  const ops = options.ops ?? realAsyncFs;
  const dir = dirname(path);
  await ops.mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tempCounter++}`);
  let handle: AtomicWriteFileHandle | undefined;
  let committed = false;
  try {
    handle = await ops.open(temp, 'w', options.mode ?? 0o644);
    const h = handle;
    await produce(async (piece) => {
      const bytes = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
      let off = 0;
      while (off < bytes.length) off += (await h.write(bytes, off, bytes.length - off)).bytesWritten;
    });
    await h.sync();
    handle = undefined;
    await h.close();
    if (options.shouldCommit === undefined || options.shouldCommit()) {
      ops.renameSync(temp, path);
      committed = true;
      options.onCommitted?.();
    }
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await ops.unlink(temp).catch(() => undefined);
    throw err;
  }
  if (!committed) {
    await ops.unlink(temp).catch(() => undefined);
    return false;
  }
  // Make the rename durable; best effort, as in the synchronous form.
  try {
    const dh = await ops.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* some platforms cannot fsync a directory */
  }
  return true;
}
