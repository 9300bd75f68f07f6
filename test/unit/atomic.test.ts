// Atomic engines (src/core/engine.ts) in worker threads on one shared bitmap, in-process:
// threads racing over the same numbers never both count one as new, and never lose each
// other's bits. The server with several threads is in test/server/workers.test.ts.

import { describe, expect, test } from "bun:test";
import { untouchedBitmap } from "../support/bitmaps.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { parseLog } from "../support/logs.ts";
import { sample, STRENGTH } from "../support/strength.ts";

/** Numbers per round; each round has a range of the bitmap of its own, untouched before it. */
const ROUND = 2048;
/**
 * Rounds of each kind. A race is a matter of timing, and both threads start each round
 * together, on its first bytes: many short rounds race more often than a few long ones. One
 * round of 200,000 numbers caught a non-atomic write in setBlock() in 2 runs of 5; 60 short
 * ones caught it in each of 6 runs, and each of the other two non-atomic writes in 3 of 3.
 */
const ROUNDS = sample(60, 300);

/**
 * Round r of each kind, for thread `t` of two, over numbers from r * 2^20 (a range of its own):
 * - interleaved: thread t sends the numbers of parity t, so both write the same bytes of the
 *   bitmap at once (setBlock(): a lost update loses a bit, counted new again later);
 * - same run: both send the same consecutive numbers at once (setRun());
 * - same spread: both send every third number at once (setBlock(), where a byte's
 *   compareExchange fails: claimByte()).
 * Then every number of every round once more from each thread: all duplicates by then.
 */
function rounds(t: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const all: number[] = [];
  for (let r = 0; r < 3 * ROUNDS; r++) {
    const base = r * 2 ** 20;
    const kind = r % 3;
    const values: number[] = [];
    if (kind === 0) for (let i = t; i < ROUND; i += 2) values.push(base + i);
    if (kind === 1) for (let i = 0; i < ROUND; i++) values.push(base + i);
    if (kind === 2) for (let i = 0; i < ROUND; i += 3) values.push(base + i);
    all.push(...(kind === 0 ? Array.from({ length: ROUND }, (_, i) => base + i) : values));
    out.push(encodeLines(Uint32Array.from(values)));
  }
  out.push(encodeLines(Uint32Array.from(all)));
  return out;
}

describe("atomic engines on one shared bitmap", () => {
  test(`two threads racing over the same bytes count each number exactly once and lose no bit (${STRENGTH})`, async () => {
    const bits = untouchedBitmap(true);
    const start = new Int32Array(new SharedArrayBuffer(4));
    const work = [0, 1].map(rounds);
    const replies = await Promise.all(work.map((lines) => new Promise<{ log: string; counts: { unique: number; duplicates: number } }>((resolve, reject) => {
      const worker = new Worker(new URL("../support/feeder.ts", import.meta.url).href);
      worker.onmessage = (event) => {
        resolve(event.data);
        worker.terminate();
      };
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage({ bits, rounds: lines, chunk: 4096 * 10 + 3, start, feeders: 2 });
    })));
    // What was sent, from the lines themselves: every number of it once, in order.
    const sent = work.map((lines) => parseLog(Buffer.concat(lines)));
    const expected = new Uint32Array(new Set([...sent[0], ...sent[1]])).sort();
    const logged = parseLog(replies.map((r) => r.log).join("")).sort();
    expect(logged.length).toBe(expected.length);
    expect(Buffer.from(logged.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(replies[0].counts.unique + replies[1].counts.unique).toBe(expected.length);
    expect(replies[0].counts.duplicates + replies[1].counts.duplicates).toBe(sent[0].length + sent[1].length - expected.length);
  });
});
