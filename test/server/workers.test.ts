// --workers: threads that share one bitmap never both count a number as new, and the
// server with several threads logs every number exactly once.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createBitmap } from "../../src/core/bitmap.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { startServer } from "../support/server.ts";

/** `count` values from 0..distinct-1, in an order fixed by `seed`. */
function draw(count: number, distinct: number, seed: number): Uint32Array {
  return numbers({ kind: "dup", distinct }, count, 0, seed);
}

function distinctOf(arrays: Uint32Array[]): Set<number> {
  const set = new Set<number>();
  for (const a of arrays) for (const v of a) set.add(v);
  return set;
}

function logLines(text: string): string[] {
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

describe("atomic engines on one shared bitmap", () => {
  test("two threads racing over the same numbers count each exactly once", async () => {
    const bits = createBitmap(true);
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
    const lines = replies.flatMap((r) => logLines(r.log));
    expect(lines.length).toBe(expected.size);
    expect(new Set(lines).size).toBe(expected.size);
    expect(lines.every((line) => /^\d{9}$/.test(line) && expected.has(Number(line)))).toBe(true);
    expect(replies[0].counts.unique + replies[1].counts.unique).toBe(expected.size);
    expect(replies[0].counts.duplicates + replies[1].counts.duplicates).toBe(drawn[0].length + drawn[1].length - expected.size);
  });
});

describe("server with two worker threads", () => {
  test("5 connections hammering the same numbers: each logged once, uniques + duplicates = sent", async () => {
    const server = await startServer(["--workers", "2", "--report-interval", "0.1"]);
    try {
      const perConnection = 100_000;
      const drawn = [1, 2, 3, 4, 5].map((seed) => draw(perConnection, 150_000, seed));
      const sent = await sendPayloads("127.0.0.1", server.port, drawn.map(encodeLines));
      expect(sent.cutShort).toBe(0);
      // Every byte was read once the server closed each connection; the reports then add up.
      let unique = 0;
      let duplicates = 0;
      let total = 0;
      while (unique + duplicates < 5 * perConnection) {
        const line = await server.stdout.next();
        const m = /^Received (\d+) unique numbers, (\d+) duplicates\. Unique total: (\d+)$/.exec(line ?? "");
        expect(m).not.toBeNull();
        unique += Number(m![1]);
        duplicates += Number(m![2]);
        total = Number(m![3]);
      }
      const expected = distinctOf(drawn);
      expect(unique + duplicates).toBe(5 * perConnection);
      expect(unique).toBe(expected.size);
      expect(total).toBe(expected.size);
      // The report's total is on disk when the line is printed.
      const lines = logLines(readFileSync(server.log, "latin1"));
      expect(lines.length).toBe(expected.size);
      expect(new Set(lines).size).toBe(expected.size);
      expect(lines.every((line) => expected.has(Number(line)))).toBe(true);
    } finally {
      server.proc.kill();
      await server.exited;
    }
  });
});
