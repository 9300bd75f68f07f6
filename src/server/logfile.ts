// The numbers log on disk: file descriptors we open (and truncate) ourselves, written
// through Bun FileSinks. Bun.file(path).writer() would not empty an existing file
// (oven-sh/bun#25968), so the fds are opened with node:fs and handed to Bun.file.
// A failed write (ENOSPC, EIO, ...) is never ignored: it goes to `onError`, and at close the
// torn line it may have left is cut off, so the log holds only whole lines.

import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync } from "node:fs";
import { LINE_BYTES } from "../core/protocol.ts";

export interface LogFile {
  /** Appends bytes; chunks of 4 KiB and more reach the OS before this returns. */
  write(bytes: Uint8Array): void;
  /** Hands everything written so far to the OS. */
  flush(): void;
  /** Flushes, waits for writes still in flight, fsyncs (or after a failure cuts the torn tail) and closes. */
  close(): Promise<void>;
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
 * buffers of whole lines without a shared offset; every buffer handed to write() ends at a
 * line boundary, so lines never interleave. `onError` gets the first write failure; later
 * writes are dropped.
 */
export function appendLog(path: string, onError: (message: string) => void): LogFile {
  const fd = openAppend(path);
  const sink = Bun.file(fd).writer();
  let failed = false;
  let open = true;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    onError(`cannot write log file '${path}': ${describe(err)}`);
  };
  // A FileSink reports a failed write of 4 KiB or more as a rejected promise and a failed
  // flush as a throw; both end up in fail(). Writes that did not finish at once (the log is
  // a pipe, or the write failed) are awaited by close().
  const inFlight = new Set<Promise<unknown>>();
  const guard = (action: () => unknown) => {
    if (failed) return;
    try {
      const result = action();
      if (result instanceof Promise) {
        const settled = result.catch(fail).finally(() => inFlight.delete(settled));
        inFlight.add(settled);
      }
    } catch (err) {
      fail(err);
    }
  };
  return {
    write: (bytes) => guard(() => sink.write(bytes)),
    flush: () => guard(() => sink.flush()),
    async close() {
      if (!open) return;
      open = false;
      guard(() => sink.flush());
      await Promise.all(inFlight);
      if (!failed) guard(() => fsyncIfFile(fd));
      // After a failure the sink may still hold bytes it took before: end() is its last
      // write, and only after it can a cut be the last word on this descriptor.
      if (failed) {
        await Promise.resolve().then(() => sink.end()).catch(() => {});
        cutTornTail(fd);
      }
      closeSync(fd);
    },
  };
}

/**
 * Cuts the log back to a whole number of lines after a failed write. Every buffer a shard
 * writes holds whole 10-byte lines and starts at a line boundary, so a write cut short by a
 * full disk ends the file in part of a line, and cutting to a multiple of 10 removes
 * exactly that part. It runs when the failing shard closes its log (the server stops on
 * the failure), after its last write; another shard whose write failed too makes its own cut.
 * Limits: the other shards write until the stop reaches them. If the disk gains room in
 * that moment, lines another shard appends after the torn write follow the torn line (which
 * --resume then names as damaged), and whole lines it appends between this shard's fstat
 * and ftruncate are lost. A device or pipe has nothing to cut.
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
