// The numbers log on disk: a file descriptor we open (and so truncate) ourselves, written
// through a Bun FileSink. Bun.file(path).writer() would not empty an existing file
// (oven-sh/bun#25968), so the fd is opened with node:fs and handed to Bun.file.

import { closeSync, fsyncSync, openSync } from "node:fs";

export interface LogFile {
  /** Appends bytes; chunks of 4 KiB and more reach the OS before this returns. */
  write(bytes: Uint8Array): void;
  /** Hands everything written so far to the OS. */
  flush(): void;
  /** Flushes, fsyncs and closes. */
  close(): void;
}

export class LogOpenError extends Error {}

/** Creates or empties the log at `path`. */
export function openLog(path: string): LogFile {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (err) {
    throw new LogOpenError(`cannot open log file '${path}': ${describe(err)}`);
  }
  const sink = Bun.file(fd).writer();
  let open = true;
  return {
    write: (bytes) => void sink.write(bytes),
    flush: () => void sink.flush(),
    close() {
      if (!open) return;
      open = false;
      sink.flush();
      fsyncSync(fd);
      closeSync(fd);
    },
  };
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "its directory does not exist",
    EISDIR: "it is a directory",
    EACCES: "permission denied",
    EROFS: "read-only file system",
    ENOTDIR: "a parent is not a directory",
  };
  return (e.code && reasons[e.code]) ?? e.message;
}
