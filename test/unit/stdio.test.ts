// Non-blocking writers on stdout/stderr-like descriptors (src/output/stdio.ts), in-process: a full
// pipe or socket takes nothing instead of blocking (a blocking write here would hang the test),
// the shared descriptor stays blocking for everyone else, a pipe or socket without a reader
// fails with EPIPE, and a regular file is written at its own offset.

import { expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openWriter } from "../../src/output/stdio.ts";
import { StuckPipe } from "../support/fifo.ts";
import { nonBlocking, socketPair } from "../support/sockets.ts";
import { tempDir } from "../support/server.ts";

const line = new TextEncoder().encode("Received 0 unique numbers, 0 duplicates. Unique total: 0\n");


test("a full pipe takes nothing, at once, and its shared descriptor stays blocking", () => {
  const pipe = new StuckPipe();
  const writer = openWriter(pipe.writeEnd);
  let taken = 0;
  for (let n; (n = writer.write(line)) > 0; ) taken += n;
  expect(taken).toBeGreaterThan(60_000);
  for (let i = 0; i < 1000; i++) expect(writer.write(line)).toBe(0);
  expect(nonBlocking(pipe.writeEnd)).toBe(false);
  pipe.closeWriteEnd();
  pipe.closeHeldEnd();
});

test("a pipe whose reader is gone fails with EPIPE", () => {
  const pipe = new StuckPipe();
  pipe.closeHeldEnd();
  const writer = openWriter(pipe.writeEnd);
  expect(() => writer.write(line)).toThrow(expect.objectContaining({ code: "EPIPE" }));
  pipe.closeWriteEnd();
});

// Before, a socket was given O_NONBLOCK on its shared description, put back at exit: after a
// SIGKILL whoever shared it (the journal's other writers, a parent) kept a non-blocking socket.
test("a full socket takes nothing, at once, and its shared descriptor is never made non-blocking; a peer gone is EPIPE", () => {
  const [ours, peer] = socketPair();
  const writer = openWriter(ours);
  let taken = 0;
  for (let n; (n = writer.write(line)) > 0; ) {
    taken += n;
    expect(nonBlocking(ours)).toBe(false);
  }
  expect(taken).toBeGreaterThan(line.length);
  for (let i = 0; i < 1000; i++) expect(writer.write(line)).toBe(0);
  expect(nonBlocking(ours)).toBe(false);
  const head = Buffer.alloc(line.length);
  expect(readSync(peer, head)).toBe(line.length);
  expect(head.toString("latin1")).toBe(new TextDecoder().decode(line));
  closeSync(peer);
  expect(() => writer.write(line)).toThrow(expect.objectContaining({ code: "EPIPE" }));
  closeSync(ours);
});

test("a regular file is written through its own descriptor: offset and O_APPEND kept", () => {
  const path = join(tempDir(), "out.txt");
  writeFileSync(path, "before\n");
  const fd = openSync(path, "a");
  const writer = openWriter(fd);
  expect(writer.write(line)).toBe(line.length);
  closeSync(fd);
  expect(readFileSync(path, "utf8")).toBe(`before\n${new TextDecoder().decode(line)}`);
});

test("a descriptor that is not open is an error (EBADF), not a hang", () => {
  expect(() => openWriter(4321)).toThrow(expect.objectContaining({ code: "EBADF" }));
});
