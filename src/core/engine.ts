// The pure core: de-duplicates whole valid lines in a bitmap and collects each new
// number's 10 bytes in a log buffer. It does no socket, timer or file work: the caller hands
// it lines that protocol.ts framed as valid, and a `write` callback for full buffers.
//
// Lines are processed in three passes so that the random bitmap misses overlap instead of
// waiting on one another: parse a run of lines into a scratch array, test-and-set them in
// branch-free loops that only record which were new (see testAndSet), then copy the new
// lines' bytes into the log buffer. A pass of consecutive numbers (a client sending a range)
// is set a byte of the bitmap at a time instead (setRun).

import { noInline } from "bun:jsc";
import { createBitmap } from "./bitmap.ts";
import { frame, LINE_BYTES, parseLine, type LineCarry, type Verdict } from "./protocol.ts";

/**
 * Lines parsed per pass (80 KiB of input; a 512 KiB chunk takes about 7). One pass of a
 * whole chunk was no faster in-process, and its larger scratch and log buffers cost RSS
 * (docs/experiments.md).
 */
const SCRATCH_LINES = 8192;
/** Numbers read before any is set; their cache lines must stay warm between the passes. */
const PROBE_BLOCK = 512;
/**
 * Numbers per line of spread between a pass's first and last number from which the pass
 * counts as scattered (commit()): 2 bytes of bitmap per line, where seq spreads 1/8 and
 * random over 10^9 some 15,000. Low enough that the warm-up's made-up lines (warmup.ts), in
 * a bitmap of 128 KiB, take both loops often enough to compile both.
 */
const SCATTERED_SPREAD = 16;
/** New lines in a row from which one native copy beat a copy loop (measured with set()). */
const MIN_BULK_LINES = 16;
/**
 * Node's Buffer#copy takes a source range, so a run is copied without the subarray() that
 * out.set() would need. That view per run is what mattered: the many short-lived views held
 * heap until a GC, whose pacing counts the bitmap, came round to them (docs/experiments.md).
 */
const copyRange = Buffer.prototype.copy;
/** The log buffer holds at least one full pass of new lines. */
export const LOG_BUFFER_BYTES = 1 << 17;

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
  /** The bitmap bytes of one block, for testAndSetScattered(). */
  private readonly probed = new Uint8Array(PROBE_BLOCK);
  /** The last pass was scattered and mostly new: the next one likely is too (commit()). */
  private scattered = false;
  private readonly atomic: boolean;
  private readonly out = new Uint8Array(LOG_BUFFER_BYTES);
  private outLen = 0;

  constructor(options: EngineOptions) {
    this.bits = options.bitmap ?? createBitmap();
    this.write = options.write;
    this.atomic = options.atomic ?? false;
  }

  /**
   * Frames one chunk of a connection (see frame()) and counts its valid lines: the whole
   * job of one connection's chunk in one thread.
   */
  frameAndCount(conn: LineCarry, chunk: Uint8Array): Verdict {
    const f = frame(conn, chunk);
    if (f.carried) this.countLines(conn.completed, 0, LINE_BYTES);
    this.countLines(chunk, f.start, f.end);
    return f.verdict;
  }

  /**
   * Counts the lines in bytes [start, end) of `src`, which frame() found to be whole valid
   * lines: each new number is set in the bitmap and its line copied to the log buffer.
   */
  countLines(src: Uint8Array, start: number, end: number): void {
    // Lines that start 4-byte aligned in their buffer are parsed through an Int32Array, which
    // costs less CPU than a DataView (docs/experiments.md); two bytes off, the first line
    // counted alone aligns the rest. An odd offset (half of a socket's chunks) keeps the
    // DataView. The warm-up takes both (warmup.ts).
    if (end - start >= 3 * LINE_BYTES && ((src.byteOffset + start) & 3) === 2) {
      this.values[0] = parseLine(src, start);
      this.commit(src, start, 1);
      start += LINE_BYTES;
    }
    if (end - start >= 2 * LINE_BYTES) {
      const aligned = ((src.byteOffset + start) & 3) === 0;
      const words = aligned ? new Int32Array(src.buffer, src.byteOffset + start, (end - start) >>> 2) : undefined;
      const view = aligned ? undefined : new DataView(src.buffer, src.byteOffset, src.length);
      for (let at = start; end - at >= 2 * LINE_BYTES; ) {
        const pairs = Math.min(SCRATCH_LINES, (end - at) / LINE_BYTES) >>> 1;
        if (words !== undefined) parseAlignedPairs(words, (at - start) >>> 2, pairs, this.values);
        else parsePairs(view!, at, pairs, this.values);
        this.commit(src, at, pairs * 2);
        at += pairs * 2 * LINE_BYTES;
      }
    }
    if ((end - start) % (2 * LINE_BYTES) !== 0) {
      this.values[0] = parseLine(src, end - LINE_BYTES);
      this.commit(src, end - LINE_BYTES, 1);
    }
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
  private commit(src: Uint8Array, base: number, count: number): void {
    // Scattered numbers (far apart, mostly new) miss the caches on every read: the pass
    // takes the loop made for that. Either loop gives the same result; only speed differs.
    const values = this.values;
    const far = Math.abs(values[count - 1] - values[0]) > count * SCATTERED_SPREAD;
    const found = isRun(values, count)
      ? this.setRun(values[0], count)
      : this.scattered && far
        ? this.testAndSetScattered(count)
        : this.testAndSet(count);
    // A pass of one line (the odd line at a chunk's end, counted on its own) says nothing of
    // the next; letting it decide sent every pass after a chunk of an odd number of lines to
    // the near loop, however scattered the numbers.
    if (count > 1) this.scattered = far && found * 2 > count;
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
   * looked new are then set (setBlock()), on cache lines that are now warm.
   */
  private testAndSet(count: number): number {
    const values = this.values;
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
      if (open > 0) found = this.setBlock(open, found);
    }
    return found;
  }

  /**
   * testAndSet() for numbers scattered over the bitmap, where nearly every read misses the
   * caches: each block's bytes are gathered first, in a loop whose loads depend on nothing,
   * so that more misses are in flight at once. Slower where the reads hit (seq, dup), hence
   * a method of its own: one method choosing between the two loops ran those slower
   * (docs/experiments.md, gathering the probes).
   */
  private testAndSetScattered(count: number): number {
    const values = this.values;
    const candidates = this.candidates;
    const probed = this.probed;
    const bits = this.bits;
    let found = 0;
    for (let start = 0; start < count; start += PROBE_BLOCK) {
      const end = Math.min(count, start + PROBE_BLOCK);
      for (let k = start; k < end; k++) probed[k - start] = bits[values[k] >>> 3];
      let open = 0;
      for (let k = start; k < end; k++) {
        candidates[open] = k;
        open += ((probed[k - start] >>> (values[k] & 7)) & 1) ^ 1;
      }
      if (open > 0) found = this.setBlock(open, found);
    }
    return found;
  }

  /**
   * Test-and-sets the run of numbers from..from + count (line k holds from + k) a bitmap byte
   * at a time, eight numbers in one read and write (or one Atomics.or on a shared bitmap,
   * whose old value says which bits this thread set); returns how many were new. fresh[]
   * lists them only when some were not: while every number so far is new it is left
   * unwritten, as commit() copies a pass whose lines are all new in one piece.
   */
  private setRun(from: number, count: number): number {
    const bits = this.bits;
    const fresh = this.fresh;
    const end = from + count;
    let found = 0;
    // Whether fresh[0..found) lists the new ones: only once a number was not new.
    let listed = false;
    for (let v = from, k = 0; v < end; ) {
      const low = v & 7;
      const high = Math.min(8, low + end - v);
      const mask = (0xff >>> (8 - high)) & (0xff << low);
      const at = v >>> 3;
      let added: number;
      if (this.atomic) added = mask & ~Atomics.or(bits, at, mask);
      else {
        const was = bits[at];
        added = mask & ~was;
        // A byte whose numbers were all set already is not written: its cache line stays clean.
        if (added !== 0) bits[at] = was | mask;
      }
      if (added === mask && !listed) found += high - low;
      else {
        if (!listed) {
          // Every number before this byte was new: they are fresh[0..found).
          for (let j = 0; j < found; j++) fresh[j] = j;
          listed = true;
        }
        if (added !== 0) {
          for (let b = low; b < high; b++) {
            fresh[found] = k + b - low;
            found += (added >>> b) & 1;
          }
        }
      }
      k += high - low;
      v += high - low;
    }
    return found;
  }

  /**
   * Sets the bits of the `open` numbers values[candidates[0..open)] that looked new, in
   * order, appending those that were new to fresh[] from `found`; returns its new end. On a
   * bitmap shared with other threads each byte is written with a compareExchange from the
   * value that decided (see claimByte()), so two threads can never both count a number as
   * new; an atomic operation is a full barrier on x86, and a loop of them alone would take
   * the misses one at a time.
   */
  private setBlock(open: number, found: number): number {
    const values = this.values;
    const fresh = this.fresh;
    const candidates = this.candidates;
    const bits = this.bits;
    if (this.atomic) {
      // As below, a byte at a time, but each byte is written with one compareExchange
      // from the value read, which decided what was new (see claimByte()). One loop for
      // both, with the write chosen per byte, was slower on random (docs/experiments.md, 2026-12-07).
      let first = 0;
      let foundAtFirst = found;
      let at = values[candidates[0]] >>> 3;
      let old = bits[at];
      let byte = old;
      for (let c = 0; c < open; c++) {
        const k = candidates[c];
        const v = values[k];
        if (v >>> 3 !== at) {
          if (byte !== old) found = claimByte(bits, at, old, byte, values, candidates, first, c, fresh, foundAtFirst, found);
          first = c;
          foundAtFirst = found;
          at = v >>> 3;
          old = bits[at];
          byte = old;
        }
        const shift = v & 7;
        fresh[found] = k;
        found += ((byte >>> shift) & 1) ^ 1;
        byte |= 1 << shift;
      }
      if (byte !== old) found = claimByte(bits, at, old, byte, values, candidates, first, open, fresh, foundAtFirst, found);
      return found;
    }
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
    return found;
  }
}

/** Lines from which a pass of consecutive numbers is set a byte at a time (setRun()). */
const RUN_LINES = 64;

/**
 * Whether values[0..count) are consecutive ascending numbers (a client sending a range, as
 * the seq workload does): the first test fails at once for any other pass.
 */
function isRun(values: Uint32Array, count: number): boolean {
  const first = values[0];
  if (count < RUN_LINES || values[count - 1] - first !== count - 1) return false;
  for (let k = 1; k < count; k++) if (values[k] !== first + k) return false;
  return true;
}

/**
 * Writes `byte` to bits[at] if it still holds `old`, the value that decided which of the
 * numbers values[candidates[first..end)] (all on that byte) were new: fresh[from..found)
 * lists them. If another thread changed the byte since it was read, those numbers are
 * claimed again one at a time with Atomics.or, whose old value decides, and fresh[] is
 * rewritten from `from`. Returns the new end of fresh[]. One compareExchange per byte
 * instead of an atomic OR per number: faster on seq (docs/experiments.md, claimByte).
 */
export function claimByte(
  bits: Uint8Array, at: number, old: number, byte: number,
  values: Uint32Array, candidates: Uint32Array, first: number, end: number,
  fresh: Uint32Array, from: number, found: number,
): number {
  if (Atomics.compareExchange(bits, at, old, byte) === old) return found;
  found = from;
  for (let c = first; c < end; c++) {
    const k = candidates[c];
    const shift = values[k] & 7;
    const was = Atomics.or(bits, at, 1 << shift);
    fresh[found] = k;
    found += ((was >>> shift) & 1) ^ 1;
  }
  return found;
}

/**
 * Parses `pairs` pairs of valid lines from byte `at` of `view` into values[0..2 * pairs),
 * four bytes at a time: two lines are five little-endian words. The lines were checked by
 * frame() (protocol.ts), so nothing is checked here.
 */
function parsePairs(view: DataView, at: number, pairs: number, values: Uint32Array): void {
  for (let p = 0, k = 0; p < pairs; p++, at += 2 * LINE_BYTES) {
    // Lines A and B: w0 = A0..A3, w1 = A4..A7, w2 = A8 LF B0 B1, w3 = B2..B5, w4 = B6 B7 B8 LF.
    const w0 = view.getInt32(at, true);
    const w1 = view.getInt32(at + 4, true);
    const w2 = view.getInt32(at + 8, true);
    const w3 = view.getInt32(at + 12, true);
    const w4 = view.getInt32(at + 16, true);
    values[k++] = four(w0) * 100000 + four(w1) * 10 + (w2 & 0x0f);
    // 10 * B0 + B1 from the top of w2; 10 * B6 + B7 from byte 1 of w4 (see four()).
    const y2 = Math.imul(w2 & 0x0f0f0f0f, 0xa01);
    const y4 = Math.imul(w4 & 0x0f0f0f0f, 0xa01);
    values[k++] = (y2 >>> 24) * 10000000 + four(w3) * 1000 + ((y4 >>> 8) & 0xff) * 10 + ((w4 >>> 16) & 0x0f);
  }
}

/** parsePairs() over the words of lines that start 4-byte aligned, from word `w` of `words`. */
function parseAlignedPairs(words: Int32Array, w: number, pairs: number, values: Uint32Array): void {
  for (let p = 0, k = 0; p < pairs; p++, w += 5) {
    const w0 = words[w];
    const w1 = words[w + 1];
    const w2 = words[w + 2];
    const w3 = words[w + 3];
    const w4 = words[w + 4];
    values[k++] = four(w0) * 100000 + four(w1) * 10 + (w2 & 0x0f);
    const y2 = Math.imul(w2 & 0x0f0f0f0f, 0xa01);
    const y4 = Math.imul(w4 & 0x0f0f0f0f, 0xa01);
    values[k++] = (y2 >>> 24) * 10000000 + four(w3) * 1000 + ((y4 >>> 8) & 0xff) * 10 + ((w4 >>> 16) & 0x0f);
  }
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

// The probe and set loops are compiled on their own, never inlined into commit(): inlined,
// each change of path (near, scattered; a first duplicate) recompiled all of commit(),
// during the first clients' numbers (docs/experiments.md).
const methods = Engine.prototype as unknown as Record<string, (...args: never[]) => unknown>;
for (const name of ["testAndSet", "testAndSetScattered", "setBlock", "setRun"]) noInline(methods[name]);
