// Descriptor-level helpers for the tests that hand a process a socket: a connected pair
// (Bun has no socketpair), and what the kernel says of a descriptor's open file description.

import { constants, readFileSync } from "node:fs";

/** A connected pair of Unix stream sockets (socketpair(2) through bun:ffi). */
export function socketPair(): [number, number] {
  const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
  const { symbols, close } = dlopen("libc.so.6", { socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
  const fds = new Int32Array(2);
  const AF_UNIX = 1;
  const SOCK_STREAM = 1;
  const result = symbols.socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
  close();
  if (result !== 0) throw new Error("socketpair failed");
  return [fds[0], fds[1]];
}

/** The O_NONBLOCK bit of this process's `fd`'s open file description, as the kernel reports it. */
export function nonBlocking(fd: number): boolean {
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1];
  return (parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
}
