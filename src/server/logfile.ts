// Writing the numbers log: a thread's writer on the one descriptor the coordinator opened
// (logowner.ts), through a Bun FileSink, or for a log that is not a regular file a writer
// that hands the lines to the main thread's (threads.ts), so one thread alone writes it.
// A failed write (ENOSPC, EIO, EPIPE, ...) is never ignored: it goes to `onError`, and at
// close the torn line it may have left in a regular file is cut off, so the log holds only
// whole lines.

import { fstatSync, fsyncSync, ftruncateSync } from "node:fs";
import { LINE_BYTES } from "../core/protocol.ts";
import { errorReason, type LogHandle } from "./logowner.ts";

export interface LogFile {
  /** Appends bytes; chunks of 4 KiB and more reach the OS before this returns. */
  write(bytes: Uint8Array): void;
  /** Hands everything written so far to the OS. */
  flush(): void;
  /**
   * Flushes, waits for writes still in flight, fsyncs (or after a failure cuts the torn
   * tail). The descriptor stays open: it is the coordinator's, shared by every thread.
   */
  close(): Promise<void>;
}

/**
 * Bytes a stream's reader may leave waiting in the writer before the clients are paused
 * (`onBacklog`): without a bound, a reader that stalls let the server hold every number
 * sent since in memory.
 */
export const BACKLOG_BYTES = 16 << 20;

export interface StreamOptions {
  /**
   * Called with true once the bytes waiting for a stream's reader pass BACKLOG_BYTES, and
   * with false once it has taken them all (a FileSink settles its pending writes together).
   */
  onBacklog?: (backlogged: boolean) => void;
  /** How long close() waits for a stream's reader to take the last bytes (ms). */
  stopTimeoutMs?: number;
}

/**
 * A writer on the log's descriptor. For a regular file (opened with O_APPEND) several
 * threads each append whole buffers of whole lines, each with its own writer: every buffer
 * handed to write() ends at a line boundary, and the kernel appends each write whole, so
 * lines never interleave. `onError` gets the first write failure; later writes are dropped.
 * A stream (pipe, FIFO, device) has one writer, the main thread's, bounded by `stream`.
 */
export function appendLog(log: LogHandle, onError: (message: string) => void, stream: StreamOptions = {}): LogFile {
  const { fd, path } = log;
  const sink = Bun.file(fd).writer();
  let failed = false;
  let open = true;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    onError(`cannot write log file '${path}': ${errorReason(err)}`);
  };
  // Bytes written since the sink last had nothing in flight, and whether that is too many.
  let waiting = 0;
  let backlogged = false;
  const drained = () => {
    waiting = 0;
    if (backlogged) stream.onBacklog?.((backlogged = false));
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
        const settled = result.catch(fail).finally(() => {
          inFlight.delete(settled);
          // After a failure nothing was taken: the clients stay held, the server is stopping.
          if (inFlight.size === 0 && !failed) drained();
        });
        inFlight.add(settled);
      }
    } catch (err) {
      fail(err);
    }
  };
  return {
    write: (bytes) => {
      guard(() => sink.write(bytes));
      if (inFlight.size === 0) return;
      waiting += bytes.length;
      if (waiting > BACKLOG_BYTES && !backlogged) stream.onBacklog?.((backlogged = true));
    },
    flush: () => guard(() => sink.flush()),
    async close() {
      if (!open) return;
      open = false;
      guard(() => sink.flush());
      // A stream's reader may never take the rest (stalled, stopped): the stop is bounded.
      const limit = log.stream ? stream.stopTimeoutMs : undefined;
      if (!(await settlesWithin(Promise.all(inFlight), limit))) {
        fail(new Error(`its reader did not take the last lines within ${limit! / 1000} s of the stop (--stop-timeout): up to ${waiting} bytes of them are not written`));
        return;
      }
      if (!failed) guard(() => fsyncIfFile(fd));
      // After a failure the sink may still hold bytes it took before: end() is its last
      // write, and only after it can a cut be the last word on this descriptor.
      if (failed) {
        await Promise.resolve().then(() => sink.end()).catch(() => {});
        cutTornTail(fd);
      }
    },
  };
}

/** Whether `promise` settles within `ms` (always, given no limit). */
async function settlesWithin(promise: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) return promise.then(() => true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A worker's writer for a log that is not a regular file: each buffer of new lines (copied:
 * the engine reuses its own) goes to `hand`, which posts it to the main thread, where the
 * one writer of the log writes it. Messages keep their order, so lines a worker wrote before
 * it answers a report or a stop reach that writer before the answer does.
 */
export function handOverLog(hand: (bytes: ArrayBuffer) => void): LogFile {
  return {
    write: (bytes) => hand(bytes.slice().buffer),
    flush: () => {},
    close: async () => {},
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
