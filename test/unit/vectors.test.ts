// The framing check sixteen bytes at a time (src/core/vectors.ts), in-process: it must find
// the same first bad line as the per-line check for every byte value at every position of a
// block, at every alignment, across the module's memory, and leave the word check to short runs.

import { describe, expect, test } from "bun:test";
import { rng } from "../../src/client/payload.ts";
import { encodeLines, firstBadLine, firstBadLineByWords, LINE_BYTES, parseLine, VECTOR_MIN_BYTES } from "../../src/core/protocol.ts";
import { assemble, BLOCK_BYTES, CAPACITY, vectorCheck } from "../../src/core/vectors.ts";

/** The first line of [start, end) that parseLine() refuses, or end: the answer by definition. */
function perLine(chunk: Uint8Array, start: number, end: number): number {
  for (let at = start; at < end; at += LINE_BYTES) if (parseLine(chunk, at) < 0) return at;
  return end;
}

function validLines(count: number, seed: number): Uint8Array {
  const next = rng(seed);
  return encodeLines(Uint32Array.from({ length: count }, () => next() % 1_000_000_000));
}

describe("the check sixteen bytes at a time", () => {
  test("assembles into a module this runtime validates and runs", () => {
    expect(WebAssembly.validate(assemble())).toBe(true);
    expect(vectorCheck()).toBeDefined();
  });

  test("every byte value at every position of a block, at every alignment, as the per-line check", () => {
    const lines = validLines(3 * 8 + 5, 1);
    const check = vectorCheck()!;
    let found = 0;
    for (let shift = 0; shift < 16; shift++) {
      const chunk = new Uint8Array(shift + lines.length);
      // The second block: clean blocks before it and after it, and a tail of 5 lines.
      for (let pos = BLOCK_BYTES; pos < 2 * BLOCK_BYTES; pos++) {
        for (let value = 0; value < 256; value++) {
          chunk.set(lines, shift);
          chunk[shift + pos] = value;
          const want = perLine(chunk, shift, chunk.length);
          const dirty = check.firstDirtyBlock(chunk, shift, chunk.length);
          // The block holding the bad line, or (the byte was right) the end of the whole blocks.
          const block = want < chunk.length ? want - ((want - shift) % BLOCK_BYTES) : shift + 3 * BLOCK_BYTES;
          if (dirty !== block) throw new Error(`byte ${value} at ${pos}, shift ${shift}: block ${dirty}, want ${block}`);
          if (firstBadLine(chunk, shift, chunk.length) !== want) throw new Error(`byte ${value} at ${pos}, shift ${shift}`);
          if (want < chunk.length) found++;
        }
      }
    }
    // Per position one right byte value in 256 (a digit's ten, LF's one): all the others are bad.
    expect(found).toBe(16 * (8 * (256 - 10) * 9 + 8 * 255));
  });

  test("runs longer than the module's memory, checked in pieces: a bad line at the pieces' edges, in the last one, and none", () => {
    const lines = validLines(130_000, 2);
    expect(lines.length).toBeGreaterThan(3 * CAPACITY);
    expect(firstBadLine(lines, 0, lines.length)).toBe(lines.length);
    for (const bad of [lines.length - 10, lines.length - 85, CAPACITY - 1, CAPACITY, CAPACITY + 79, 2 * CAPACITY + 3, 40]) {
      const chunk = lines.slice();
      chunk[bad] = 0x3a;
      const want = perLine(chunk, 0, chunk.length);
      expect(firstBadLine(chunk, 0, chunk.length)).toBe(want);
      expect(firstBadLineByWords(chunk, 0, chunk.length)).toBe(want);
    }
  });

  test("random runs with a few bad bytes: the same answer both ways, at every length around the threshold", () => {
    const next = rng(3);
    for (let round = 0; round < 2000; round++) {
      const count = 1 + (next() % 200);
      const chunk = validLines(count, round);
      const bad = next() % 3;
      for (let k = 0; k < bad; k++) chunk[next() % chunk.length] = next() % 256;
      const start = LINE_BYTES * (next() % Math.min(count, 4));
      const want = perLine(chunk, start, chunk.length);
      expect(firstBadLine(chunk, start, chunk.length)).toBe(want);
      expect(firstBadLineByWords(chunk, start, chunk.length)).toBe(want);
    }
    expect(VECTOR_MIN_BYTES).toBeLessThan(200 * LINE_BYTES);
  });
});
