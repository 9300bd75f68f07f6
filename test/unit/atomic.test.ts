// Atomic engines (src/core/engine.ts) in worker threads on one shared bitmap, in-process:
// threads racing over the same numbers never both count one as new. The server with
// several threads is in test/server/workers.test.ts.

import { describe, expect, test } from "bun:test";
import { untouchedBitmap } from "../support/bitmaps.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { distinct, parseLog } from "../support/logs.ts";

function distinctOf(arrays: Uint32Array[]): Set<number> {
  const set = new Set<number>();
  for (const a of arrays) for (const v of a) set.add(v);
  return set;
}

describe("atomic engines on one shared bitmap", () => {
  test("two threads racing over the same numbers count each exactly once", async () => {
    const bits = untouchedBitmap(true);
    const start = new Int32Array(new SharedArrayBuffer(4));
    start[0] = 2;
    // Both threads start at once; one sends the even numbers, the other the odd ones, so they
    // write the same bytes of the bitmap at the same time (a lost update would lose a bit),
    // then each sends all of them again, racing for the same numbers.
    const n = 400_000;
    const drawn = [0, 1].map((parity) => {
      const values = new Uint32Array(n / 2 + n);
      for (let i = 0; i < n / 2; i++) values[i] = 2 * i + parity;
      for (let i = 0; i < n; i++) values[n / 2 + i] = i;
      return values;
    });
    const replies = await Promise.all(drawn.map((values) => new Promise<{ log: string; counts: { unique: number; duplicates: number } }>((resolve, reject) => {
      const worker = new Worker(new URL("../support/feeder.ts", import.meta.url).href);
      worker.onmessage = (event) => {
        resolve(event.data);
        worker.terminate();
      };
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage({ bits, lines: encodeLines(values), chunk: 4096 * 10 + 3, start });
    })));
    const expected = distinctOf(drawn);
    const logged = parseLog(replies.map((r) => r.log).join(""));
    expect(logged.length).toBe(expected.size);
    expect(distinct(logged)).toBe(expected.size);
    expect(logged.every((value) => expected.has(value))).toBe(true);
    expect(replies[0].counts.unique + replies[1].counts.unique).toBe(expected.size);
    expect(replies[0].counts.duplicates + replies[1].counts.duplicates).toBe(drawn[0].length + drawn[1].length - expected.size);
  });
});
