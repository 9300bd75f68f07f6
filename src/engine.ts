// The pure core: parses raw bytes from each connection, de-duplicates the numbers in a
// bitmap and collects each new number's 10 bytes in a log buffer. It does no socket,
// timer or file work: the caller hands it chunks and a `write` callback for full buffers.
//
// Every valid line is exactly 10 bytes: nine digits and LF, or "terminate" and LF. A
// chunk is processed in three passes so that the random bitmap misses overlap instead of
// waiting on one another: parse a run of whole lines into a scratch array, test-and-set
// them in branch-free loops that only record which were new (see testAndSet), then copy
// the new lines' bytes into the log buffer.

import { createBitmap } from "./bitmap.ts";

export const LINE_BYTES = 10;
const LF = 10;
const ZERO = 48;
const TERMINATE = new TextEncoder().encode("terminate");

/** What the caller must do with the connection after a chunk. */
export const KEEP = 0;
export const CLOSE = 1;
export const TERMINATE_SERVER = 2;
export type Verdict = typeof KEEP | typeof CLOSE | typeof TERMINATE_SERVER;

/**
 * Lines parsed per pass (80 KiB of input; a 512 KiB chunk takes about 7). One pass of a
 * whole chunk was no faster in-process, and its scratch and log buffers cost ~1 MiB more
 * RSS (`bun run bench`).
 */
const SCRATCH_LINES = 8192;
/** Numbers read before any is set; their cache lines must stay warm between the passes. */
const PROBE_BLOCK = 512;
/** New lines in a row from which one native copy beat a copy loop (measured with set()). */
const MIN_BULK_LINES = 16;
/**
 * Node's Buffer#copy takes a source range, so a run is copied without the subarray() that
 * out.set() would need. That view per run is what mattered: with ~1% duplicates a run is
 * ~100 lines, and the ~200k views per 20 M numbers held ~12 MiB of heap until a GC, whose
 * pacing counts the 119 MiB bitmap, came round to them.
 */
const copyRange = Buffer.prototype.copy;
/** The log buffer holds at least one full pass of new lines. */
export const LOG_BUFFER_BYTES = 1 << 17;

/** Per-connection parser state: the bytes of a line cut at the end of the previous chunk. */
export interface LineCarry {
  carry: Uint8Array;
  carryLen: number;
}

export function newLineCarry(): LineCarry {
  return { carry: new Uint8Array(LINE_BYTES), carryLen: 0 };
}

export interface EngineOptions {
  /** The 10^9-bit set; a fresh one when omitted. */
  bitmap?: Uint8Array;
  /** The bitmap is shared with other threads: set bits with atomic operations. */
  atomic?: boolean;
  /** Receives full log buffers and the rest on drain(); the bytes are only valid during the call. */
  write: (bytes: Uint8Array) => void;
}

export class Engine {
  readonly bits: Uint8Array;
  /** New unique numbers since the last takeCounts(). */
  unique = 0;
  /** Duplicates since the last takeCounts(). */
  duplicates = 0;
  /** All unique numbers this engine has counted. */
  total = 0;

  private readonly write: (bytes: Uint8Array) => void;
  private readonly values = new Uint32Array(SCRATCH_LINES);
  private readonly fresh = new Uint32Array(SCRATCH_LINES);
  private readonly candidates = new Uint32Array(PROBE_BLOCK);
  private readonly atomic: boolean;
  private readonly out = new Uint8Array(LOG_BUFFER_BYTES);
  private outLen = 0;

  constructor(options: EngineOptions) {
    this.bits = options.bitmap ?? createBitmap();
    this.write = options.write;
    this.atomic = options.atomic ?? false;
  }

  /**
   * Consumes one chunk from a connection. Lines before an invalid line or `terminate`
   * count; that line and everything after it are ignored, and the verdict says so.
   */
  feed(conn: LineCarry, chunk: Uint8Array): Verdict {
    const n = chunk.length;
    let i = 0;
    if (conn.carryLen > 0) {
      const carry = conn.carry;
      let k = conn.carryLen;
      while (k < LINE_BYTES && i < n) carry[k++] = chunk[i++];
      if (k < LINE_BYTES) {
        conn.carryLen = k;
        return partialLineIsValid(carry, k) ? KEEP : CLOSE;
      }
      conn.carryLen = 0;
      const value = parseLine(carry, 0);
      if (value < 0) return isTerminate(carry, 0) ? TERMINATE_SERVER : CLOSE;
      this.values[0] = value;
      this.record(carry, 0, 1);
    }
    // Only made when there are two lines to read a word at a time (see parsePairs).
    const view = n - i >= 2 * LINE_BYTES ? new DataView(chunk.buffer, chunk.byteOffset, n) : undefined;
    while (n - i >= LINE_BYTES) {
      const start = i;
      const pairs = Math.min(SCRATCH_LINES, ((n - i) / LINE_BYTES) | 0) >>> 1;
      if (pairs > 0 && parsePairs(view!, start, pairs, this.values)) {
        i = start + pairs * 2 * LINE_BYTES;
        this.record(chunk, start, pairs * 2);
        continue;
      }
      // A bad line (or `terminate`) in this pass, or one line left: the exact way, a line at a time.
      const end = Math.min(n - LINE_BYTES, start + (SCRATCH_LINES - 1) * LINE_BYTES);
      const values = this.values;
      let count = 0;
      for (; i <= end; i += LINE_BYTES) {
        const value = parseLine(chunk, i);
        if (value < 0) break;
        values[count++] = value;
      }
      this.record(chunk, start, count);
      if (i <= end) return isTerminate(chunk, i) ? TERMINATE_SERVER : CLOSE;
    }
    const rest = n - i;
    if (rest > 0) {
      const carry = conn.carry;
      for (let k = 0; k < rest; k++) carry[k] = chunk[i + k];
      conn.carryLen = rest;
      if (!partialLineIsValid(carry, rest)) return CLOSE;
    }
    return KEEP;
  }

  /** Hands every buffered log byte to `write`. */
  drain(): void {
    if (this.outLen === 0) return;
    this.write(this.out.subarray(0, this.outLen));
    this.outLen = 0;
  }

  /** Returns the counts since the last call and starts a new period. */
  takeCounts(): { unique: number; duplicates: number; total: number } {
    const counts = { unique: this.unique, duplicates: this.duplicates, total: this.total };
    this.unique = 0;
    this.duplicates = 0;
    return counts;
  }

  /**
   * Test-and-sets `values[0..count)`, whose lines start at `src[base + 10k]`, and copies
   * each new line to the log buffer.
   */
  private record(src: Uint8Array, base: number, count: number): void {
    if (count === 0) return;
    const found = this.testAndSet(count);
    this.unique += found;
    this.total += found;
    this.duplicates += count - found;
    if (found === 0) return;
    if (this.outLen + found * LINE_BYTES > LOG_BUFFER_BYTES) this.drain();
    const out = this.out;
    let o = this.outLen;
    if (found === count) {
      // Every line new (seq, and most passes of random): one copy.
      copyRange.call(src, out, o, base, base + count * LINE_BYTES);
      this.outLen = o + count * LINE_BYTES;
      return;
    }
    const fresh = this.fresh;
    for (let f = 0; f < found; ) {
      // A run of consecutive new lines is one contiguous copy; short runs are copied by hand.
      let end = f + 1;
      while (end < found && fresh[end] === fresh[end - 1] + 1) end++;
      const from = base + fresh[f] * LINE_BYTES;
      const bytes = (end - f) * LINE_BYTES;
      if (end - f >= MIN_BULK_LINES) copyRange.call(src, out, o, from, from + bytes);
      else for (let b = 0; b < bytes; b++) out[o + b] = src[from + b];
      o += bytes;
      f = end;
    }
    this.outLen = o;
  }

  /**
   * Test-and-sets values[0..count), listing the new ones in `fresh`; returns how many.
   * Each block is first only read: the cache misses overlap, and a bit already set is a
   * duplicate for good, so most duplicates never dirty a cache line. Only the numbers that
   * looked new are then set, on cache lines that are now warm. On a bitmap shared with other
   * threads the set is an atomic OR, whose old value decides, so two threads can never both
   * count a number as new; an atomic OR is a full barrier on x86, and a loop of them alone
   * would take the misses one at a time.
   */
  private testAndSet(count: number): number {
    const values = this.values;
    const fresh = this.fresh;
    const candidates = this.candidates;
    const bits = this.bits;
    let found = 0;
    for (let start = 0; start < count; start += PROBE_BLOCK) {
      const end = Math.min(count, start + PROBE_BLOCK);
      let open = 0;
      for (let k = start; k < end; k++) {
        const v = values[k];
        candidates[open] = k;
        open += ((bits[v >>> 3] >>> (v & 7)) & 1) ^ 1;
      }
      if (this.atomic) {
        for (let c = 0; c < open; c++) {
          const k = candidates[c];
          const v = values[k];
          const shift = v & 7;
          const old = Atomics.or(bits, v >>> 3, 1 << shift);
          fresh[found] = k;
          found += ((old >>> shift) & 1) ^ 1;
        }
      } else if (open > 0) {
        // The byte being set is kept in a register until the next candidate is on another
        // byte: consecutive numbers share a byte and would otherwise wait on each other's store.
        let at = values[candidates[0]] >>> 3;
        let byte = bits[at];
        for (let c = 0; c < open; c++) {
          const k = candidates[c];
          const v = values[k];
          if (v >>> 3 !== at) {
            bits[at] = byte;
            at = v >>> 3;
            byte = bits[at];
          }
          const shift = v & 7;
          fresh[found] = k;
          found += ((byte >>> shift) & 1) ^ 1;
          byte |= 1 << shift;
        }
        bits[at] = byte;
      }
    }
    return found;
  }
}

/**
 * Parses `pairs` pairs of lines from byte `at` of `view` into values[0..2 * pairs) four bytes
 * at a time (two lines are five little-endian words), and returns whether every line was
 * nine digits and LF. The check is for the whole run at once: when it fails, the caller
 * parses the same lines again one at a time, so a bad line gets exactly the verdict it gets
 * there. The digit check is exact: for a byte b, b + 0x46 and b - 0x30 both leave the high
 * bit clear only for '0'..'9'; carries and borrows cross bytes, but only upward from a byte
 * that is not a digit, so the lowest bad byte of a word is always flagged. Each LF is
 * checked on its own and replaced by a '0' for the digit check. In-process, ~1.6x the lines/s
 * of parseLine().
 */
function parsePairs(view: DataView, at: number, pairs: number, values: Uint32Array): boolean {
  let high = 0;
  let lf = 0;
  for (let p = 0, k = 0; p < pairs; p++, at += 2 * LINE_BYTES) {
    // Lines A and B: w0 = A0..A3, w1 = A4..A7, w2 = A8 LF B0 B1, w3 = B2..B5, w4 = B6 B7 B8 LF.
    const w0 = view.getInt32(at, true);
    const w1 = view.getInt32(at + 4, true);
    const w2 = view.getInt32(at + 8, true);
    const w3 = view.getInt32(at + 12, true);
    const w4 = view.getInt32(at + 16, true);
    const m2 = (w2 & 0xffff00ff) | 0x3000;
    const m4 = (w4 & 0x00ffffff) | 0x30000000;
    high |= (w0 + 0x46464646) | (w0 - 0x30303030) | (w1 + 0x46464646) | (w1 - 0x30303030) |
      (m2 + 0x46464646) | (m2 - 0x30303030) | (w3 + 0x46464646) | (w3 - 0x30303030) |
      (m4 + 0x46464646) | (m4 - 0x30303030);
    lf |= ((w2 & 0xff00) | (w4 & 0xff000000)) ^ 0x0a000a00;
    values[k++] = four(w0) * 100000 + four(w1) * 10 + (w2 & 0x0f);
    // 10 * B0 + B1 from the top of w2; 10 * B6 + B7 from byte 1 of w4 (see four()).
    const y2 = Math.imul(w2 & 0x0f0f0f0f, 0xa01);
    const y4 = Math.imul(w4 & 0x0f0f0f0f, 0xa01);
    values[k++] = (y2 >>> 24) * 10000000 + four(w3) * 1000 + ((y4 >>> 8) & 0xff) * 10 + ((w4 >>> 16) & 0x0f);
  }
  return ((high & 0x80808080) | lf) === 0;
}

/**
 * The four digits in the bytes of `x` (the first in the lowest byte) as a number: times
 * 0x0a01 puts 10 * d0 + d1 in byte 1 and 10 * d2 + d3 in byte 3, then times 0x640001 puts
 * 100 * (10 * d0 + d1) + (10 * d2 + d3) in the top 16 bits. Nothing carries between lanes.
 */
function four(x: number): number {
  const d = (Math.imul(x & 0x0f0f0f0f, 0xa01) >>> 8) & 0x00ff00ff;
  return Math.imul(d, 0x640001) >>> 16;
}

/** The value of the 10-byte line at `at`, or -1 when it is not nine digits and LF. */
export function parseLine(b: Uint8Array, at: number): number {
  const d0 = b[at] - ZERO;
  const d1 = b[at + 1] - ZERO;
  const d2 = b[at + 2] - ZERO;
  const d3 = b[at + 3] - ZERO;
  const d4 = b[at + 4] - ZERO;
  const d5 = b[at + 5] - ZERO;
  const d6 = b[at + 6] - ZERO;
  const d7 = b[at + 7] - ZERO;
  const d8 = b[at + 8] - ZERO;
  // An unsigned compare catches bytes below '0' (negative) and above '9' at once.
  if (
    (d0 >>> 0) > 9 || (d1 >>> 0) > 9 || (d2 >>> 0) > 9 || (d3 >>> 0) > 9 || (d4 >>> 0) > 9 ||
    (d5 >>> 0) > 9 || (d6 >>> 0) > 9 || (d7 >>> 0) > 9 || (d8 >>> 0) > 9 || b[at + 9] !== LF
  ) {
    return -1;
  }
  return ((((d0 * 10 + d1) * 10 + d2) * 10 + d3) * 10 + d4) * 10000 +
    (((d5 * 10 + d6) * 10 + d7) * 10 + d8);
}

/** Whether the 10 bytes at `at` are exactly "terminate\n". */
export function isTerminate(b: Uint8Array, at: number): boolean {
  for (let k = 0; k < TERMINATE.length; k++) if (b[at + k] !== TERMINATE[k]) return false;
  return b[at + TERMINATE.length] === LF;
}

/**
 * Whether the first `len` (< 10) bytes of a line can still become a valid line, so a bad
 * byte closes the connection when it arrives rather than when the line is complete.
 */
export function partialLineIsValid(b: Uint8Array, len: number): boolean {
  let digits = true;
  let word = true;
  for (let k = 0; k < len; k++) {
    const c = b[k];
    if (c < ZERO || c > ZERO + 9) digits = false;
    if (c !== TERMINATE[k]) word = false;
  }
  return digits || word;
}
