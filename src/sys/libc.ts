// The few libc functions Bun has no API for, through bun:ffi (which works inside the
// executable too): one dlopen of libc.so.6, made on first use, shared by every caller in the
// thread. Where it cannot be loaded (not Linux, musl, no bun:ffi) there is no libc, and each
// caller goes on without what it wanted, as it documents.

export interface Libc {
  /** madvise(2) on [address, address + length). */
  madvise(address: number, length: number, advice: number): number;
  flock(fd: number, operation: number): number;
  /** lseek(2); -1 on failure (ENXIO for SEEK_DATA past the last data). */
  lseek(fd: number, offset: number, whence: number): number;
  /** fcntl(2); `arg` an int, or a buffer for the commands that take a pointer (struct flock). */
  fcntl(fd: number, cmd: number, arg: number | Uint8Array): number;
  /** send(2) of `length` bytes of `bytes`: bytes sent, or -1 (errno()). */
  send(fd: number, bytes: Uint8Array, length: number, flags: number): number;
  /** signal(2) with a handler given as a number (SIG_IGN = 1): the old handler. */
  signal(signal: number, handler: number): number | bigint;
  /** glibc's numbering of the real-time signals. */
  sigrtmin(): number;
  sigrtmax(): number;
  /** The calling thread's errno, as the last failed call left it. */
  errno(): number;
}

let loaded: Libc | null | undefined;
/** Why libc could not be loaded, when it could not (libcFailure()). */
let failure = "";

/** Why libc() is undefined, in a few words ("" when it is not, or not yet asked). */
export function libcFailure(): string {
  return failure;
}

/** libc, loaded on the first call; undefined where it cannot be loaded. */
export function libc(): Libc | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

function load(): Libc | null {
  if (process.platform !== "linux") {
    failure = `not Linux (${process.platform})`;
    return null;
  }
  try {
    const { dlopen, FFIType, read } = require("bun:ffi") as typeof import("bun:ffi");
    const { i32, i64, i64_fast, u64, ptr } = FFIType;
    const { symbols } = dlopen("libc.so.6", {
      madvise: { args: [u64, u64, i32], returns: i32 },
      flock: { args: [i32, i32], returns: i32 },
      lseek: { args: [i32, i64, i32], returns: i64_fast },
      // A pointer-sized third argument takes an int as well (the variadic int of F_SETFL).
      fcntl: { args: [i32, i32, ptr], returns: i32 },
      send: { args: [i32, ptr, u64, i32], returns: i64_fast },
      signal: { args: [i32, u64], returns: u64 },
      __libc_current_sigrtmin: { args: [], returns: i32 },
      __libc_current_sigrtmax: { args: [], returns: i32 },
      __errno_location: { args: [], returns: ptr },
    });
    return {
      madvise: symbols.madvise,
      flock: symbols.flock,
      lseek: (fd, offset, whence) => Number(symbols.lseek(fd, offset, whence)),
      fcntl: symbols.fcntl,
      send: (fd, bytes, length, flags) => Number(symbols.send(fd, bytes, length, flags)),
      signal: symbols.signal,
      sigrtmin: symbols.__libc_current_sigrtmin,
      sigrtmax: symbols.__libc_current_sigrtmax,
      errno: () => read.i32(symbols.__errno_location()!, 0),
    };
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
    // Under a low address-space limit (ulimit -v) JavaScriptCore runs without its JIT, and
    // Bun says only that bun:ffi requires it: the cause is the limit, not libc.
    if (/requires the JIT/.test(failure)) failure += ", which is off here: is the memory limit (ulimit -v) too low?";
    return null;
  }
}
