/**
 * Crash-safe file replacement: write a temporary file beside the target, flush it to disk, rename
 * it over the target, then flush the directory. A crash at any point leaves either the old file
 * or the new one, never a torn mix. The file-system calls are injectable so tests can fail each
 * step.
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
