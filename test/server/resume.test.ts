// Crash recovery: loadLog (src/resume.ts) on good, torn and damaged logs, and the server
// with --resume (or NUMBERS_RESUME=1) continuing an existing log without a duplicate.

import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBitmap } from "../../src/core/bitmap.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { loadLog, ResumeError } from "../../src/server/resume.ts";
import { logNumbers, sorted } from "../support/logs.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { tempDir } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const lines = (values: number[]) => text(encodeLines(Uint32Array.from(values)));

/** Writes `content` to a fresh numbers.log and returns its path. */
function logFile(content: string | Uint8Array): string {
  const path = join(tempDir(), "numbers.log");
  writeFileSync(path, content);
  return path;
}

/** Every number whose bit is set, ascending (skips the all-zero words quickly). */
function setBits(bits: Uint8Array): number[] {
  const words = new Uint32Array(bits.buffer, bits.byteOffset, bits.length / 4);
  const found: number[] = [];
  for (let w = 0; w < words.length; w++) {
    if (words[w] === 0) continue;
    for (let b = 0; b < 32; b++) if (bits[w * 4 + (b >> 3)] & (1 << (b & 7))) found.push(w * 32 + b);
  }
  return found;
}

/** loadLog's error for the log `content`, with the bitmap it was given. */
function loadError(content: string | Uint8Array): string {
  try {
    loadLog(logFile(content), createBitmap());
  } catch (err) {
    expect(err).toBeInstanceOf(ResumeError);
    return (err as Error).message;
  }
  throw new Error("loadLog accepted a damaged log");
}

describe("loadLog", () => {
  test("a missing file and an empty file are an empty log", () => {
    const bits = createBitmap();
    expect(loadLog(join(tempDir(), "absent.log"), bits)).toEqual({ count: 0, validBytes: 0 });
    expect(loadLog(logFile(""), bits)).toEqual({ count: 0, validBytes: 0 });
    expect(setBits(bits)).toEqual([]);
  });

  test("N valid lines: count N, every bit set and no other, the whole file valid", () => {
    const values = [0, 7, 8, 123_456_789, 999_999_999, 42];
    const bits = createBitmap();
    expect(loadLog(logFile(lines(values)), bits)).toEqual({ count: 6, validBytes: 60 });
    expect(setBits(bits)).toEqual([...values].sort((a, b) => a - b));
  });

  test.each([1, 5, 9])("a torn last line of %d digits is left out of validBytes", (digits) => {
    const bits = createBitmap();
    const torn = "987654321".slice(0, digits);
    expect(loadLog(logFile(lines([1, 2]) + torn), bits)).toEqual({ count: 2, validBytes: 20 });
    expect(setBits(bits)).toEqual([1, 2]);
  });

  test.each([
    ["a letter", "12345678x\n"],
    ["a CR before the LF", "12345678\r\n"],
    ["a short line", "1234567\n"],
    ["an empty line", "\n"],
    ["a long line", "1234567890\n"],
  ])("%s in line 3 is an error naming line 3", (_, bad) => {
    const message = loadError(lines([1, 2]) + bad + lines([3, 4]));
    expect(message).toMatch(/line 3 is not nine digits and a newline; the file was left as it was$/);
  });

  test("a number repeated in line 4 is an error naming line 4", () => {
    expect(loadError(lines([10, 20, 30, 20, 40]))).toMatch(/line 4 repeats an earlier number/);
  });

  test("a torn last line with a non-digit is an error naming it", () => {
    expect(loadError(lines([1, 2]) + "12a")).toMatch(/line 3 is not nine digits and a newline/);
    expect(loadError(lines([1, 2]) + "terminate")).toMatch(/line 3 is not nine digits/);
  });

  test("NUL bytes at the end (blocks allocated but not written at a power loss) are a torn tail", () => {
    const nuls = "\0".repeat(4096);
    for (const tail of [nuls, "1234" + nuls, "123456789" + "\0"]) {
      expect(loadLog(logFile(lines([1, 2]) + tail), createBitmap())).toEqual({ count: 2, validBytes: 20 });
    }
    // Anything after the NULs, or a tenth digit, is damage, not a torn write.
    expect(loadError(lines([1, 2]) + nuls + lines([3]))).toMatch(/line 3 is not nine digits/);
    expect(loadError(lines([1, 2]) + "1234567890" + nuls)).toMatch(/line 3 is not nine digits/);
  });

  test("a log that cannot be read is a ResumeError, not a raw system error", () => {
    expect(() => loadLog(tempDir(), createBitmap())).toThrow(/^cannot read log file '.+' to resume: EISDIR/);
    expect(() => loadLog(tempDir(), createBitmap())).toThrow(ResumeError);
  });

  describe("a log longer than one 10 MiB read", () => {
    // 1,048,576 lines fill exactly one read; the lines after it come in the second.
    const first = 1 << 20;
    const big = encodeLines(numbers({ kind: "seq" }, first + 3, 0, 0));

    test("loads every line and cuts a torn tail after the first read", () => {
      const bits = createBitmap();
      const content = Buffer.concat([big, Buffer.from("1234")]);
      expect(loadLog(logFile(content), bits)).toEqual({ count: first + 3, validBytes: big.length });
    });

    test("a log of exactly one read is whole", () => {
      expect(loadLog(logFile(big.subarray(0, first * 10)), createBitmap())).toEqual({ count: first, validBytes: first * 10 });
    });

    test.each([
      ["a bad line", "12345678x\n", "is not nine digits"],
      ["a repeated number", "000000005\n", "repeats an earlier number"],
    ])("%s in the second read names its line in the whole file", (_, bad, what) => {
      const content = Buffer.concat([big, Buffer.from(bad + "999999999\n")]);
      expect(loadError(content)).toContain(`line ${first + 4} ${what}`);
    });
  });
});

describe("serve --resume", () => {
  const servers = serverPool();

  test("continues a log with a torn tail: old numbers are duplicates, new ones appended, the tail cut", async () => {
    const dir = tempDir();
    const old = Array.from({ length: 100 }, (_, i) => 1000 * i + 7);
    const kept = lines(old);
    writeFileSync(join(dir, "numbers.log"), kept + "12345");
    // Three threads, so the loaded numbers must be seen by the worker threads too.
    const server = await servers.start(["--resume", "--workers", "3", "--report-interval", "0.2"], { dir });
    // The torn tail is cut before the server takes its first client.
    expect(readFileSync(server.log, "latin1")).toBe(kept);

    // Each of 5 clients sends 50 old numbers and 101 new ones (one of them what the torn
    // tail would have said), the new ones twice; all that 14 times in one write of 35 KB,
    // more than HANDOFF_BYTES (src/dispatch.ts), so the workers count lines too.
    const fresh = [...Array.from({ length: 100 }, (_, i) => 1000 * i + 8), 123_450_000];
    const peers = await Promise.all([1, 2, 3, 4, 5].map(() => connect(server.port)));
    for (const peer of peers) {
      peer.write(lines([...old.slice(0, 50), ...fresh, ...fresh]).repeat(14));
      peer.end();
    }
    await Promise.all(peers.map((peer) => peer.closed));
    const sent = 5 * 14 * (50 + 2 * fresh.length);
    // Reports may split the lines between them; they are read until they account for all.
    const sums = await reportsUntil(server.stdout, (s) => s.unique + s.duplicates >= sent, old.length);
    expect(sums).toEqual({ unique: fresh.length, duplicates: sent - fresh.length, total: old.length + fresh.length });

    const stopper = await connect(server.port);
    stopper.write("terminate\n");
    expect(await server.exited).toBe(0);
    const log = logNumbers(server.log);
    expect(log.subarray(0, old.length)).toEqual(Uint32Array.from(old));
    expect(sorted(log.subarray(old.length))).toEqual(sorted(fresh));
  });

  test("with no log yet, --resume starts from nothing and creates it", async () => {
    const server = await servers.start(["--resume"]);
    expect(readFileSync(server.log, "latin1")).toBe("");
    const peer = await connect(server.port);
    peer.write(lines([3]) + "terminate\n");
    expect(await server.exited).toBe(0);
    expect(logNumbers(server.log)).toEqual(Uint32Array.from([3]));
  });

  test("NUMBERS_RESUME=1 does the same as --resume", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "numbers.log"), lines([5, 6]));
    const server = await servers.start([], { dir, env: { NUMBERS_RESUME: "1" } });
    expect(readFileSync(server.log, "latin1")).toBe(lines([5, 6]));
    const peer = await connect(server.port);
    peer.write(lines([6, 7]) + "terminate\n");
    expect(await server.exited).toBe(0);
    expect(sorted(logNumbers(server.log))).toEqual(Uint32Array.from([5, 6, 7]));
  });

  // The log is opened (and locked) before it is read, so the open is what fails.
  test("a log that is a directory: exits 1 saying it cannot open the log", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "numbers.log"));
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--resume"], { cwd: dir }));
    expect(result.code).toBe(1);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toBe("numbers-server: cannot open log file 'numbers.log': it is a directory");
  });

  test.each([
    ["a malformed line", lines([1, 2]) + "12345678x\n" + lines([4]), "line 3 is not nine digits and a newline"],
    ["a repeated number", lines([1, 2, 1]), "line 3 repeats an earlier number"],
  ])("%s: exits 1 with one error line naming it, the log untouched", async (_, content, what) => {
    const dir = tempDir();
    const path = join(dir, "numbers.log");
    writeFileSync(path, content);
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--resume"], { cwd: dir }));
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([`numbers-server: cannot resume from 'numbers.log': ${what}; the file was left as it was`]);
    expect(readFileSync(path, "latin1")).toBe(content);
  });
});
