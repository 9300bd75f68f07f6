// Non-blocking writers on stdout/stderr-like descriptors (src/output/stdio.ts), in-process: a full
// pipe takes nothing instead of blocking (a blocking write here would hang the test), the
// shared descriptor stays blocking for everyone else, a pipe without a reader fails with
// EPIPE, and a regular file is written at its own offset.

import { expect, test } from "bun:test";
import { closeSync, constants, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openWriter } from "../../src/output/stdio.ts";
import { StuckPipe } from "../support/fifo.ts";
import { tempDir } from "../support/server.ts";

const line = new TextEncoder().encode("Received 0 unique numbers, 0 duplicates. Unique total: 0\n");

/** The O_NONBLOCK bit of `fd`'s open file description, as the kernel reports it. */
function nonBlocking(fd: number): boolean {
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1];
  return (parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
}

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
