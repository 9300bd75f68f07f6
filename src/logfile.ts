// The numbers log on disk: a file descriptor we open (and so truncate) ourselves, written
// through a Bun FileSink. Bun.file(path).writer() would not empty an existing file
// (oven-sh/bun#25968), so the fd is opened with node:fs and handed to Bun.file.
// A failed write (ENOSPC, EIO, ...) is never ignored: it goes to `onError`.

import { closeSync, fsyncSync, openSync, truncateSync } from "node:fs";

export interface LogFile {
  /** Appends bytes; chunks of 4 KiB and more reach the OS before this returns. */
  write(bytes: Uint8Array): void;
  /** Hands everything written so far to the OS. */
  flush(): void;
  /** Flushes, waits for writes still in flight, fsyncs and closes. */
  close(): Promise<void>;
}

export class LogOpenError extends Error {}
export class LogWriteError extends Error {}

export interface LogOptions {
  /** Keep the first `keepBytes` bytes and append after them, instead of emptying the file. */
  keepBytes?: number;
  /** Called once with the first write error; later writes are dropped. */
  onError: (err: LogWriteError) => void;
}

/** Creates or empties the log at `path` (or, with keepBytes, cuts it to that length). */
export function openLog(path: string, options: LogOptions): LogFile {
  let fd: number;
  try {
    if (options.keepBytes === undefined) {
      fd = openSync(path, "w");
    } else {
      fd = openSync(path, "a");
      truncateSync(path, options.keepBytes);
    }
  } catch (err) {
    throw new LogOpenError(`cannot open log file '${path}': ${describe(err)}`);
  }
  const sink = Bun.file(fd).writer();
  let failed = false;
  let open = true;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    options.onError(new LogWriteError(`cannot write log file '${path}': ${describe(err)}`));
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
      closeSync(fd);
    },
  };
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
