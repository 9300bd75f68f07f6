// The 10^9-bit de-duplication set of src/core/bitmap.ts: its size, its shared form, its
// huge-page advice, its pages mapped late (touchPages), and test-and-set at both ends of the
// number range.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { adviseHugePages, BITMAP_BYTES, createBitmap, NUMBER_SPACE, testAndSet, touchPages } from "../../src/core/bitmap.ts";
import { libc } from "../../src/sys/libc.ts";
import { untouchedBitmap } from "../support/bitmaps.ts";

test("one bit per number: 125,000,000 bytes, all clear", () => {
  expect(NUMBER_SPACE).toBe(1_000_000_000);
  const bits = createBitmap();
  expect(bits.length).toBe(125_000_000);
  expect(BITMAP_BYTES).toBe(125_000_000);
  expect(bits.buffer).toBeInstanceOf(ArrayBuffer);
  expect(bits[0] | bits[62_500_000] | bits[124_999_999]).toBe(0);
});

test("createBitmap(true) is backed by a SharedArrayBuffer of the same size", () => {
  const bits = createBitmap(true);
  expect(bits.buffer).toBeInstanceOf(SharedArrayBuffer);
  expect(bits.buffer.byteLength).toBe(125_000_000);
  expect(bits.length).toBe(125_000_000);
});

test("testAndSet is true once per number, at both ends and their neighbours", () => {
  const bits = createBitmap();
  const edges = [0, 1, 6, 7, 8, 9, 15, 16, 999_999_990, 999_999_991, 999_999_992, 999_999_998, 999_999_999];
  for (const n of edges) expect(testAndSet(bits, n), `first ${n}`).toBe(true);
  for (const n of edges) expect(testAndSet(bits, n), `again ${n}`).toBe(false);
  // Bit n & 7 of byte n >> 3: 0, 1, 6, 7 | 8, 9, 15 | 16.
  expect(Array.from(bits.subarray(0, 3))).toEqual([0b1100_0011, 0b1000_0011, 0b0000_0001]);
  // 999,999,990 and 991 are bits 6 and 7 of the second-last byte; 992, 998, 999 bits 0, 6, 7 of the last.
  expect(Array.from(bits.subarray(124_999_998))).toEqual([0b1100_0000, 0b1100_0001]);
});

test("setting a number leaves its neighbours clear", () => {
  for (const n of [0, 7, 8, 999_999_999]) {
    const bits = createBitmap();
    expect(testAndSet(bits, n)).toBe(true);
    for (const other of [n - 1, n + 1]) {
      if (other >= 0 && other < NUMBER_SPACE) expect(testAndSet(bits, other), `${other} after ${n}`).toBe(true);
    }
  }
});

test.skipIf(process.platform !== "linux")("on Linux the bitmap's memory is advised onto huge pages (smaps: VmFlags hg)", () => {
  const bits = createBitmap();
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const middle = ptr(bits) + BITMAP_BYTES / 2;
  // /proc/self/smaps: a "start-end perms ..." line per mapping, then its fields, VmFlags last.
  let covers = false;
  let flags: string[] | undefined;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) covers = Number.parseInt(range[1]!, 16) <= middle && middle < Number.parseInt(range[2]!, 16);
    else if (covers && line.startsWith("VmFlags:")) flags = line.slice(8).trim().split(/\s+/);
  }
  expect(flags, "a mapping covers the bitmap").toBeDefined();
  expect(flags).toContain("hg");
  expect(adviseHugePages(bits), "the advice is taken again").toBe(true);
});

/** The whole 4 KiB pages inside `bits`: their first address and count. */
function innerPages(bits: Uint8Array): { first: number; count: number } {
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const first = Math.ceil(ptr(bits) / 4096) * 4096;
  return { first, count: Math.floor((ptr(bits) + bits.length - first) / 4096) };
}

/** How many of those pages are resident (mincore(2), through bun:ffi). */
function residentPages(bits: Uint8Array): number {
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const { symbols, close } = dlopen("libc.so.6", { mincore: { args: [FFIType.u64, FFIType.u64, FFIType.ptr], returns: FFIType.i32 } });
  const { first, count } = innerPages(bits);
  const vec = new Uint8Array(count);
  expect(symbols.mincore(first, count * 4096, ptr(vec))).toBe(0);
  close();
  return vec.reduce((n, v) => n + (v & 1), 0);
}

test.skipIf(process.platform !== "linux")("touchPages maps every page and keeps the numbers already set, in a plain or a shared bitmap", () => {
  for (const shared of [false, true]) {
    const bits = untouchedBitmap(shared);
    // Its memory may be an earlier buffer's, its pages still mapped: unmapped here first.
    const { first, count } = innerPages(bits);
    expect(libc()!.madvise(first, count * 4096, 4 /* MADV_DONTNEED */)).toBe(0);
    const set = [0, 123_456_789, 999_999_999];
    for (const n of set) testAndSet(bits, n);
    expect(residentPages(bits), `${shared}: a few pages before`).toBeLessThan(count / 2);
    touchPages(bits);
    expect(residentPages(bits), `${shared}: every page after`).toBe(count);
    for (const n of set) expect(testAndSet(bits, n), `${shared}: ${n} kept`).toBe(false);
    for (const n of [1, 123_456_788, 123_456_790, 999_999_998]) expect(testAndSet(bits, n), `${shared}: ${n} still clear`).toBe(true);
  }
});
