// RemoteShard (src/server/threads.ts): a shard in a worker thread counts the whole valid lines it
// is handed, keeps the shared count of queued bytes, and answers after what came before.

import { describe, expect, test } from "bun:test";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { untouchedBitmap } from "../support/bitmaps.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { QUEUE_BYTES, RemoteShard } from "../../src/server/threads.ts";
import { tempDir } from "../support/server.ts";

function setup() {
  const log = join(tempDir(), "numbers.log");
  // The descriptor the coordinator would open (logowner.ts); the worker writes through it.
  const handle = { fd: openSync(log, "a"), path: log, stream: false };
  const start = (park?: SharedArrayBuffer) => RemoteShard.start({ bits: untouchedBitmap(true), atomic: true, log: handle, flushInterval: 60, park }, {
    onFailure: (message) => {
      throw new Error(message);
    },
    onLog: () => {
      throw new Error("a regular file's lines are written by the worker, not handed over");
    },
  });
  return { log, start };
}

describe("RemoteShard", () => {
  test("lines handed over are counted in the worker; the queue fills, closes, and empties", async () => {
    const s = setup();
    // The worker counts in parallel: held (testhooks.ts) until the test has seen the queue
    // fill. Not parked, it counted a chunk before the test's look at times (once in
    // a CI run of 2026-12-07, after a garbage collection and a copy had each done so before).
    const park = new SharedArrayBuffer(4);
    Atomics.store(new Int32Array(park), 0, 1);
    const shard = await s.start(park);
    const count = Math.ceil((QUEUE_BYTES * 1.5) / 10);
    const lines = encodeLines(numbers({ kind: "seq" }, count, 0, 1));
    expect(shard.open).toBe(true);
    // 1.5 x QUEUE_BYTES handed over in chunks of whole lines, each transferred (the chunk
    // reads as empty afterwards): none counted yet.
    const step = 104_857 * 10;
    for (let at = 0; at < lines.length; at += step) {
      const chunk = lines.slice(at, at + step);
      shard.countLines(chunk, 0, chunk.length);
      expect(chunk.length).toBe(0);
    }
    expect(shard.queuedBytes).toBe(lines.length);
    expect(shard.open).toBe(false);
    Atomics.store(new Int32Array(park), 0, 0);
    Atomics.notify(new Int32Array(park), 0);
    // The report comes after every line sent before it was counted.
    expect(await shard.report()).toEqual({ unique: count, duplicates: 0 });
    expect(shard.queuedBytes).toBe(0);
    expect(shard.open).toBe(true);
    await shard.stop();
    const logged = readFileSync(s.log, "latin1");
    expect(logged.length).toBe(count * 10);
    expect(logged.slice(0, 20)).toBe("000000000\n000000001\n");
  });

  test("only the range handed over counts; a view into a larger buffer is copied, not taken", async () => {
    const s = setup();
    const shard = await s.start();
    const bytes = new TextEncoder().encode("xx000000001\n000000002\n000000003\nyy");
    // Whole buffer, lines at [2, 32) minus the last: only 000000001 and 000000002.
    const whole = bytes.slice();
    shard.countLines(whole, 2, 22);
    // A view: its buffer is not the view's own, so it stays readable.
    const view = bytes.subarray(12, 34);
    shard.countLines(view, 10, 20);
    expect(view.length).toBe(22);
    expect(await shard.report()).toEqual({ unique: 3, duplicates: 0 });
    await shard.stop();
    expect(readFileSync(s.log, "latin1")).toBe("000000001\n000000002\n000000003\n");
  });

  test("whenWritten() answers once every line handed over before it has been counted", async () => {
    const s = setup();
    const shard = await s.start();
    const lines = encodeLines(numbers({ kind: "seq" }, 100_000, 0, 1));
    shard.countLines(lines, 0, lines.length);
    const queuedAtAnswer = await new Promise<number>((resolve) => shard.whenWritten(() => resolve(shard.queuedBytes)));
    expect(queuedAtAnswer).toBe(0);
    expect(await shard.report()).toEqual({ unique: 100_000, duplicates: 0 });
    await shard.stop();
  });
});
