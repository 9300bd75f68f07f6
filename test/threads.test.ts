// RemoteShard (src/threads.ts): a shard in a worker thread consumes the chunks handed to
// it in order, reports verdicts, and tells the main thread to pause and resume reading.

import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBitmap } from "../src/bitmap.ts";
import { CLOSE, TERMINATE_SERVER, type Verdict } from "../src/engine.ts";
import { encodeLines, numbers } from "../src/payload.ts";
import { PAUSE_BYTES, RemoteShard } from "../src/threads.ts";
import { tempDir } from "./support/server.ts";

function setup() {
  const log = join(tempDir(), "numbers.log");
  writeFileSync(log, "");
  const verdicts: [number, Verdict][] = [];
  let drained = 0;
  let onDrained = () => {};
  const events = {
    onVerdict: (id: number, verdict: Verdict) => void verdicts.push([id, verdict]),
    onDrained: () => {
      drained++;
      onDrained();
    },
    onFailure: (message: string) => {
      throw new Error(message);
    },
  };
  const start = () => RemoteShard.start({ bits: createBitmap(true), atomic: true, log, flushInterval: 60 }, events);
  const nextDrain = () => new Promise<void>((resolve) => (onDrained = resolve));
  return { log, verdicts, start, nextDrain, drained: () => drained };
}

describe("RemoteShard", () => {
  test("more than PAUSE_BYTES in flight marks it congested until the worker catches up", async () => {
    const s = setup();
    const shard = await s.start();
    const count = Math.ceil((PAUSE_BYTES * 1.5) / 10);
    const lines = encodeLines(numbers({ kind: "seq" }, count, 0, 1));
    const drained = s.nextDrain();
    // 1.5 x PAUSE_BYTES handed over in 1 MiB chunks within one turn of the event loop: none consumed yet.
    for (let at = 0; at < lines.length; at += 1 << 20) {
      shard.feed(7, lines.slice(at, at + (1 << 20)));
    }
    expect(shard.congested).toBe(true);
    await drained;
    expect(shard.congested).toBe(false);
    expect(s.drained()).toBe(1);
    // The report comes after every chunk sent before it was consumed.
    expect(await shard.report()).toEqual({ unique: count, duplicates: 0 });
    await shard.stop();
    const logged = readFileSync(s.log, "latin1");
    expect(logged.length).toBe(count * 10);
    expect(logged.slice(0, 20)).toBe("000000000\n000000001\n");
    expect(s.verdicts).toEqual([]);
  });

  test("verdicts come back with the connection id; later chunks of that connection are not counted", async () => {
    const s = setup();
    const shard = await s.start();
    const enc = new TextEncoder();
    shard.feed(1, enc.encode("000000001\n00000"));
    shard.feed(2, enc.encode("000000002\nbad\n000000003\n"));
    shard.feed(1, enc.encode("0002\nterminate\n000000004\n"));
    // Chunks that were on their way before the main thread acted on a verdict count for nothing.
    shard.feed(2, enc.encode("000000005\n"));
    shard.feed(1, enc.encode("000000006\n"));
    shard.forget(2);
    expect(await shard.report()).toEqual({ unique: 2, duplicates: 1 });
    expect(s.verdicts).toEqual([[2, CLOSE], [1, TERMINATE_SERVER]]);
    await shard.stop();
    expect(readFileSync(s.log, "latin1")).toBe("000000001\n000000002\n");
  });

  test("whenConsumed() answers once every chunk handed over before it has been consumed", async () => {
    const s = setup();
    const shard = await s.start();
    const enc = new TextEncoder();
    shard.feed(3, enc.encode("000000001\n"));
    shard.feed(3, enc.encode("bad\n"));
    const verdictsAtFinish = await new Promise<[number, Verdict][]>((resolve) => shard.whenConsumed(() => resolve([...s.verdicts])));
    // The worker had already sent the verdict of the bad chunk when it answered.
    expect(verdictsAtFinish).toEqual([[3, CLOSE]]);
    expect(await shard.report()).toEqual({ unique: 1, duplicates: 0 });
    await shard.stop();
  });
});
