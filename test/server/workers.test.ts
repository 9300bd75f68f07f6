// --workers: the server with several threads logs every number exactly once. Atomic
// engines racing on one bitmap in-process are in test/unit/atomic.test.ts.

import { describe, expect, test } from "bun:test";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { expectReadWhole } from "../support/client.ts";
import { distinct, logNumbers } from "../support/logs.ts";
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

describe("server with two worker threads", () => {
  test("5 connections hammering the same numbers: each logged once, uniques + duplicates = sent", async () => {
    const server = await startServer(["--workers", "2", "--report-interval", "0.1"]);
    try {
      const perConnection = 100_000;
      const drawn = [1, 2, 3, 4, 5].map((seed) => draw(perConnection, 150_000, seed));
      const sent = await sendPayloads("127.0.0.1", server.port, drawn.map(encodeLines));
      await expectReadWhole(sent, server);
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
      // Every number the reports counted is in the log, once.
      const logged = logNumbers(server.log);
      expect(logged.length).toBe(expected.size);
      expect(distinct(logged)).toBe(expected.size);
      expect(logged.every((value) => expected.has(value))).toBe(true);
    } finally {
      server.proc.kill();
      await server.exited;
    }
  });
});
