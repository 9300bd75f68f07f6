// Opening the numbers log, once, and owning it (docs/log.md). The main thread opens the path
// a single time, without emptying it; every thread writes through that one descriptor (fds
// are process-wide), so nothing reopens the path later. A regular file is then locked with
// flock(LOCK_EX|LOCK_NB) before anything empties or appends to it: a second instance on
// another port is refused, naming the owner, and the file is left byte for byte as it was.
// The kernel drops the lock when the owner's descriptor goes, at exit or at kill -9. A record
// lock over the whole file is taken too, so that a program that locks with lockf() or fcntl()
// (not flock) is seen, and sees this one.
// The descriptor is opened with node:fs: Bun.file(path).writer() would not empty an existing
// file (oven-sh/bun#25968), and could not be asked for O_NONBLOCK or a lock.
// A log that is not a regular file (a pipe, a FIFO, a character device, a socket that is
// standard output) has nothing to empty and is not locked; it is written by one thread only
// (see LogHandle.stream).

import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readFileSync, readlinkSync, statfsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { libc, libcFailure, type Libc } from "../sys/libc.ts";
import { listeningSockets, socketInodes } from "../procnet.ts";

/** What a thread needs to write the log; plain data, so it can be posted to a worker. */
export interface LogHandle {
  fd: number;
  path: string;
  /**
   * The log is not a regular file. Only a regular file opened for append takes a write of
   * any size whole; a pipe takes at most PIPE_BUF (4 KiB) whole, so with several writers
   * their lines would tear. A stream log is therefore written by the main thread alone.
   */
  stream: boolean;
}

export class LogOpenError extends Error {}

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EACCES = 13;
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_WRLCK = 1;

export class OwnedLog implements LogHandle {
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly path: string,
    readonly stream: boolean,
  ) {}

  /**
   * Opens the log at `path` (creating a missing one) and, for a regular file, takes its lock;
   * `readable` (for --resume) opens it for reading too, so that what is loaded is the file
   * locked. Throws a LogOpenError, in one line and with the log untouched, when it cannot:
   * another live instance owns it, a FIFO has no reader (its open would block start-up for
   * good), the path is a socket or a block device, or the open fails.
   */
  static open(path: string, readable = false): OwnedLog {
    const kind = kindOf(path);
    if (kind === "socket") return new OwnedLog(duplicate(path), path, true);
    if (kind === "block") throw blockDevice(path);
    const kernel = kind === "file" ? kernelFileSystem(path) : undefined;
    if (kernel !== undefined) throw new LogOpenError(`cannot use log file '${path}': it is a file of the kernel's ${kernel}, where a write sets what it controls`);
    let fd: number;
    try {
      // O_NONBLOCK on every stream: a FIFO with no reader is then ENXIO at once, not an open
      // that never returns; and a full one, or a terminal that takes nothing (Ctrl-S, nobody
      // reading its pty), is EAGAIN, where a blocking write froze the whole server, a stop
      // included (Bun's FileSink makes a pipe non-blocking, not a terminal). The description
      // is this open's own, shared with no other process. O_NOCTTY: a terminal as the log
      // never becomes the server's controlling terminal. Never read: a FIFO opened for
      // reading too would be its own reader, and never see its reader leave.
      const nonBlocking = kind === "file" ? 0 : constants.O_NONBLOCK;
      // Only a regular file is loaded: a device is opened as before, for writing alone (one a
      // user may write but not read must still serve).
      const access = readable && kind === "file" ? constants.O_RDWR : constants.O_WRONLY;
      fd = openSync(path, access | constants.O_CREAT | constants.O_APPEND | constants.O_CLOEXEC | constants.O_NOCTTY | nonBlocking, 0o666);
    } catch (err) {
      const noReader = kind === "fifo" && (err as NodeJS.ErrnoException).code === "ENXIO";
      if (noReader) throw new LogOpenError(`cannot open log file '${path}': it is a FIFO that nobody reads (start its reader first)`);
      throw new LogOpenError(`cannot open log file '${path}': ${danglingLink(path, err) ?? errorReason(err)}`);
    }
    try {
      const stat = fstatSync(fd);
      // The path was swapped for a device since it was looked at.
      if (stat.isBlockDevice()) throw blockDevice(path);
      const stream = !stat.isFile();
      if (!stream) {
        lock(fd, path);
        lockRecords(fd, path);
        appendOnStandardStreams(fd, path);
      }
      return new OwnedLog(fd, path, stream);
    } catch (err) {
      closeSync(fd);
      throw err instanceof LogOpenError ? err : new LogOpenError(`cannot open log file '${path}': ${errorReason(err)}`);
    }
  }

  /**
   * Cuts a regular file to its first `keepBytes` bytes (0: empties it); a stream has no
   * length. After --resume, `loadedBytes` is the file's length when the load was done: a
   * file of another length was changed by another process meanwhile. Shorter, ftruncate
   * would fill the gap with NUL bytes (before, the start then went on with numbers the file
   * no longer held); longer, the cut would drop what was appended unread.
   */
  cut(keepBytes: number, loadedBytes?: number): void {
    if (this.stream) return;
    try {
      const size = fstatSync(this.fd).size;
      if (size < keepBytes || (loadedBytes !== undefined && size !== loadedBytes)) {
        throw new LogOpenError(`cannot resume from '${this.path}': it changed while it was loaded (another process made it ${size} bytes long, ${loadedBytes ?? keepBytes} when loaded); the file was left as it was`);
      }
      // Nothing to cut, nothing asked of the file: an append-only one (chattr +a), which
      // refuses any ftruncate, can be resumed whole, or used from empty.
      if (size !== keepBytes) ftruncateSync(this.fd, keepBytes);
    } catch (err) {
      if (err instanceof LogOpenError) throw err;
      const what = keepBytes === 0 ? "empty log file" : "cut log file";
      const whole = keepBytes === 0 ? "" : " back to its last whole line";
      const hint = (err as NodeJS.ErrnoException).code === "EPERM" ? " (is it append-only or immutable? lsattr shows it)" : "";
      throw new LogOpenError(`cannot ${what} '${this.path}'${whole}: ${errorReason(err)}${hint}`);
    }
  }

  /**
   * Whether a regular file's last name is gone (nlink 0: `rm`, or a rename over it): what is
   * written to it then is lost at exit. A log renamed away (logrotate) still has its name.
   */
  deleted(): boolean {
    if (this.stream || this.closed) return false;
    try {
      return fstatSync(this.fd).nlink === 0;
    } catch {
      return false;
    }
  }

  /** The device that the log is when it keeps nothing (/dev/null, /dev/zero), else undefined. */
  discards(): string | undefined {
    try {
      const { rdev, mode } = fstatSync(this.fd);
      if ((mode & constants.S_IFMT) !== constants.S_IFCHR) return undefined;
      return ["/dev/null", "/dev/zero"].find((device) => {
        try {
          return statSync(device).rdev === rdev;
        } catch {
          return false;
        }
      });
    } catch {
      return undefined;
    }
  }

  /**
   * The standard streams that are this log itself, a file, pipe or socket (`> numbers.log`,
   * `--log /dev/stdout` into a file, a pipe or the journal): what they print lands between
   * the log's lines. Not a device: `/dev/null` or a terminal is shared as a matter of course.
   */
  sharedStreams(): ("output" | "error")[] {
    try {
      const log = fstatSync(this.fd);
      if (!log.isFile() && !log.isFIFO() && !log.isSocket()) return [];
      return standardStreamsOf(this.fd).map((std) => (std === 1 ? "output" : "error"));
    } catch {
      return [];
    }
  }

  /** What threads are handed: the descriptor, not the object. */
  get handle(): LogHandle {
    return { fd: this.fd, path: this.path, stream: this.stream };
  }

  /** Closes the descriptor (and so drops the lock), once every writer is done with it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

type Kind = "file" | "fifo" | "socket" | "block" | "other";

/** What the path is now (following links: /dev/stdout names what fd 1 is). */
function kindOf(path: string): Kind {
  try {
    const stat = statSync(path);
    return stat.isFile() ? "file" : stat.isFIFO() ? "fifo" : stat.isSocket() ? "socket" : stat.isBlockDevice() ? "block" : "other";
  } catch {
    return "file"; // missing (created by the open) or unreadable (the open says why)
  }
}

/**
 * The kernel's own file systems, by statfs(2) magic number (<linux/magic.h>): their files
 * are settings and controls (`/proc/sys/vm/min_free_kbytes` takes a number), never a log.
 */
const KERNEL_FILE_SYSTEMS = new Map([
  [0x9fa0, "procfs"],
  [0x62656572, "sysfs"],
  [0x27e0eb, "cgroupfs"],
  [0x63677270, "cgroup2fs"],
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
  [0x73636673, "securityfs"],
  [0x62656570, "configfs"],
  [0xcafe4a11, "bpffs"],
  [0xde5e81e4, "efivarfs"],
  [0x6165676c, "pstore"],
]);

/** The name of the kernel file system that holds an existing `path`, if it is one. */
function kernelFileSystem(path: string): string | undefined {
  try {
    return KERNEL_FILE_SYSTEMS.get(Number(statfsSync(path).type));
  } catch {
    return undefined; // missing (created by the open) or unreadable (the open says why)
  }
}

/** A block device (a disk, a partition) is written from its start: O_APPEND does nothing there. */
function blockDevice(path: string): LogOpenError {
  return new LogOpenError(`cannot use log file '${path}': it is a block device (a disk or a partition), which would be written over from its start`);
}

/** libc for the lock and the duplicate: without them a log cannot be made ours. */
function needLibc(path: string): Libc {
  const c = libc();
  if (c === undefined) throw new LogOpenError(`cannot use log file '${path}': libc.so.6, needed to lock it, cannot be loaded through bun:ffi (${libcFailure()})`);
  return c;
}

const F_DUPFD_CLOEXEC = 1030;

/**
 * A socket cannot be opened by path (open() fails with ENXIO). Standard output (or error,
 * or /dev/fd/N) that is a socket, as from systemd or Bun.spawn, is used through a duplicate
 * of that descriptor instead; any other socket is refused.
 */
function duplicate(path: string): number {
  const m = /^\/dev\/(stdout|stderr)$|^\/(?:dev\/fd|proc\/self\/fd)\/(\d+)$/.exec(path);
  if (m) {
    const fd = needLibc(path).fcntl(m[1] === "stdout" ? 1 : m[1] === "stderr" ? 2 : Number(m[2]), F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) return fd;
  }
  throw new LogOpenError(`cannot open log file '${path}': it is a socket (a log is a file, a pipe, a FIFO, a device, or standard output)`);
}

const F_GETFL = 3;
const F_SETFL = 4;

/**
 * Standard output or error that is this very file (`--log /dev/stdout > file`, or the log's
 * own path after `>`) but was opened without O_APPEND writes at an offset of its own, which
 * starts at 0: its report lines and notices would overwrite the log's first lines. Such a
 * descriptor is switched to append (its open file description is the shell's `>`, used by
 * nobody else that could want its offset), so every write of every writer lands whole at the
 * end, as for a pipe. Done once the log is locked, so a refused start changes nothing.
 */
function appendOnStandardStreams(fd: number, path: string): void {
  for (const std of standardStreamsOf(fd)) {
    const { fcntl, errno } = needLibc(path);
    const flags = fcntl(std, F_GETFL, 0);
    if (flags >= 0 && (flags & constants.O_APPEND) !== 0) continue;
    if (flags < 0 || fcntl(std, F_SETFL, flags | constants.O_APPEND) < 0) {
      throw new LogOpenError(`cannot use log file '${path}': it is also standard ${std === 1 ? "output" : "error"}, which cannot be made to append (errno ${errno()})`);
    }
  }
}

/** Standard output and error (1, 2) where they are the file open on `fd`; a closed one is not. */
function standardStreamsOf(fd: number): (1 | 2)[] {
  const log = fstatSync(fd);
  return ([1, 2] as const).filter((std) => {
    try {
      const stat = fstatSync(std);
      return stat.dev === log.dev && stat.ino === log.ino;
    } catch {
      return false; // closed
    }
  });
}

/**
 * Takes the exclusive lock on the log, or throws naming its owner. flock, not fcntl's
 * record locks: an flock belongs to the open file description, so it is not lost when any
 * thread closes some other descriptor of the file, and /proc/locks names its holder.
 */
function lock(fd: number, path: string): void {
  const { flock, errno } = needLibc(path);
  if (flock(fd, LOCK_EX | LOCK_NB) === 0) return;
  const code = errno();
  if (code !== EWOULDBLOCK) throw new LogOpenError(`cannot lock log file '${path}' (errno ${code}): its file system may not support flock`);
  throw new LogOpenError(`cannot use log file '${path}': another server writes it (${ownerOf(fd)}); stop it first, or pick another --log`);
}

/**
 * Takes a write lock on the whole file as a record lock (fcntl's), or throws naming its
 * holder: locks taken with lockf() or fcntl() do not see an flock, nor it them. An open file
 * description's lock (F_OFD_SETLK), so that, like the flock, no close of another descriptor
 * of the file drops it. Where the kernel or file system has no such locks the flock alone
 * stands; only a lock held by another process refuses the start.
 */
function lockRecords(fd: number, path: string): void {
  const { fcntl, errno } = needLibc(path);
  // struct flock on Linux (x86-64 and arm64): short l_type, short l_whence, then 64-bit
  // l_start and l_len, int l_pid. Zero is SEEK_SET, from 0 to the end of the file and beyond.
  const record = new Uint8Array(32);
  const fields = new DataView(record.buffer);
  fields.setInt16(0, F_WRLCK, true);
  if (fcntl(fd, F_OFD_SETLK, record) === 0) return;
  const code = errno();
  if (code !== EWOULDBLOCK && code !== EACCES) return;
  // Who holds it: a process's lockf() or fcntl() lock gives its pid; another open file
  // description's gives -1.
  fields.setInt16(0, F_WRLCK, true);
  const pid = fcntl(fd, F_OFD_GETLK, record) === 0 ? fields.getInt32(24, true) : -1;
  throw new LogOpenError(`cannot use log file '${path}': another process holds a lock on it (${pid > 0 ? `pid ${pid}, a lockf or fcntl lock` : "owner unknown"}); stop it first, or pick another --log`);
}

/**
 * The lock holder as "pid 1234, port 4000", read from the kernel's own
 * tables (/proc/locks, then that process's listening sockets), so it is never stale the way
 * a pid file left by kill -9 would be. Falls back to "owner unknown" without /proc.
 */
function ownerOf(fd: number): string {
  try {
    const { dev, ino } = fstatSync(fd);
    // st_dev as the kernel prints it in /proc/locks: major:minor in hex.
    const major = (dev >>> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
    const id = `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${ino}`;
    const row = readFileSync("/proc/locks", "latin1")
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .find((f) => f[1] === "FLOCK" && f[5] === id);
    if (!row) return "owner unknown";
    const pid = Number(row[4]);
    const [port, ...more] = listeningPorts(pid);
    if (port === undefined) return `pid ${pid}`;
    // Its numbers port first: bound before the metrics port, it has the lower descriptor.
    // Before, the ports were listed by number, the metrics port first at times, unnamed.
    return `pid ${pid}, port ${port}${more.length === 0 ? "" : `, metrics port ${more.join(", ")}`}`;
  } catch {
    return "owner unknown";
  }
}

/**
 * The TCP ports process `pid` listens on, in the order of its descriptors: its socket inodes
 * among the listeners (procnet.ts).
 */
function listeningPorts(pid: number): number[] {
  const listening = new Map(listeningSockets().map((s) => [s.inode, s.port]));
  const ports = (socketInodes(pid) ?? []).flatMap((inode) => listening.get(inode) ?? []);
  return [...new Set(ports)];
}

/** Symbolic links followed at most, as the kernel does (ELOOP past 40). */
const MAX_LINKS = 40;

/**
 * ENOENT from an open that creates: the directory is missing, or `path` is a symbolic link
 * (or a chain of them) whose last target's directory is: said so, naming that target, as
 * written in the last link for one link, resolved for a chain.
 */
function danglingLink(path: string, err: unknown): string | undefined {
  if ((err as NodeJS.ErrnoException).code !== "ENOENT") return undefined;
  let target = path;
  let written = path;
  let links = 0;
  try {
    for (; links < MAX_LINKS && lstatSync(target).isSymbolicLink(); links++) {
      written = readlinkSync(target);
      target = resolve(dirname(target), written);
    }
  } catch {
    // `target` does not exist: the link's end.
  }
  if (links === 0 || links === MAX_LINKS) return undefined;
  return `it is a symbolic link${links > 1 ? ` (through ${links - 1} more)` : ""} to '${links > 1 ? target : written}', whose directory does not exist`;
}

export function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: "its directory does not exist",
    EISDIR: "it is a directory",
    EACCES: "permission denied",
    EROFS: "read-only file system",
    ENOTDIR: "a parent is not a directory",
    ENOSPC: "no space left on device",
    EIO: "input/output error",
    ENXIO: "no such device or address",
    EPIPE: "its reader has gone (broken pipe)",
    ETXTBSY: "it is a program that is running",
    ELOOP: "too many symbolic links on the way",
    ENAMETOOLONG: "the name is too long",
    EPERM: "operation not permitted",
    EDQUOT: "disk quota exceeded",
    EFBIG: "the file is too large",
    EMFILE: "too many open files",
  };
  return (e.code && reasons[e.code]) ?? e.message;
}
