// The parser, de-duplication and log buffer of src/core/engine.ts, fed in-process. Every
// example must give the same log, counts and verdict position however it is cut into chunks.

import { describe, expect, test } from "bun:test";
import { untouchedBitmap } from "../support/bitmaps.ts";
import { claimByte, Engine, LOG_BUFFER_BYTES } from "../../src/core/engine.ts";
import { CLOSE, encodeLines, frame, holdsTerminateLine, KEEP, newLineCarry, TERMINATE_SERVER, TERMINATE_SERVER_RESET } from "../../src/core/protocol.ts";
import { rng } from "../../src/client/payload.ts";
import { CASES, type ProtocolCase } from "../support/cases.ts";
import { driveEngine } from "../support/drive.ts";
import { cutAt, sliceVerdict, type Slice } from "../support/model.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
/**
 * One all-clear bitmap for the runs that would each allocate their own 125 MB: driveEngine
 * clears what a run set (test/support/drive.ts).
 */
const shared = untouchedBitmap();
const record = (v: string) => v + "\n";

/** Every way this file cuts a stream of `length` bytes, with a label for failures. */
function cuttings(length: number): [string, number[]][] {
  const all: [string, number[]][] = [["one chunk", []]];
  all.push(["byte by byte", Array.from({ length: Math.max(0, length - 1) }, (_, k) => k + 1)]);
  for (let at = 0; at <= length; at++) all.push([`two chunks cut at ${at}`, [at]]);
  const next = rng(length);
  for (let round = 0; round < 20; round++) {
    const cuts: number[] = [];
    for (let at = 1 + (next() % 7); at < length; at += 1 + (next() % 7)) cuts.push(at);
    all.push([`random sizes #${round}: ${cuts}`, cuts]);
  }
  return all;
}

/** The verdict each slice must get: KEEP until the slice holding byte `at`, nothing fed after it. */
function expectedVerdicts(c: ProtocolCase, slices: Slice[]) {
  const decided = slices.findIndex((s) => c.at >= s.start && c.at < s.end);
  return slices.map((_, k) => (decided < 0 || k < decided ? "KEEP" : k === decided ? sliceVerdict(c.verdict, c.at, slices[k].end) : null));
}

describe("every example, cut every way", () => {
  const bitmap = untouchedBitmap();
  for (const c of CASES) {
    test(c.name, () => {
      const distinct = [...new Set(c.accepted)];
      for (const [how, cuts] of cuttings(c.bytes.length)) {
        const slices = cutAt(0, c.bytes.length, cuts);
        const run = driveEngine([c.bytes], slices, bitmap);
        expect(run.verdicts, how).toEqual(expectedVerdicts(c, slices));
        expect(run.log, how).toEqual(distinct.map(record));
        expect([run.unique, run.duplicates, run.total], how).toEqual(
          [distinct.length, c.accepted.length - distinct.length, distinct.length],
        );
      }
    });
  }
});

describe("several connections share one engine", () => {
  test("a number sent on two connections is new once", () => {
    const run = driveEngine([bytes("123456789\n"), bytes("123456789\n000000000\n")], [
      { conn: 0, start: 0, end: 10 },
      { conn: 1, start: 0, end: 20 },
    ], shared);
    expect(run.log).toEqual(["123456789\n", "000000000\n"]);
    expect([run.unique, run.duplicates]).toEqual([2, 1]);
  });

  test("each connection keeps its own unfinished line", () => {
    const streams = [bytes("123456789\n555555555\n"), bytes("987654321\n555555555\n")];
    const run = driveEngine(streams, [
      { conn: 0, start: 0, end: 5 },
      { conn: 1, start: 0, end: 7 },
      { conn: 0, start: 5, end: 13 },
      { conn: 1, start: 7, end: 20 },
      { conn: 0, start: 13, end: 20 },
    ], shared);
    expect(run.verdicts).toEqual(["KEEP", "KEEP", "KEEP", "KEEP", "KEEP"]);
    expect(run.log).toEqual(["123456789\n", "987654321\n", "555555555\n"]);
    expect([run.unique, run.duplicates]).toEqual([3, 1]);
  });

  test("a bad line closes only its own connection", () => {
    const run = driveEngine([bytes("111111111\n12a"), bytes("222222222\n333333333\n")], [
      { conn: 0, start: 0, end: 12 },
      { conn: 1, start: 0, end: 5 },
      { conn: 0, start: 12, end: 13 },
      { conn: 1, start: 5, end: 20 },
    ], shared);
    expect(run.verdicts).toEqual(["KEEP", "KEEP", "CLOSE", "KEEP"]);
    expect(run.log).toEqual(["111111111\n", "222222222\n", "333333333\n"]);
  });
});

describe("counts", () => {
  test("takeCounts starts a new period and total keeps growing", () => {
    const engine = new Engine({ bitmap: untouchedBitmap(), write: () => {} });
    const conn = newLineCarry();
    engine.frameAndCount(conn, bytes("000000001\n000000002\n000000001\n"));
    expect(engine.takeCounts()).toEqual({ unique: 2, duplicates: 1, total: 2 });
    expect(engine.takeCounts()).toEqual({ unique: 0, duplicates: 0, total: 2 });
    engine.frameAndCount(conn, bytes("000000002\n000000003\n"));
    expect(engine.takeCounts()).toEqual({ unique: 1, duplicates: 1, total: 3 });
  });

  test("drain with nothing buffered writes nothing", () => {
    const writes: number[] = [];
    const engine = new Engine({ bitmap: untouchedBitmap(), write: (b) => writes.push(b.length) });
    engine.drain();
    engine.frameAndCount(newLineCarry(), bytes("000000001\n"));
    engine.drain();
    engine.drain();
    expect(writes).toEqual([10]);
  });
});

describe("large chunks", () => {
  /** `count` lines whose values repeat every `period` lines. */
  function repeating(count: number, period: number) {
    const values = Uint32Array.from({ length: count }, (_, k) => (k % period) * 4999);
    return { stream: encodeLines(values), log: encodeLines(values.subarray(0, Math.min(count, period))) };
  }
  const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");

  test("more than 65536 lines in one chunk, with duplicates", () => {
    const { stream, log } = repeating(3 * 65536 + 5, 70_000);
    const run = driveEngine([stream], cutAt(0, stream.length, []), shared);
    expect(run.verdicts).toEqual(["KEEP"]);
    expect(run.log.join("")).toBe(text(log));
    expect([run.unique, run.duplicates, run.total]).toEqual([70_000, 3 * 65536 + 5 - 70_000, 70_000]);
  });

  for (const bad of [0, 65535, 65536, 65537, 131072, 131073]) {
    test(`a bad line at line ${bad} of a big chunk: the lines before it count`, () => {
      const { stream } = repeating(200_000, 200_000);
      stream[bad * 10 + 3] = "x".charCodeAt(0);
      const run = driveEngine([stream], cutAt(0, stream.length, []), shared);
      expect(run.verdicts).toEqual(["CLOSE"]);
      expect(run.log.join("")).toBe(text(stream.subarray(0, bad * 10)));
      expect(run.unique).toBe(bad);
    });
  }

  test("terminate right after 65536 lines", () => {
    const { stream } = repeating(65536, 65536);
    const withTerminate = new Uint8Array([...stream, ...bytes("terminate\n000000001\n")]);
    const run = driveEngine([withTerminate], cutAt(0, withTerminate.length, []), shared);
    // A line came after it in the same chunk, discarded: the client is reset at the end.
    expect(run.verdicts).toEqual(["TERMINATE_RESET"]);
    expect(run.log.join("")).toBe(text(stream));
  });

  // 1 MiB is not a whole number of lines: the buffer holds 104857 and the next one must not overflow it.
  for (const count of [104_857, 104_858, 104_859]) {
    test(`${count} new lines, in one chunk and line by line, around the log buffer's size`, () => {
      const { stream } = repeating(count, count);
      const lineByLine = Array.from({ length: count - 1 }, (_, k) => (k + 1) * 10);
      for (const slices of [cutAt(0, stream.length, []), cutAt(0, stream.length, lineByLine)]) {
        const run = driveEngine([stream], slices, shared);
        for (const w of run.writes) expect(w).toBeLessThanOrEqual(LOG_BUFFER_BYTES);
        expect(run.log.join("")).toBe(text(stream));
      }
    });
  }

  test("more than 1 MiB of new lines: the log buffer is handed over mid-feed, nothing lost", () => {
    const { stream, log } = repeating(300_000, 250_000);
    const next = rng(7);
    const cuts: number[] = [];
    for (let at = 1 + (next() % 65536); at < stream.length; at += 1 + (next() % 65536)) cuts.push(at);
    for (const slices of [cutAt(0, stream.length, []), cutAt(0, stream.length, cuts)]) {
      const run = driveEngine([stream], slices, shared);
      expect(run.writes.length).toBeGreaterThan(0);
      for (const w of run.writes) expect(w).toBeLessThanOrEqual(LOG_BUFFER_BYTES);
      expect(run.log.join("")).toBe(text(log));
      expect([run.unique, run.duplicates]).toEqual([250_000, 50_000]);
    }
  });
});

describe("reading lines a word at a time", () => {
  // The fast path reads two lines as five 32-bit words and checks a whole pass at once; it
  // must never take a line the per-line check refuses, at any byte, value or alignment.
  test("every byte value at every position of a line pair, at every alignment", () => {
    const engine = new Engine({ bitmap: untouchedBitmap(), write: () => {} });
    const digit = (c: number) => c >= 48 && c <= 57;
    const pair = bytes("123456789\n987654321\n");
    for (let shift = 0; shift < 4; shift++) {
      // Valid lines around the pair, so that it sits inside a pass of several pairs.
      const before = encodeLines(Uint32Array.from({ length: 4 + shift }, (_, k) => k));
      for (let pos = 0; pos < pair.length; pos++) {
        for (let value = 0; value < 256; value++) {
          const chunk = new Uint8Array(shift + before.length + pair.length * 3);
          chunk.set(before, shift);
          const at = shift + before.length;
          chunk.set(pair, at);
          chunk[at + pos] = value;
          chunk.set(pair, at + 20);
          chunk.set(pair, at + 40);
          const lineAt = pos % 10;
          const valid = lineAt === 9 ? value === 10 : digit(value);
          const verdict = engine.frameAndCount(newLineCarry(), chunk.subarray(shift));
          if (verdict !== (valid ? KEEP : CLOSE)) throw new Error(`byte ${value} at ${pos}, shift ${shift}: verdict ${verdict}`);
        }
      }
    }
  });

  test("the values read a word at a time are the lines' numbers, at every alignment", () => {
    const values = Uint32Array.from({ length: 5001 }, (_, k) => (k * 199_999_991) % 1_000_000_000);
    const want = Buffer.from(encodeLines(Uint32Array.from(new Set(values)))).toString("latin1");
    const stream = encodeLines(values);
    const bitmap = untouchedBitmap();
    for (let shift = 0; shift < 4; shift++) {
      const chunk = new Uint8Array(shift + stream.length);
      chunk.set(stream, shift);
      const run = driveEngine([chunk.subarray(shift)], cutAt(0, stream.length, []), bitmap);
      expect(run.log.join("")).toBe(want);
    }
  });
});

describe("claimByte: one compareExchange per byte on a shared bitmap", () => {
  // Numbers 8, 9 and 11 are bits 0, 1 and 3 of byte 1. This thread read the byte as 0 and
  // listed all three as new in fresh[0..3).
  const setup = () => {
    const bits = new Uint8Array(new SharedArrayBuffer(4));
    const values = Uint32Array.of(8, 9, 11);
    const candidates = Uint32Array.of(0, 1, 2);
    const fresh = Uint32Array.of(0, 1, 2);
    return { bits, values, candidates, fresh };
  };

  test("an unchanged byte is written once, and what was decided stands", () => {
    const { bits, values, candidates, fresh } = setup();
    expect(claimByte(bits, 1, 0, 0b1011, values, candidates, 0, 3, fresh, 0, 3)).toBe(3);
    expect(bits[1]).toBe(0b1011);
    expect(Array.from(fresh)).toEqual([0, 1, 2]);
  });

  test("a byte another thread changed since it was read is claimed number by number", () => {
    const { bits, values, candidates, fresh } = setup();
    // Meanwhile another thread claimed 9 (bit 1) and 12 (bit 4).
    bits[1] = 0b1_0010;
    expect(claimByte(bits, 1, 0, 0b1011, values, candidates, 0, 3, fresh, 0, 3)).toBe(2);
    expect(Array.from(fresh.subarray(0, 2))).toEqual([0, 2]);
    expect(bits[1]).toBe(0b1_1011);
  });
});

describe("scattered passes: numbers far apart and mostly new take the gathering loop", () => {
  /** Counts the passes `engine` gives each of its probe loops from now on. */
  function countLoops(engine: Engine): { scattered: number; near: number } {
    const calls = { scattered: 0, near: 0 };
    const e = engine as unknown as Record<"testAndSet" | "testAndSetScattered", (n: number) => number>;
    const [near, scattered] = [e.testAndSet.bind(engine), e.testAndSetScattered.bind(engine)];
    e.testAndSet = (n) => (calls.near++, near(n));
    e.testAndSetScattered = (n) => (calls.scattered++, scattered(n));
    return calls;
  }

  /**
   * Scattered stretches (some with repeats, some with a number twice in a row) around a seq
   * stretch and a mostly-repeated one; first, all eight numbers of 5,000 far-apart bitmap
   * bytes in random order, so that a probe reading the wrong bit would take new numbers
   * for duplicates.
   */
  function mixed(): number[] {
    const next = rng(11);
    const values: number[] = [];
    const earlier = () => values[next() % values.length];
    const dense = Array.from({ length: 40_000 }, (_, k) => Math.floor(k / 8) * 24_000 * 8 + (k % 8));
    for (let k = dense.length - 1; k > 0; k--) {
      const j = next() % (k + 1);
      [dense[k], dense[j]] = [dense[j], dense[k]];
    }
    values.push(...dense);
    for (let k = 0; k < 20_000; k++) values.push(next() % 1_000_000_000);
    for (let k = 0; k < 20_000; k++) values.push(next() % 5 < 2 ? earlier() : next() % 1_000_000_000);
    for (let k = 0; k < 20_000; k++) values.push(500_000_000 + k);
    for (let k = 0; k < 20_000; k++) values.push(next() % 5 < 3 ? earlier() : next() % 1_000_000_000);
    for (let k = 0; k < 20_000; k++) {
      const v = k % 97 === 0 ? [0, 999_999_999, 7][k % 3] : next() % 1_000_000_000;
      values.push(v);
      if (k % 13 === 0) values.push(v);
    }
    return values;
  }

  test("chunks of an odd number of lines, as loopback delivers them: every pass after the first takes the gathering loop", () => {
    const next = rng(23);
    const engine = new Engine({ bitmap: untouchedBitmap(), write: () => {} });
    const calls = countLoops(engine);
    // 6,553 lines (65,530 bytes) a chunk: one pass of 6,552 lines and the odd line alone.
    const CHUNKS = 20;
    for (let c = 0; c < CHUNKS; c++) {
      const chunk = encodeLines(Uint32Array.from({ length: 6_553 }, () => next() % 1_000_000_000));
      engine.countLines(chunk, 0, chunk.length);
    }
    expect(calls.scattered).toBe(CHUNKS - 1);
    expect(calls.near).toBe(CHUNKS + 1);
  });

  for (const atomic of [false, true]) {
    test(`${atomic ? "a shared" : "its own"} bitmap: the same log and counts as a set, in the order of first sight`, () => {
      const values = mixed();
      const seen = new Set<number>();
      const firsts = values.filter((v) => !seen.has(v) && seen.add(v));
      let log = "";
      const engine = new Engine({ bitmap: untouchedBitmap(atomic), atomic, write: (b) => void (log += Buffer.from(b).toString("latin1")) });
      // Which loop each pass took: both must have run for this test to mean anything.
      const calls = countLoops(engine);
      const stream = encodeLines(Uint32Array.from(values));
      const conn = newLineCarry();
      const next = rng(5);
      for (let at = 0; at < stream.length; ) {
        const end = Math.min(stream.length, at + 50_000 + (next() % 250_000));
        expect(engine.frameAndCount(conn, stream.subarray(at, end))).toBe(KEEP);
        at = end;
      }
      engine.drain();
      expect(calls.scattered).toBeGreaterThan(5);
      expect(calls.near).toBeGreaterThan(5);
      expect(log).toBe(Buffer.from(encodeLines(Uint32Array.from(firsts))).toString("latin1"));
      expect(engine.takeCounts()).toEqual({ unique: firsts.length, duplicates: values.length - firsts.length, total: firsts.length });
    });
  }
});

describe("runs: a pass of consecutive numbers is set a byte at a time", () => {
  /** Counts the passes `engine` sets as runs from now on. */
  function countRuns(engine: Engine): { runs: number } {
    const calls = { runs: 0 };
    const e = engine as unknown as Record<"setRun", (from: number, n: number) => number>;
    const setRun = e.setRun.bind(engine);
    e.setRun = (from, n) => (calls.runs++, setRun(from, n));
    return calls;
  }

  // Runs from every offset in a bitmap byte, of lengths that end anywhere in one; some of
  // their numbers set before (none, the first, the last, one mid-byte, every third, all).
  const starts = [0, 1, 5, 7, 8, 123_456_789, 999_999_000];
  const lengths = [64, 65, 71, 200, 1_000];
  const presets: [string, (k: number, n: number) => boolean][] = [
    ["none set before", () => false],
    ["the first set before", (k) => k === 0],
    ["the last set before", (k, n) => k === n - 1],
    ["one in the middle set before", (k, n) => k === n >> 1],
    ["every third set before", (k) => k % 3 === 1],
    ["all set before", () => true],
  ];
  // One bitmap of each kind for these tests, each test clearing what it set.
  const bitmaps = [untouchedBitmap(false), untouchedBitmap(true)];
  for (const atomic of [false, true]) {
    for (const [label, preset] of presets) {
      test(`${atomic ? "a shared" : "its own"} bitmap, ${label}: the log and counts of a set, in the order of first sight; the neighbours untouched`, () => {
        let log = "";
        const engine = new Engine({ bitmap: bitmaps[Number(atomic)], atomic, write: (b) => void (log += Buffer.from(b).toString("latin1")) });
        const calls = countRuns(engine);
        let passes = 0;
        for (const from of starts) {
          for (const length of lengths) {
            const run = Array.from({ length }, (_, k) => from + k);
            const before = run.filter((_, k) => preset(k, length));
            // The numbers set before go in as a pass of their own (a run only when it is all of them).
            if (before.length > 0) {
              engine.countLines(encodeLines(Uint32Array.from(before)), 0, before.length * 10);
              passes += before.length === length ? 1 : 0;
            }
            engine.drain();
            engine.takeCounts();
            log = "";
            const lines = encodeLines(Uint32Array.from(run));
            engine.countLines(lines, 0, lines.length);
            passes += 1;
            engine.drain();
            const fresh = run.filter((_, k) => !preset(k, length));
            const where = `${length} from ${from}`;
            expect(log, where).toBe(Buffer.from(encodeLines(Uint32Array.from(fresh))).toString("latin1"));
            expect(engine.takeCounts().unique, where).toBe(fresh.length);
            // Every number of the run is set now: sent again, all are duplicates.
            engine.countLines(lines, 0, lines.length);
            passes += 1;
            engine.drain();
            expect(log, where).toBe(Buffer.from(encodeLines(Uint32Array.from(fresh))).toString("latin1"));
            expect(engine.takeCounts(), where).toMatchObject({ unique: 0, duplicates: length });
            // The eight numbers either side share its first and last bitmap bytes: still new.
            const around = [...Array.from({ length: 8 }, (_, k) => from - 8 + k), ...Array.from({ length: 8 }, (_, k) => from + length + k)];
            const near = around.filter((v) => v >= 0 && v < 1_000_000_000);
            log = "";
            engine.countLines(encodeLines(Uint32Array.from(near)), 0, near.length * 10);
            engine.drain();
            expect(engine.takeCounts().unique, where).toBe(near.length);
            // Clear them and the run for the next run and the next test.
            for (const v of [...run, ...near]) engine.bits[v >>> 3] &= ~(1 << (v & 7));
          }
        }
        expect(calls.runs).toBe(passes);
      });
    }
  }

  test("a pass that is not a run takes the probe loops, however close: a gap, a repeat, a descent, too short", () => {
    const engine = new Engine({ bitmap: untouchedBitmap(), write: () => {} });
    const calls = countRuns(engine);
    const base = Array.from({ length: 100 }, (_, k) => 1_000 + k);
    const gap = base.map((v, k) => (k >= 50 ? v + 1 : v));
    const repeat = base.map((v, k) => (k === 50 ? v - 1 : v));
    const descent = [...base].reverse();
    for (const values of [gap, repeat, descent, base.slice(0, 63)]) {
      const lines = encodeLines(Uint32Array.from(values));
      engine.countLines(lines, 0, lines.length);
    }
    expect(calls.runs).toBe(0);
    const lines = encodeLines(Uint32Array.from(base));
    engine.countLines(lines, 0, lines.length);
    expect(calls.runs).toBe(1);
  });
});

// A held connection's bytes wait unframed (acceptor.ts, hold()), except where they hold a
// terminate line: that look must never miss a terminate that framing would reach.
describe("holdsTerminateLine: a terminate among a connection's unframed bytes", () => {
  test("every example cut at every offset: wherever framing the rest ends in terminate, the look finds it", () => {
    let found = 0;
    for (const c of CASES) {
      for (let cut = 0; cut <= c.bytes.length; cut++) {
        const conn = newLineCarry();
        if (frame(conn, c.bytes.slice(0, cut)).verdict !== KEEP) continue;
        const rest = c.bytes.slice(cut);
        const looked = holdsTerminateLine(conn, rest);
        const framed = [TERMINATE_SERVER, TERMINATE_SERVER_RESET].includes(frame(conn, rest).verdict);
        expect({ name: c.name, cut, looked: looked || !framed }).toEqual({ name: c.name, cut, looked: true });
        if (framed) found++;
      }
    }
    expect(found).toBeGreaterThan(20);
  });

  test("only at a line start, after the carried part line", () => {
    const after = (carried: string, text: string) => {
      const conn = newLineCarry();
      frame(conn, new TextEncoder().encode(carried));
      return holdsTerminateLine(conn, new TextEncoder().encode(text));
    };
    expect(after("", "terminate\n")).toBe(true);
    expect(after("", "123456789\nterminate\n")).toBe(true);
    expect(after("termi", "nate\n")).toBe(true);
    expect(after("12345", "6789\nterminate\n")).toBe(true);
    expect(after("", "terminate")).toBe(false);
    expect(after("1", "terminate\n")).toBe(false);
    expect(after("", "12345terminate\n")).toBe(false);
    expect(after("", "123456789\n12345678\n")).toBe(false);
  });
});
