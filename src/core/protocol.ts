// The protocol's framing, pure and byte-level: cuts each connection's chunks into whole valid
// lines, decides its verdict, and carries a line cut by a chunk boundary over to the next
// chunk. It parses no number and touches no bitmap: what it returns as valid is exactly what
// an engine may count (engine.ts), in this thread or another.
//
// Every valid line is exactly 10 bytes: nine digits and LF, or "terminate" and LF.

import { vectorCheck } from "./vectors.ts";

export const LINE_BYTES = 10;
const LF = 10;
const ZERO = 48;
const TERMINATE = new TextEncoder().encode("terminate");

/** What the caller must do with the connection after a chunk. */
export const KEEP = 0;
export const CLOSE = 1;
/** Stop the server; the client sent nothing after its `terminate` line so far: a FIN at the end. */
export const TERMINATE_SERVER = 2;
/**
 * Stop the server; bytes after the `terminate` line came in the same chunk, discarded: a
 * reset at the end, since a FIN says every byte sent was taken (before 2026-12-07 such a
 * client got a FIN, its lines after `terminate` lost).
 */
export const TERMINATE_SERVER_RESET = 3;
export type Verdict = typeof KEEP | typeof CLOSE | typeof TERMINATE_SERVER | typeof TERMINATE_SERVER_RESET;

/** The verdict of a `terminate` line ending at byte `lf` of a chunk of `length` bytes. */
function terminateVerdict(lf: number, length: number): Verdict {
  return lf + 1 < length ? TERMINATE_SERVER_RESET : TERMINATE_SERVER;
}

/** Lines checked per pass: the unit a bad line is looked for in, line by line, once found. */
const PASS_LINES = 8192;

/** Per-connection framing state. */
export interface LineCarry {
  /** The first carryLen bytes of a line cut at the end of the previous chunk. */
  carry: Uint8Array;
  carryLen: number;
  /**
   * The carried line that the last frame() completed (Frame.carried): its 10 bytes stay here
   * until the next frame() of this connection. It swaps buffers with `carry`, so no copy.
   */
  completed: Uint8Array;
}

export function newLineCarry(): LineCarry {
  return { carry: new Uint8Array(LINE_BYTES), carryLen: 0, completed: new Uint8Array(LINE_BYTES) };
}

/** The outcome of one chunk: what to count, and what to do with the connection. */
export interface Frame {
  /** The carried line was completed by this chunk, and is valid: its bytes are in LineCarry.completed. */
  carried: boolean;
  /** The chunk's whole valid lines to count: bytes [start, end), a multiple of 10 long. */
  start: number;
  end: number;
  verdict: Verdict;
}

/**
 * Whether the connection's bytes so far end inside a line. At the client's FIN that line can
 * never end: an unfinished line, invalid input like any other (no LF after nine digits).
 */
export function endsInsideLine(conn: LineCarry): boolean {
  return conn.carryLen > 0;
}

/**
 * Frames one chunk of a connection. Lines before an invalid line or `terminate` are valid
 * and count; that line and everything after it are not, and the verdict says so. A partial
 * line at the end is kept in the carry, and closes the connection at once when no valid
 * line can begin with it.
 */
export function frame(conn: LineCarry, chunk: Uint8Array): Frame {
  const n = chunk.length;
  let i = 0;
  let carried = false;
  if (conn.carryLen > 0) {
    const carry = conn.carry;
    let k = conn.carryLen;
    while (k < LINE_BYTES && i < n) carry[k++] = chunk[i++];
    if (k < LINE_BYTES) {
      conn.carryLen = k;
      return { carried, start: i, end: i, verdict: partialLineIsValid(carry, k) ? KEEP : CLOSE };
    }
    conn.carryLen = 0;
    if (parseLine(carry, 0) < 0) return { carried, start: i, end: i, verdict: isTerminate(carry, 0) ? terminateVerdict(i - 1, n) : CLOSE };
    conn.carry = conn.completed;
    conn.completed = carry;
    carried = true;
  }
  const start = i;
  const whole = start + Math.floor((n - start) / LINE_BYTES) * LINE_BYTES;
  const end = firstBadLine(chunk, start, whole);
  if (end < whole) return { carried, start, end, verdict: isTerminate(chunk, end) ? terminateVerdict(end + LINE_BYTES - 1, n) : CLOSE };
  const rest = n - whole;
  if (rest > 0) {
    const carry = conn.carry;
    for (let k = 0; k < rest; k++) carry[k] = chunk[whole + k];
    conn.carryLen = rest;
    if (!partialLineIsValid(carry, rest)) return { carried, start, end, verdict: CLOSE };
  }
  return { carried, start, end, verdict: KEEP };
}

/**
 * Bytes (16 lines) from which a run of lines is checked sixteen bytes at a time (vectors.ts)
 * rather than a word at a time: for a few lines the copy into the module's memory and the
 * call outweigh the wider check, and from 16 lines on the vectors cost less, ever less as
 * runs grow (measured in-process: docs/experiments.md, the framing check in WebAssembly).
 */
export const VECTOR_MIN_BYTES = 160;

/**
 * The offset of the first line in [start, end) (whole lines) that is not nine digits and LF,
 * or `end`. A long run is checked sixteen bytes at a time where WebAssembly SIMD runs, else
 * a pass at a time a word at a time; either way only a failing block or pass is read again
 * line by line, so the answer is exactly parseLine()'s.
 */
export function firstBadLine(chunk: Uint8Array, start: number, end: number): number {
  const vectors = end - start >= VECTOR_MIN_BYTES ? vectorCheck() : undefined;
  if (vectors === undefined) return firstBadLineByWords(chunk, start, end);
  for (let at = vectors.firstDirtyBlock(chunk, start, end); at < end; at += LINE_BYTES) {
    if (parseLine(chunk, at) < 0) return at;
  }
  return end;
}

/** firstBadLine() a word at a time: each pass checked at once (see pairsAreValid). */
export function firstBadLineByWords(chunk: Uint8Array, start: number, end: number): number {
  const view = end - start >= 2 * LINE_BYTES ? new DataView(chunk.buffer, chunk.byteOffset, chunk.length) : undefined;
  for (let at = start; at < end; ) {
    const lines = Math.min(PASS_LINES, (end - at) / LINE_BYTES);
    const pairs = lines >>> 1;
    const passEnd = at + lines * LINE_BYTES;
    if (pairs > 0 && pairsAreValid(view!, at, pairs) && (lines === 2 * pairs || parseLine(chunk, passEnd - LINE_BYTES) >= 0)) {
      at = passEnd;
      continue;
    }
    for (; at < passEnd; at += LINE_BYTES) if (parseLine(chunk, at) < 0) return at;
  }
  return end;
}

/**
 * Whether `pairs` pairs of lines from byte `at` of `view` are all nine digits and LF, read
 * four bytes at a time (two lines are five little-endian words). The digit check is exact:
 * for a byte b, b + 0x46 and b - 0x30 both leave the high bit clear only for '0'..'9';
 * carries and borrows cross bytes, but only upward from a byte that is not a digit, so the
 * lowest bad byte of a word is always flagged. Each LF is checked on its own and replaced
 * by a '0' for the digit check. Several times faster than parseLine() per line
 * (docs/experiments.md).
 */
function pairsAreValid(view: DataView, at: number, pairs: number): boolean {
  let high = 0;
  let lf = 0;
  for (let p = 0; p < pairs; p++, at += 2 * LINE_BYTES) {
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
  }
  return ((high & 0x80808080) | lf) === 0;
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

/**
 * Whether a line of `chunk`, read after the part line `conn` carries, is exactly
 * "terminate\n", at a line start as frame() would meet it if every line before it is valid.
 * For a connection whose bytes wait unframed (acceptor.ts, hold()): a terminate among them
 * is not kept waiting.
 */
export function holdsTerminateLine(conn: LineCarry, chunk: Uint8Array): boolean {
  const carried = conn.carryLen;
  if (carried > 0 && carried + chunk.length >= LINE_BYTES) {
    const line = new Uint8Array(LINE_BYTES);
    line.set(conn.carry.subarray(0, carried));
    line.set(chunk.subarray(0, LINE_BYTES - carried), carried);
    if (isTerminate(line, 0)) return true;
  }
  for (let at = (LINE_BYTES - carried) % LINE_BYTES; at + LINE_BYTES <= chunk.length; at += LINE_BYTES) {
    if (isTerminate(chunk, at)) return true;
  }
  return false;
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

/** Formats values as 9-digit lines with LF, leading zeros kept. */
export function encodeLines(values: Uint32Array): Uint8Array {
  const out = new Uint8Array(values.length * LINE_BYTES);
  for (let i = 0, o = 0; i < values.length; i++, o += LINE_BYTES) {
    let v = values[i];
    for (let k = 8; k >= 0; k--) {
      out[o + k] = 48 + (v % 10);
      v = (v / 10) | 0;
    }
    out[o + 9] = 10;
  }
  return out;
}
