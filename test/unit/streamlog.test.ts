// The writer of a log that is a stream (src/server/logfile.ts streamLog), in-process on a
// FIFO whose reader does not read: it writes pieces of whole lines that a pipe takes whole
// or not at all, so a pipe that fills holds whole lines only (a FileSink writing the same
// buffer filled it to its last byte, part of a line); it says when it is too far behind and
// when it has caught up; and its close gives up after the stop timeout, naming what is left.

import { expect, test } from "bun:test";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { encodeLines } from "../../src/core/protocol.ts";
import { READER_LAG_BYTES, PIECE_BYTES, streamLog } from "../../src/server/logfile.ts";
import { StuckPipe } from "../support/fifo.ts";
import { StuckTerminal } from "../support/pty.ts";
import { libc } from "../../src/sys/libc.ts";
import { parseLog } from "../support/logs.ts";
import { sequence } from "../support/sequence.ts";

/** A stream log on a FIFO of `capacity` bytes that nobody reads yet. */
function stalledStream(capacity: number, stopTimeoutMs: number) {
  const pipe = new StuckPipe(undefined, capacity);
  pipe.closeWriteEnd();
  const fd = openSync(pipe.path, constants.O_WRONLY | constants.O_NONBLOCK);
  const errors: string[] = [];
  const backlog: boolean[] = [];
  const log = streamLog({ fd, path: pipe.path, stream: true }, (message) => errors.push(message), {
    onReaderLag: (held) => backlog.push(held),
    stopTimeoutMs,
  });
  return { pipe, fd, log, errors, backlog };
}

test("a full pipe holds whole lines only; close gives up after the stop timeout, naming the bytes left", async () => {
  const { pipe, fd, log, errors } = stalledStream(4096, 50);
  const lines = sequence(0, 10_000);
  log.write(encodeLines(lines));
  await log.close();
  const left = 10_000 * 10 - PIECE_BYTES;
  expect(errors).toEqual([`cannot write log file '${pipe.path}': its reader did not take the last lines within 0.05 s of the stop (--stop-timeout): ${left} bytes of them are not written`]);
  // What the pipe holds, read at once (its writer would go on once there is room).
  const read = openSync(pipe.path, constants.O_RDONLY | constants.O_NONBLOCK);
  const held = new Uint8Array(8192);
  const n = readSync(read, held);
  closeSync(read);
  closeSync(fd);
  pipe.closeHeldEnd();
  // One piece: 409 whole lines, the first ones written.
  expect(n).toBe(PIECE_BYTES);
  expect(Array.from(parseLog(held.subarray(0, n)))).toEqual(Array.from(lines.subarray(0, PIECE_BYTES / 10)));
});

// Before, the close went on waiting for the reader to take the rest, which it never would:
// the stop took the whole --stop-timeout (10 s by default) to end (a review).
test("a reader that leaves while the close waits for it: the close ends at the failure, not at the stop timeout", async () => {
  const { pipe, fd, log, errors } = stalledStream(4096, 60_000);
  log.write(encodeLines(sequence(0, 10_000)));
  const closing = log.close();
  pipe.closeHeldEnd();
  await closing;
  closeSync(fd);
  expect(errors).toEqual([`cannot write log file '${pipe.path}': its reader has gone (broken pipe)`]);
});

// A stream the writer could write without a pause (/dev/null) is still written a few ms at a
// time, the event loop running between: a slow device (a serial console) had the server
// serve nothing for seconds, a stop included. A review's mutant: a bound of 5 s, not 5 ms.
test("a stream is written a few milliseconds at a time, the rest in later turns of the event loop", async () => {
  const fd = openSync("/dev/null", constants.O_WRONLY | constants.O_NONBLOCK);
  const errors: string[] = [];
  const log = streamLog({ fd, path: "/dev/null", stream: true }, (message) => errors.push(message), { stopTimeoutMs: 60_000 });
  const bytes = encodeLines(sequence(0, 6_000_000)); // 60 MB: ~15,000 pieces, far more than 5 ms of writes
  log.write(bytes);
  const left = log.waiting!();
  await log.close();
  closeSync(fd);
  expect(left).toBeGreaterThan(0);
  expect(left).toBeLessThan(bytes.length);
  expect({ waiting: log.waiting!(), errors }).toEqual({ waiting: 0, errors: [] });
});

// A terminal has no readiness for the writer to wait for: it is tried again, at once only
// while it takes something. A review's mutants: retried at every turn of the loop (or with no
// cap on the wait between tries), the writer spun on a core while a terminal took nothing.
test("a terminal that takes nothing: tried again without spinning while the close waits, then the close gives up", async () => {
  const terminal = new StuckTerminal();
  const fd = openSync(terminal.path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  const errors: string[] = [];
  const log = streamLog({ fd, path: terminal.path, stream: true }, (message) => errors.push(message), { stopTimeoutMs: 300 });
  log.write(encodeLines(sequence(0, 10_000))); // 100 kB: more than a pty holds
  const before = process.cpuUsage();
  const started = performance.now();
  await log.close();
  const wall = performance.now() - started;
  const used = process.cpuUsage(before);
  closeSync(fd);
  terminal.close();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain("its reader did not take the last lines within 0.3 s of the stop");
  // This process's CPU over the wait: the writer's tries, and whatever else it runs.
  expect((used.user + used.system) / 1000 / wall).toBeLessThan(0.5);
});

test("past READER_LAG_BYTES waiting it says so once; once the reader has taken everything, that it caught up; every line in order", async () => {
  const { pipe, fd, log, errors, backlog } = stalledStream(65536, 10_000);
  const lines = sequence(0, 2_000_000); // 20 MB, over READER_LAG_BYTES
  const bytes = encodeLines(lines);
  for (let at = 0; at < bytes.length; at += 1 << 17) log.write(bytes.subarray(at, at + (1 << 17)));
  expect(bytes.length).toBeGreaterThan(READER_LAG_BYTES);
  expect(backlog).toEqual([true]);
  const reader = pipe.reader();
  await log.close();
  expect(backlog).toEqual([true, false]);
  while (reader.text.length < bytes.length && (await reader.next()) !== null);
  closeSync(fd);
  expect(errors).toEqual([]);
  expect(reader.text.length).toBe(bytes.length);
  expect(Buffer.from(reader.text, "latin1").equals(Buffer.from(bytes))).toBe(true);
});

/**
 * A connected pair of Unix stream sockets (socketpair(2) through bun:ffi), the first with the
 * smallest send buffer Linux allows: a socket, unlike a pipe, takes part of a write.
 */
function socketPair(): [number, number] {
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const { symbols } = dlopen("libc.so.6", {
    socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  });
  const fds = new Int32Array(2);
  const [AF_UNIX, SOCK_STREAM, SOL_SOCKET, SO_SNDBUF] = [1, 1, 1, 7];
  expect(symbols.socketpair(AF_UNIX, SOCK_STREAM, 0, ptr(fds))).toBe(0);
  expect(symbols.setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, ptr(new Int32Array([1])), 4)).toBe(0);
  return [fds[0], fds[1]];
}

// socketpair(2) through libc.so.6, as the server reaches libc (src/sys/libc.ts): where that
// cannot be loaded (musl), the server has no lock either, and this test is skipped.
test.skipIf(libc() === undefined)("a socket that takes part of a piece: the rest follows, every byte once and in order", async () => {
  const [fd, peer] = socketPair();
  const bytes = encodeLines(sequence(0, 100_000)); // 1 MB through a send buffer of a few KiB
  const errors: string[] = [];
  const log = streamLog({ fd, path: "socket", stream: true }, (message) => errors.push(message), { stopTimeoutMs: 10_000 });
  // Reads until every byte has come or one differs from what was written (a byte lost or
  // written twice shows as the first difference).
  let received = 0;
  const reading = (async () => {
    for await (const chunk of Bun.file(peer).stream()) {
      if (!Buffer.from(chunk).equals(Buffer.from(bytes.subarray(received, received + chunk.length)))) break;
      received += chunk.length;
      if (received === bytes.length) break;
    }
  })();
  for (let at = 0; at < bytes.length; at += 1 << 17) log.write(bytes.subarray(at, at + (1 << 17)));
  // Resolves once the writer has handed the socket every byte, or has failed.
  await log.close();
  expect(errors).toEqual([]);
  await reading;
  closeSync(fd);
  closeSync(peer);
  expect(received).toBe(bytes.length);
});
