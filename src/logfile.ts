// The numbers log on disk: file descriptors we open (and truncate) ourselves, each shard
// appending to its own O_APPEND descriptor with plain write(2) calls (node:fs writeSync).
// A failed write (ENOSPC, EIO, ...) is never ignored: it goes to `onError`, and the torn
// line it may have left is cut off, so the log holds only whole lines.
//
// Not a Bun FileSink: after a failed write a FileSink still writes the bytes it had
// buffered, on a later turn of the event loop and with no way to discard them (Bun 1.4.5:
// a short write on a full disk rejects the write's promise, then a 100-byte write buffered
// behind it lands once the disk has room), so no cut could be known to be the last word.
// A FileSink wrote every buffer of 4 KiB or more at once anyway, and the engine only
// writes when its buffer is full or on a flush, so writeSync makes the same system calls.

import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { LINE_BYTES } from "./engine.ts";

export interface LogFile {
  /** Appends whole lines; they have reached the OS when this returns. */
  write(bytes: Uint8Array): void;
  /** Fsyncs and closes; later writes are dropped. */
  close(): void;
}

export class LogOpenError extends Error {}

/**
 * Creates the log at `path`, or cuts it to its first `keepBytes` bytes (0: empties it).
 * Called once, after the port is bound and before any thread appends.
 */
export function prepareLog(path: string, keepBytes = 0): void {
  const fd = openAppend(path);
  try {
    // A device or pipe (/dev/full, /dev/stdout) has no length to cut.
    if (fstatSync(fd).isFile()) ftruncateSync(fd, keepBytes);
  } catch (err) {
    throw new LogOpenError(`cannot open log file '${path}': ${describe(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** Opens (creating) the log for appending, or says in one line why it cannot. */
function openAppend(path: string): number {
  try {
    return openSync(path, "a");
  } catch (err) {
    throw new LogOpenError(`cannot open log file '${path}': ${describe(err)}`);
  }
}

/**
 * Opens the prepared log for appending. O_APPEND lets several threads each append whole
 * buffers of whole lines without a shared offset; every buffer handed to write() starts and
 * ends at a line boundary, so lines never interleave. A log that is a pipe blocks the
 * writing thread while the pipe is full. `onError` gets the first write failure, after the
 * torn tail is cut (see cutTornTail); later writes are dropped.
 */
export function appendLog(path: string, onError: (message: string) => void): LogFile {
  const fd = openAppend(path);
  let failed = false;
  let open = true;
  const fail = (err: unknown) => {
    failed = true;
    cutTornTail(fd);
    onError(`cannot write log file '${path}': ${describe(err)}`);
  };
  return {
    write(bytes) {
      if (failed || !open) return;
      try {
        // A write(2) may take only part of the buffer (the disk filled up in it); the next
        // one then says why.
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      } catch (err) {
        fail(err);
      }
    },
    close() {
      if (!open) return;
      open = false;
      try {
        if (!failed) fsyncIfFile(fd);
      } catch (err) {
        fail(err);
      }
      closeSync(fd);
    },
  };
}

/**
 * Cuts the log back to a whole number of lines after a failed write. Every buffer a shard
 * writes holds whole 10-byte lines and starts at a line boundary, so a write cut short by a
 * full disk ends the file in part of a line, and cutting to a multiple of 10 removes
 * exactly that part. This shard never writes again, so its cut stands; another shard whose
 * write then fails in the few bytes the cut freed makes its own cut.
 * Limits: if the disk gains room at that very moment, another shard's whole lines appended
 * between this shard's fstat and ftruncate are lost, and lines it appends between this
 * shard's torn write and its cut follow the torn line, which --resume then names as
 * damaged. A device or pipe has nothing to cut.
 */
function cutTornTail(fd: number): void {
  try {
    const stat = fstatSync(fd);
    const torn = stat.size % LINE_BYTES;
    if (stat.isFile() && torn > 0) ftruncateSync(fd, stat.size - torn);
  } catch {
    // Reported as the write error already; --resume cuts a torn tail.
  }
}

/** fsync, except where the log is not a file (/dev/stdout, a pipe) and it does not apply. */
function fsyncIfFile(fd: number) {
  try {
    fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "ENOTSUP") throw err;
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "its directory does not exist",
    EISDIR: "it is a directory",
    EACCES: "permission denied",
    EROFS: "read-only file system",
    ENOTDIR: "a parent is not a directory",
    ENOSPC: "no space left on device",
    EIO: "input/output error",
  };
  return (e.code && reasons[e.code]) ?? e.message;
}
