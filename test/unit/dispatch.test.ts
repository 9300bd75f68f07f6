// The Dispatcher (src/server/dispatch.ts) in-process, with this thread's shard and a real worker:
// the verdict of each chunk comes at once, and every valid line is counted exactly once,
// in whichever thread, with none after a bad line.

import { describe, expect, test } from "bun:test";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { untouchedBitmap } from "../support/bitmaps.ts";
import { Dispatcher, HANDOFF_BYTES, type Remote } from "../../src/server/dispatch.ts";
import { appendLog } from "../../src/server/logfile.ts";
import { CLOSE, encodeLines, KEEP, newLineCarry, TERMINATE_SERVER_RESET } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { Shard } from "../../src/server/shard.ts";
import { QUEUE_BYTES, RemoteShard } from "../../src/server/threads.ts";
import type { Fault } from "../../src/server/testhooks.ts";
import { distinct, parseLog } from "../support/logs.ts";
import { tempDir } from "../support/server.ts";

const text = (s: string) => new TextEncoder().encode(s);
/** A writer on /dev/null, for a shard whose log the test does not read. */
const nullLog = (onError: (message: string) => void) => appendLog({ fd: openSync("/dev/null", "w"), path: "/dev/null", stream: false }, onError);

async function setup(fault?: Fault) {
  const log = join(tempDir(), "numbers.log");
  // The one descriptor the coordinator would open (logowner.ts), shared by both threads.
  const handle = { fd: openSync(log, "a"), path: log, stream: false };
  const bits = untouchedBitmap(true);
  const options = { bits, atomic: true, flushInterval: 60 };
  const failures: string[] = [];
  let onFailure = () => {};
  const failed = new Promise<void>((resolve) => (onFailure = resolve));
  const local = new Shard({ ...options, openLog: (onError) => appendLog(handle, onError), onWriteError: (m) => failures.push(m) });
  const remote = await RemoteShard.start({ ...options, log: handle, fault }, {
    onFailure: (m) => {
      failures.push(m);
      onFailure();
    },
    onLog: () => failures.push("a regular file's lines were handed over"),
  });
  const dispatcher = new Dispatcher(local, [remote]);
  const consumed = () => new Promise<boolean>((resolve) => dispatcher.whenAllWritten(resolve));
  const stop = async () => {
    await Promise.all([local.stop(), remote.stop()]);
    return readFileSync(log, "latin1");
  };
  return { local, remote, dispatcher, consumed, stop, failures, failed };
}

describe("Dispatcher", () => {
  test("three connections cut mid-line, shared by two threads: each line counts once", async () => {
    const s = await setup();
    const count = 1_000_000;
    const values = numbers({ kind: "seq" }, count, 0, 1);
    const streams = [0, 1, 2].map((c) => encodeLines(values.filter((_, k) => k % 3 === c)));
    const carries = streams.map(newLineCarry);
    const step = 262_147;
    for (let at = 0; at < streams[0].length; at += step) {
      for (const [c, stream] of streams.entries()) {
        if (at < stream.length) expect(s.dispatcher.feed(carries[c], stream.slice(at, at + step))).toBe(KEEP);
      }
    }
    await s.consumed();
    expect(s.remote.queuedBytes).toBe(0);
    const local = s.local.report();
    const remote = await s.remote.report();
    // The first chunk found the worker's queue empty; each line cut between chunks is
    // completed, and counted, in this thread.
    expect(remote.unique).toBeGreaterThan(0);
    expect(local.unique).toBeGreaterThan(0);
    expect(local.unique + remote.unique).toBe(count);
    expect(local.duplicates + remote.duplicates).toBe(0);
    const log = parseLog(await s.stop());
    expect(log.length).toBe(count);
    expect(distinct(log)).toBe(count);
    expect(s.failures).toEqual([]);
  });

  test("one connection's lines go to a worker while its queue is short, then to this thread, then back", () => {
    const local = new Shard({ bits: untouchedBitmap(), atomic: false, openLog: nullLog, flushInterval: 60, onWriteError: () => {} });
    // A stand-in worker that counts nothing until told to.
    const handed: number[] = [];
    const remote: Remote = {
      queuedBytes: 0,
      get open() {
        return this.queuedBytes < QUEUE_BYTES;
      },
      countLines(chunk, start, end) {
        handed.push(end - start);
        this.queuedBytes += end - start;
      },
      whenWritten: (done) => done(true),
    };
    const dispatcher = new Dispatcher(local, [remote]);
    const conn = newLineCarry();
    const chunk = () => encodeLines(numbers({ kind: "seq" }, 50_000, 0, 1));
    const feeds = Math.ceil(QUEUE_BYTES / 500_000);
    for (let k = 0; k < feeds; k++) dispatcher.feed(conn, chunk());
    expect(handed).toEqual(Array(feeds).fill(500_000));
    expect(local.report().unique).toBe(0);
    // Full: this thread counts the next chunk itself.
    dispatcher.feed(conn, chunk());
    expect(handed.length).toBe(feeds);
    expect(local.report().unique).toBe(50_000);
    // Caught up: the worker is handed lines again.
    remote.queuedBytes = 0;
    dispatcher.feed(conn, chunk());
    expect(handed.length).toBe(feeds + 1);
    void local.stop();
  });

  test("with several workers, each chunk goes to the open one with the shortest queue", () => {
    const local = new Shard({ bits: untouchedBitmap(), atomic: false, openLog: nullLog, flushInterval: 60, onWriteError: () => {} });
    /** A stand-in worker with `queued` bytes waiting, which keeps what it is handed. */
    const worker = (name: string, queued: number, open = true) => {
      const remote: Remote & { queuedBytes: number } = {
        queuedBytes: queued,
        open,
        countLines(_chunk, start, end) {
          order.push(name);
          this.queuedBytes += end - start;
        },
        whenWritten: (done) => done(true),
      };
      return remote;
    };
    const order: string[] = [];
    // c has the shortest queue but is closed (dead, or full); b is next.
    const workers = [worker("a", 300_000), worker("b", 200_000), worker("c", 0, false), worker("d", 250_000)];
    const dispatcher = new Dispatcher(local, workers);
    const conn = newLineCarry();
    // Chunks of 100,000 bytes: b (200k), then d (250k; b is at 300k now), then a and b, tied at
    // 300k, the first of them first.
    for (let k = 0; k < 4; k++) dispatcher.feed(conn, encodeLines(numbers({ kind: "seq" }, 10_000, k * 10_000, 1)));
    expect(order).toEqual(["b", "d", "a", "b"]);
    expect(workers.map((w) => w.queuedBytes)).toEqual([400_000, 400_000, 0, 350_000]);
    void local.stop();
  });

  // Before, a client none of whose lines went to a worker was closed at once: a number of its
  // own that a worker had counted first, from another client's chunk, could still wait in
  // that worker's buffer, missing from the log at the close.
  test("a connection's end waits for the workers unless nothing went to one since they last wrote out", async () => {
    const local = new Shard({ bits: untouchedBitmap(), atomic: false, openLog: nullLog, flushInterval: 60, onWriteError: () => {} });
    // A stand-in worker that answers whenWritten() only when told to.
    const answers: (() => void)[] = [];
    const remote: Remote = { queuedBytes: 0, open: true, countLines() {}, whenWritten: (done) => void answers.push(done) };
    const dispatcher = new Dispatcher(local, [remote]);
    const [big, small] = [newLineCarry(), newLineCarry()];
    dispatcher.feed(big, encodeLines(numbers({ kind: "seq" }, Math.ceil(HANDOFF_BYTES / 10), 0, 1)));
    dispatcher.feed(small, text("000000001\n000000002\n"));
    const ended: string[] = [];
    const end = (name: string) => new Promise<void>((resolve) => dispatcher.whenWritten((written) => resolve(void ended.push(`${name} ${written}`))));
    const ends = [end("small"), end("big")];
    // The big client's chunk went to the worker: both ends wait for it to write out.
    expect(answers.length).toBe(2);
    // A turn of the event loop, in which an end that waited for no worker would have come.
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toEqual([]);
    for (const answer of answers.splice(0)) answer(true);
    await Promise.all(ends);
    expect(ended).toEqual(["small true", "big true"]);
    // Nothing has gone to the worker since: a one-line client's end comes without a message
    // to it (a burst of them is not a message each).
    dispatcher.feed(newLineCarry(), text("000000003\n"));
    await end("next");
    expect(ended).toEqual(["small true", "big true", "next true"]);
    expect(answers.length).toBe(0);
    void local.stop();
  });

  // Before, nothing tested the second of these: a write of this thread's that failed was not
  // seen by an end that waited for the workers, and its client got a FIN.
  test("a connection's end is told its lines may be lost when this thread's log write failed, with or without a worker to wait for", async () => {
    const fullLog = (onError: (message: string) => void) => appendLog({ fd: openSync("/dev/full", "w"), path: "/dev/full", stream: false }, onError);
    for (const handOff of [false, true]) {
      const local = new Shard({ bits: untouchedBitmap(), atomic: false, openLog: fullLog, flushInterval: 60, onWriteError: () => {} });
      const asked: string[] = [];
      const remote: Remote = { queuedBytes: 0, open: true, countLines: () => void asked.push("lines"), whenWritten: (done) => (asked.push("written"), done(true)) };
      const dispatcher = new Dispatcher(local, [remote]);
      if (handOff) dispatcher.feed(newLineCarry(), encodeLines(numbers({ kind: "seq" }, Math.ceil(HANDOFF_BYTES / 10), 1000, 1)));
      dispatcher.feed(newLineCarry(), text("000000001\n"));
      const written = await new Promise<boolean>((resolve) => dispatcher.whenWritten(resolve));
      expect({ handOff, written, failed: local.failed, asked }).toEqual({ handOff, written: false, failed: true, asked: handOff ? ["lines", "written"] : [] });
      await local.stop().catch(() => {});
    }
  });

  test("a bad line: the verdict comes with its chunk; lines before it count, the rest never", async () => {
    const s = await setup();
    const a = newLineCarry();
    const b = newLineCarry();
    expect(s.dispatcher.feed(a, text("000000001\n0000"))).toBe(KEEP);
    // The line cut between chunks is completed here, then a bad line follows.
    expect(s.dispatcher.feed(a, text("00002\n000000003\n00000004\n000000005\n"))).toBe(CLOSE);
    // A line after terminate in its chunk, discarded: the verdict says reset at the end.
    expect(s.dispatcher.feed(b, text("000000006\nterminate\n000000007\n"))).toBe(TERMINATE_SERVER_RESET);
    await s.consumed();
    const counts = [s.local.report(), await s.remote.report()];
    expect(counts[0].unique + counts[1].unique).toBe(4);
    const log = await s.stop();
    expect(log.slice(0, -1).split("\n").sort()).toEqual(["000000001", "000000002", "000000003", "000000006"]);
  });

  test("fewer lines than HANDOFF_BYTES are counted in this thread", async () => {
    const s = await setup();
    const count = Math.ceil(HANDOFF_BYTES / 10) - 1;
    expect(s.dispatcher.feed(newLineCarry(), encodeLines(numbers({ kind: "seq" }, count, 0, 1)))).toBe(KEEP);
    expect(s.remote.queuedBytes).toBe(0);
    expect(s.local.report()).toEqual({ unique: count, duplicates: 0 });
    await s.stop();
  });

  test("a worker that died is handed nothing more: the lines are counted in this thread", async () => {
    const s = await setup("worker-crash");
    const conn = newLineCarry();
    const first = encodeLines(numbers({ kind: "seq" }, Math.ceil(HANDOFF_BYTES / 10), 1000, 1));
    expect(s.dispatcher.feed(conn, first)).toBe(KEEP);
    // Handed over (transferred), and the worker dies on it.
    expect(first.length).toBe(0);
    await s.failed;
    expect(s.failures[0]).toContain("injected fault");
    expect(s.remote.open).toBe(false);
    expect(s.dispatcher.feed(conn, text("000000002\n000000003\n"))).toBe(KEEP);
    // A dead worker answers nothing; whenWritten() still comes, saying lines were lost: the
    // connection is reset (acceptor.ts), not closed as if all were written. So is any other:
    // a number it sent may have been new in the lines the worker lost.
    expect(await s.consumed()).toBe(false);
    expect(await new Promise<boolean>((resolve) => s.dispatcher.whenWritten(resolve))).toBe(false);
    expect(await new Promise<boolean>((resolve) => s.dispatcher.whenWritten(resolve))).toBe(false);
    expect(s.local.report()).toEqual({ unique: 2, duplicates: 0 });
    const log = await s.stop();
    expect(log).toBe("000000002\n000000003\n");
  });
});
