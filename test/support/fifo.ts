// A named pipe whose reader does not read: writes to it block (or fail with EAGAIN) once it
// holds 64 KiB (or the smaller capacity asked for), as with `numbers-server | something-stuck`.
// (A Bun.spawn "pipe" cannot stand in: Bun reads it into memory whether or not the test does.)

import { closeSync, constants, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Lines, tempDir } from "./server.ts";

/** fcntl(2) command that sets a pipe's capacity (Linux; at least a page, rounded up to pages). */
const F_SETPIPE_SZ = 1031;

/** Sets the capacity of the pipe open at `fd`; returns the capacity the kernel set. */
function setPipeSize(fd: number, bytes: number): number {
  const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
  const { i32 } = FFIType;
  const libc = dlopen("libc.so.6", { fcntl: { args: [i32, i32, i32], returns: i32 } });
  try {
    const set = libc.symbols.fcntl(fd, F_SETPIPE_SZ, bytes);
    if (set < bytes) throw new Error(`F_SETPIPE_SZ ${bytes} failed (${set})`);
    return set;
  } finally {
    libc.close();
  }
}

export class StuckPipe {
  readonly path: string;
  /** Our end, open for reading (and writing, to fill it); never read until `reader()`. */
  private readonly held: number;
  /** A blocking write end, like a shell's pipe: hand it to a process as stdout or stderr. */
  readonly writeEnd: number;

  /**
   * `capacity` shrinks the pipe (4096 is the least), so that a writer fills it sooner: a
   * server writing a report per millisecond fills 64 KiB in about a second, 4 KiB at once.
   */
  constructor(dir = tempDir(), capacity?: number) {
    this.path = join(dir, "pipe");
    const mkfifo = Bun.spawnSync(["mkfifo", this.path]);
    if (mkfifo.exitCode !== 0) throw new Error(`mkfifo failed: ${mkfifo.stderr}`);
    this.held = openSync(this.path, constants.O_RDWR | constants.O_NONBLOCK);
    if (capacity !== undefined) setPipeSize(this.held, capacity);
    this.writeEnd = openSync(this.path, constants.O_WRONLY);
  }

  /** Fills the pipe with copies of `line` until it takes no more; returns the bytes written. */
  fill(line: string): number {
    let bytes = 0;
    try {
      for (;;) bytes += writeSync(this.held, line);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    }
    return bytes;
  }

  /**
   * Starts reading: the lines so far and to come, ending once every writer has closed
   * (call `closeWriteEnd()` once a process has it).
   */
  reader(): Lines {
    const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.closeOnce("held");
    return new Lines(Bun.file(fd).stream());
  }

  /** Closes our read end without reading: the pipe then has no reader (a writer gets EPIPE). */
  closeHeldEnd(): void {
    this.closeOnce("held");
  }

  /** Our copy of the write end, once a spawned process has its own. */
  closeWriteEnd(): void {
    this.closeOnce("writeEnd");
  }

  private closed = new Set<string>();
  private closeOnce(which: "held" | "writeEnd"): void {
    if (this.closed.has(which)) return;
    this.closed.add(which);
    closeSync(this[which]);
  }
}
