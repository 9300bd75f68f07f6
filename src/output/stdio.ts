// Writing to standard output or error without ever blocking: a pipe nobody reads (or a
// terminal on hold) must not stop the event loop. A write takes what the descriptor can take
// now and says how much; the caller keeps the rest (src/output/backlog.ts).
//
// How, by what the descriptor is (on Linux with Bun 1.4.5 a write to a full pipe through the
// descriptor opened here fails with EAGAIN at once):
// - a pipe or terminal is opened anew through /proc/self/fd/N with O_NONBLOCK. That is a new
//   open file description, so the flag is ours alone: the shell, and whoever else shares the
//   pipe or terminal, keep their blocking descriptor (setting O_NONBLOCK on fd 1 itself would
//   change theirs too, and leave a terminal non-blocking for the shell after we exit);
// - a regular file (or block device) is written as it is: such a write never waits for a
//   reader, only for the disk; reopening it would lose its offset and O_APPEND;
// - a socket (systemd's journal stream) cannot be reopened, but send(2) takes MSG_DONTWAIT:
//   non-blocking for that one call, through bun:ffi, the shared description untouched (before
//   2026-12-07 it was given O_NONBLOCK with fcntl and its flags put back at exit, which a
//   SIGKILL never reaches: whoever shared the socket was left with a non-blocking one);
// - a pipe that /proc cannot reopen (no /proc, another user's pipe): O_NONBLOCK is set on the
//   shared description with fcntl, and the original flags are put back by `restore()` at
//   exit (not after a SIGKILL or a crash: a pipe has no per-call flag). A terminal is never
//   given O_NONBLOCK this way; without /proc it is written blocking, as are a socket and such
//   a pipe where bun:ffi cannot load libc.so.6 (musl, other systems).

import { constants, fstatSync, openSync, writeSync, type Stats } from "node:fs";
import { constants as os } from "node:os";
import { libc, type Libc } from "../sys/libc.ts";
import type { Write } from "./backlog.ts";

const F_GETFL = 3;
const F_SETFL = 4;
/** From Linux's <bits/socket.h>: this call only does not block; no SIGPIPE for a peer gone. */
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

export interface Writer {
  /** Takes what it can of `bytes` now; 0 when it would block. Other errors are thrown. */
  write: Write;
  /** Undoes any change made to the shared descriptor; idempotent. */
  restore(): void;
}

/** Opens a non-blocking writer on `fd` (1 or 2). Throws (EBADF) if `fd` is not open. */
export function openWriter(fd: number): Writer {
  const stat = fstatSync(fd);
  const c = libc();
  if (stat.isSocket() && c !== undefined) return socketWriter(c, fd);
  const { target, restore } = nonBlocking(fd, stat);
  return {
    write(bytes) {
      try {
        return writeSync(target, bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return 0;
        throw err;
      }
    },
    restore,
  };
}

const nothing = () => {};

/** errno numbers to their names (EPIPE, ECONNRESET, …), for the errors a write throws. */
const ERRNO_NAMES = new Map(Object.entries(os.errno).map(([name, n]) => [n, name]));

/**
 * A socket, written with send(MSG_DONTWAIT): nothing of the shared description changes (the
 * log's writer uses it too, for a log that is a socket: logfile.ts).
 */
export function socketWriter(c: Libc, fd: number): Writer {
  return {
    write(bytes) {
      if (bytes.length === 0) return 0;
      for (;;) {
        const sent = c.send(fd, bytes, bytes.length, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent >= 0) return sent;
        const errno = c.errno();
        if (errno === os.errno.EINTR) continue;
        if (errno === os.errno.EAGAIN) return 0;
        const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
        throw Object.assign(new Error(`${code}: send to descriptor ${fd}`), { code, errno: -errno });
      }
    },
    restore: nothing,
  };
}

function nonBlocking(fd: number, stat: Stats): { target: number; restore: () => void } {
  if (stat.isFile() || stat.isBlockDevice()) return { target: fd, restore: nothing };
  if (stat.isFIFO() || stat.isCharacterDevice()) {
    try {
      const flags = constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
      return { target: openSync(`/proc/self/fd/${fd}`, flags), restore: nothing };
    } catch (err) {
      // No reader on the pipe any more: a write to fd itself fails at once with EPIPE.
      if ((err as NodeJS.ErrnoException).code === "ENXIO") return { target: fd, restore: nothing };
      if (stat.isCharacterDevice()) return { target: fd, restore: nothing };
    }
  }
  return { target: fd, restore: setNonBlocking(fd) };
}

/** Sets O_NONBLOCK on fd's shared description; returns how to put the old flags back. */
function setNonBlocking(fd: number): () => void {
  const c = libc();
  if (c === undefined) return nothing;
  const fcntl = c.fcntl;
  const flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || flags & constants.O_NONBLOCK || fcntl(fd, F_SETFL, flags | constants.O_NONBLOCK) < 0) return nothing;
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    fcntl(fd, F_SETFL, flags);
  };
}
