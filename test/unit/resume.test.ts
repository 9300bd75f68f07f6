// Crash recovery in-process: loadLog (src/server/resume.ts) on good, torn and damaged logs.
// The server with --resume is in test/server/resume.test.ts.

import { describe, expect, test } from "bun:test";
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { untouchedBitmap } from "../support/bitmaps.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { libc } from "../../src/sys/libc.ts";
import { OwnedLog } from "../../src/server/logowner.ts";
import { firstRepeat, isTornTail, loadLog, ResumeError } from "../../src/server/resume.ts";
import { tempDir } from "../support/server.ts";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const lines = (values: number[]) => text(encodeLines(Uint32Array.from(values)));

/**
 * An all-clear bitmap: one 125 MB bitmap cleared for each use rather than a new one each
 * time (clearing it costs less than allocating one and faulting it in). Tests here run one
 * at a time.
 */
const shared = untouchedBitmap();
function clearBitmap(): Uint8Array {
  return shared.fill(0);
}

/** loadLog on the file at `path`, opened for reading as the server opens it, and closed after. */
function load(path: string, bits: Uint8Array) {
  const fd = openSync(path, "r");
  try {
    return loadLog(fd, path, bits);
  } finally {
    closeSync(fd);
  }
}

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
    load(logFile(content), clearBitmap());
  } catch (err) {
    expect(err).toBeInstanceOf(ResumeError);
    return (err as Error).message;
  }
  throw new Error("loadLog accepted a damaged log");
}

describe("loadLog", () => {
  test("an empty file is an empty log (a missing one is created empty by the server's open)", () => {
    const bits = clearBitmap();
    expect(load(logFile(""), bits)).toMatchObject({ count: 0, validBytes: 0 });
    expect(setBits(bits)).toEqual([]);
  });

  test("N valid lines: count N, every bit set and no other, the whole file valid", () => {
    const values = [0, 7, 8, 123_456_789, 999_999_999, 42];
    const bits = clearBitmap();
    expect(load(logFile(lines(values)), bits)).toMatchObject({ count: 6, validBytes: 60 });
    expect(setBits(bits)).toEqual([...values].sort((a, b) => a - b));
  });

  test.each([1, 5, 9])("a torn last line of %d digits is left out of validBytes", (digits) => {
    const bits = clearBitmap();
    const torn = "987654321".slice(0, digits);
    expect(load(logFile(lines([1, 2]) + torn), bits)).toEqual({ count: 2, validBytes: 20, sizeBytes: 20 + digits });
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

  // The log is read 10 MiB at a time: the load must stop at the bad line, not count the
  // valid lines of the reads after it (the error then named a line past them).
  test("a bad line 3 followed by more than one read of valid lines is an error naming line 3", () => {
    const after = encodeLines(numbers({ kind: "seq" }, 1_100_000, 100, 1));
    const message = loadError(Buffer.concat([Buffer.from(lines([1, 2]) + "12345678x\n"), after]));
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
      expect(load(logFile(lines([1, 2]) + tail), clearBitmap())).toMatchObject({ count: 2, validBytes: 20 });
    }
    // Anything after the NULs, or a tenth digit, is damage, not a torn write.
    expect(loadError(lines([1, 2]) + nuls + lines([3]))).toMatch(/line 3 is not nine digits/);
    expect(loadError(lines([1, 2]) + "1234567890" + nuls)).toMatch(/line 3 is not nine digits/);
  });

  test("a log that cannot be read is a ResumeError, not a raw system error", () => {
    expect(() => load(tempDir(), clearBitmap())).toThrow(/^cannot read log file '.+' to resume: it is a directory$/);
    expect(() => load(tempDir(), clearBitmap())).toThrow(ResumeError);
  });

  describe("a log longer than one 10 MiB read", () => {
    // 1,048,576 lines fill exactly one read; the lines after it come in the second.
    const first = 1 << 20;
    const big = encodeLines(numbers({ kind: "seq" }, first + 3, 0, 0));

    test("loads every line and cuts a torn tail after the first read", () => {
      const bits = clearBitmap();
      const content = Buffer.concat([big, Buffer.from("1234")]);
      expect(load(logFile(content), bits)).toMatchObject({ count: first + 3, validBytes: big.length });
    });

    test("a log of exactly one read is whole", () => {
      expect(load(logFile(big.subarray(0, first * 10)), clearBitmap())).toMatchObject({ count: first, validBytes: first * 10 });
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

// A log another process changes while it is loaded. Before, a log cut short during the search
// for a repeated line was read past its end for good (a start that never ended, deaf to
// signals), and one cut short during the load was lengthened again with NUL bytes.
describe("a log that changes while it is loaded", () => {
  test("the search for the repeated line finds none (the file was cut short): an error, not a search past the end", () => {
    const path = logFile(lines([1, 2, 3]));
    const fd = openSync(path, "r");
    try {
      expect(() => firstRepeat(fd, path)).toThrow(`cannot resume from '${path}': it changed while it was loaded (another process cut it short); the file was left as it was`);
    } finally {
      closeSync(fd);
    }
  });

  test("cut() never lengthens the log, nor cuts what was appended after the load: either is an error and the file stays as it is", () => {
    const path = logFile(lines([1, 2]));
    const log = OwnedLog.open(path, true);
    try {
      expect(() => log.cut(30)).toThrow(`cannot resume from '${path}': it changed while it was loaded (another process made it 20 bytes long, 30 when loaded); the file was left as it was`);
      expect(() => log.cut(10, 15)).toThrow("another process made it 20 bytes long, 15 when loaded");
      expect(readFileSync(path, "latin1")).toBe(lines([1, 2]));
      log.cut(10, 20);
      expect(readFileSync(path, "latin1")).toBe(lines([1]));
    } finally {
      log.close();
    }
  });
});

describe("a torn tail past a hole (a file lengthened by truncate, or a crash's unwritten blocks)", () => {
  /** A log of `content`, then made `size` bytes long (a hole), then `after` written at its end. */
  function holed(content: string, size: number, after = ""): string {
    const path = logFile(content);
    const fd = openSync(path, "r+");
    ftruncateSync(fd, size);
    if (after) writeFileSync(path, after, { flag: "a" });
    closeSync(fd);
    return path;
  }

  test("a 1 GiB hole after the last line is a torn tail; data past a hole, however far, is damage", () => {
    expect(load(holed(lines([1]) + "12", 1 << 30), clearBitmap())).toMatchObject({ count: 1, validBytes: 10 });
    expect(() => load(holed(lines([1]), 64 << 20, "x"), clearBitmap())).toThrow(/line 2 is not nine digits and a newline/);
  });

  test("NULs written out (not a hole) over more than one read are a torn tail; one byte among them is damage", () => {
    const nuls = Buffer.alloc(3 << 20);
    const path = logFile(Buffer.concat([Buffer.from(lines([1, 2])), nuls]));
    const fd = openSync(path, "r");
    try {
      expect(isTornTail(fd, 20)).toBe(true);
    } finally {
      closeSync(fd);
    }
    nuls[(3 << 20) - 5] = 1;
    expect(loadError(Buffer.concat([Buffer.from(lines([1, 2])), nuls]))).toMatch(/line 3 is not nine digits/);
  });
});

// Before, --resume opened a character device for reading too, which it never reads: a device
// a user may write but not read was refused.
test("--resume opens a regular (or missing) file for reading too, to load it; a device for writing alone", () => {
  const F_GETFL = 3;
  const O_ACCMODE = 3; // not among node:fs constants in Bun
  const access = (log: OwnedLog) => libc()!.fcntl(log.fd, F_GETFL, 0) & O_ACCMODE;
  for (const [path, mode] of [[logFile(lines([1])), constants.O_RDWR], [join(tempDir(), "missing.log"), constants.O_RDWR], ["/dev/null", constants.O_WRONLY]] as const) {
    const log = OwnedLog.open(path, true);
    try {
      expect(access(log), path).toBe(mode);
    } finally {
      log.close();
    }
  }
});
