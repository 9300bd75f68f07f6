// Checks a numbers.log after a benchmark or check run: it must hold exactly the expected set of
// unique numbers (none missing, none extra, none twice), each line nine digits and LF.
// The line check is written here on purpose instead of reusing the server's parser: an
// oracle that shares the code under test cannot catch that code's bugs.

import { closeSync, openSync, readSync } from "node:fs";
import { BITMAP_BYTES, testAndSet } from "../core/bitmap.ts";
import { CONNECTIONS, workloadNumbers, type WorkloadName } from "../client/workloads.ts";

export interface NumberSet {
  bits: Uint8Array;
  size: number;
}

/**
 * A bitmap whose pages the kernel maps on first touch. The server's createBitmap() maps
 * them all up front for its probe loops; a check touches only the pages of the numbers it
 * meets, and a small run's check would otherwise pay ~30k page faults per bitmap.
 */
const lazyBitmap = () => new Uint8Array(BITMAP_BYTES);

/** The set a run of `count` numbers of `workload` must leave in the log, regenerated. */
export function expectedSet(workload: WorkloadName, count: number): NumberSet {
  const bits = lazyBitmap();
  let size = 0;
  for (let c = 0; c < CONNECTIONS; c++) {
    const values = workloadNumbers(workload, count, c);
    for (let i = 0; i < values.length; i++) if (testAndSet(bits, values[i])) size++;
  }
  return { bits, size };
}

export interface LogReport {
  ok: boolean;
  lines: number;
  expected: number;
  missing: number;
  extra: number;
  duplicates: number;
  malformed: number;
  /** The first few problems, one per entry, for the failure message. */
  examples: string[];
}

const LF = 10;
const ZERO = 48;
const MAX_EXAMPLES = 5;
/** Bad lines longer than this are kept and shown cut short; a good line has 9 bytes. */
const LINE_LIMIT = 16;
/** A multiple of the 10-byte line, so reads of a good log never split a line. */
const READ_BYTES = 4_000_000;

/** Feeds a log's bytes in chunks of any size and compares them with the expected set. */
export class LogChecker {
  private readonly seen = lazyBitmap();
  private lines = 0;
  private duplicates = 0;
  private malformed = 0;
  /** Distinct numbers logged that the expected set holds, and those it does not. */
  private hits = 0;
  private extra = 0;
  private readonly examples: string[] = [];
  /** The start of a line cut at the end of the previous chunk (only its first 10 bytes). */
  private readonly part = new Uint8Array(LINE_LIMIT);
  private partLen = 0;

  constructor(private readonly expected: NumberSet) {}

  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    let pos = 0;
    if (this.partLen > 0) {
      const lf = chunk.indexOf(LF);
      this.append(chunk, 0, lf < 0 ? n : lf);
      if (lf < 0) return;
      this.line(this.part, 0, this.partLen);
      this.partLen = 0;
      pos = lf + 1;
    }
    while (pos < n) {
      // The fast path for a well-formed line; anything else goes through indexOf.
      if (pos + 10 <= n && chunk[pos + 9] === LF) {
        const value = digits(chunk, pos, 9);
        if (value >= 0) {
          this.number(value);
          pos += 10;
          continue;
        }
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.append(chunk, pos, n);
        return;
      }
      this.line(chunk, pos, lf);
      pos = lf + 1;
    }
  }

  /**
   * Ends the log and compares what it held with the expected set. `nameMissing` false: the
   * examples leave out the missing numbers, for a caller to whom only a subset is due (a log
   * cut short by a stop).
   */
  finish(nameMissing = true): LogReport {
    if (this.partLen > 0) {
      this.problem(`line ${this.lines + 1}: ${show(this.part, this.partLen)} has no LF at the end of the file`);
      this.malformed++;
      this.lines++;
      this.partLen = 0;
    }
    // Every distinct logged number was looked up as it was read, so the counts need no scan
    // of the two bitmaps; only a missing number's name does.
    const missing = this.expected.size - this.hits;
    if (missing > 0 && nameMissing) this.nameMissing();
    const report = {
      lines: this.lines,
      expected: this.expected.size,
      missing,
      extra: this.extra,
      duplicates: this.duplicates,
      malformed: this.malformed,
      examples: this.examples,
    };
    return { ok: missing + this.extra + this.duplicates + this.malformed === 0 && this.lines === this.expected.size, ...report };
  }

  private append(chunk: Uint8Array, from: number, to: number) {
    const take = Math.min(to - from, LINE_LIMIT - Math.min(this.partLen, LINE_LIMIT));
    this.part.set(chunk.subarray(from, from + take), Math.min(this.partLen, LINE_LIMIT));
    this.partLen += to - from;
  }

  /** One line without its LF, `to - from` bytes long (only the first LINE_LIMIT are kept). */
  private line(bytes: Uint8Array, from: number, to: number) {
    const value = to - from === 9 ? digits(bytes, from, 9) : -1;
    if (value >= 0) return this.number(value);
    this.lines++;
    this.malformed++;
    this.problem(`line ${this.lines}: ${show(bytes.subarray(from, Math.min(to, from + LINE_LIMIT)), to - from)} is not nine digits`);
  }

  private number(value: number) {
    this.lines++;
    if (!testAndSet(this.seen, value)) {
      this.duplicates++;
      this.problem(`line ${this.lines}: ${pad(value)} is a duplicate`);
    } else if (has(this.expected.bits, value)) {
      this.hits++;
    } else {
      this.extra++;
      this.problem(`${pad(value)} was never sent`);
    }
  }

  private problem(text: string) {
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(text);
  }

  /** Names the first few expected numbers the log lacks, scanning the bitmaps word by word. */
  private nameMissing() {
    const want = new Uint32Array(this.expected.bits.buffer, this.expected.bits.byteOffset, BITMAP_BYTES / 4);
    const got = new Uint32Array(this.seen.buffer, 0, BITMAP_BYTES / 4);
    for (let w = 0; w < want.length && this.examples.length < MAX_EXAMPLES; w++) {
      const lost = want[w] & ~got[w];
      for (let b = 0; lost !== 0 && b < 32 && this.examples.length < MAX_EXAMPLES; b++) {
        if ((lost >>> b) & 1) this.problem(`${pad(w * 32 + b)} is missing`);
      }
    }
  }
}

/** Reads the log at `path` in chunks and checks it against `expected`. */
export function verifyLog(path: string, expected: NumberSet): LogReport {
  const checker = new LogChecker(expected);
  const buffer = new Uint8Array(READ_BYTES);
  const fd = openSync(path, "r");
  try {
    let n;
    while ((n = readSync(fd, buffer, 0, READ_BYTES, null)) > 0) checker.feed(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return checker.finish();
}

/** A one-paragraph account of a failed check. */
export function describeReport(r: LogReport): string {
  return `numbers.log has ${r.lines} lines, expected ${r.expected} unique numbers: ` +
    `${r.missing} missing, ${r.extra} extra, ${r.duplicates} duplicate, ${r.malformed} malformed; first problems:\n  ` +
    r.examples.join("\n  ");
}

/** The value of `len` ASCII digits at `at`, or -1 when any byte is not a digit. */
function digits(b: Uint8Array, at: number, len: number): number {
  let value = 0;
  for (let k = 0; k < len; k++) {
    const d = b[at + k] - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Whether `bits` holds `value` (the oracle's own read, not the server's testAndSet). */
function has(bits: Uint8Array, value: number): boolean {
  return (bits[value >>> 3] & (1 << (value & 7))) !== 0;
}

function pad(value: number): string {
  return String(value).padStart(9, "0");
}

function show(bytes: Uint8Array, length: number): string {
  const text = JSON.stringify(Buffer.from(bytes.subarray(0, Math.min(length, LINE_LIMIT))).toString("latin1"));
  return length > LINE_LIMIT ? `${text}... (${length} bytes)` : text;
}
