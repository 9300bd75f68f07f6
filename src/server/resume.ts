// Crash recovery (--resume): loads an existing log into the bitmap so a restarted server
// never writes a number twice. A torn last line (the tail of a write cut off by a crash)
// is reported so the caller can cut it; any other damage is an error that leaves the file
// as it was. The log is read through the descriptor the server opened and locked, so what is
// loaded is the file that is then appended to, whatever happens to its name meanwhile.

import { fstatSync, readSync } from "node:fs";
import { createBitmap, testAndSet } from "../core/bitmap.ts";
import { Engine } from "../core/engine.ts";
import { libc } from "../sys/libc.ts";
import { KEEP, LINE_BYTES, newLineCarry, parseLine } from "../core/protocol.ts";
import { errorReason } from "./logowner.ts";

export class ResumeError extends Error {}

export interface LoadedLog {
  /** Numbers loaded (all distinct). */
  count: number;
  /** Length of the valid part; bytes past it are a torn last line. */
  validBytes: number;
  /** The file's length when the load was done: any other at the cut means it changed. */
  sizeBytes: number;
}

/** Bytes read per system call; a multiple of the line length so lines never straddle reads. */
const READ_BYTES = LINE_BYTES * (1 << 20);

/**
 * Reads the log (`fd`, open for reading; `path` names it in messages) and sets each number's
 * bit. The lines go through the same Engine as the network's (its log output discarded), so
 * loading gets the same overlapped bitmap probes; only on damage is the file scanned again,
 * slowly, to name the line.
 */
export function loadLog(fd: number, path: string, bits: Uint8Array): LoadedLog {
  try {
    const engine = new Engine({ bitmap: bits, write: () => {} });
    const conn = newLineCarry();
    const buf = new Uint8Array(READ_BYTES);
    for (let offset = 0; ; ) {
      const len = readFull(fd, buf, offset);
      const verdict = len > 0 ? engine.frameAndCount(conn, buf.subarray(0, len)) : KEEP;
      if (engine.duplicates > 0) throw damaged(path, firstRepeat(fd, path), "repeats an earlier number");
      offset += len;
      if (verdict !== KEEP || len < buf.length) break;
    }
    // Every line counted is 10 bytes, so the first one not counted starts right after them.
    const count = engine.unique;
    const validBytes = count * LINE_BYTES;
    // Taken before the tail is read: lines appended from here on are either read as damage
    // there, or make the length differ at the cut.
    const sizeBytes = fstatSync(fd).size;
    if (!isTornTail(fd, validBytes)) throw damaged(path, count + 1, "is not nine digits and a newline");
    return { count, validBytes, sizeBytes };
  } catch (err) {
    // A read error (EISDIR, EIO) is said to be one, not left raw for the caller to misread.
    throw err instanceof ResumeError ? err : unreadable(path, err);
  }
}

/** Fills `buf` from `offset` on; returns how much was read (less than its length at the end). */
function readFull(fd: number, buf: Uint8Array, offset: number): number {
  let len = 0;
  while (len < buf.length) {
    const n = readSync(fd, buf, len, buf.length - len, offset + len);
    if (n === 0) break;
    len += n;
  }
  return len;
}

/**
 * The line number of the first number that repeats an earlier one, which the load found
 * among valid lines. The file read again has none, or a bad line before it, when it changed
 * meanwhile (cut short or rewritten by another process): before, this read on past its end
 * for good.
 */
export function firstRepeat(fd: number, path: string): number {
  const seen = createBitmap();
  const buf = new Uint8Array(READ_BYTES);
  for (let offset = 0; ; offset += buf.length) {
    const len = readFull(fd, buf, offset);
    for (let at = 0; at + LINE_BYTES <= len; at += LINE_BYTES) {
      const value = parseLine(buf, at);
      if (value < 0) throw changed(path);
      if (!testAndSet(seen, value)) return (offset + at) / LINE_BYTES + 1;
    }
    if (len < buf.length) throw changed(path);
  }
}

const SEEK_DATA = 3;

/**
 * Whether the file from `from` on is what a crash leaves of a last write: at most nine
 * digits with no newline, then nothing or only NUL bytes (blocks the file system had
 * allocated but not yet written when the power went). Holes (a file extended by truncate)
 * are skipped, not read: SEEK_DATA finds the next data; the rest is checked a word at a time.
 */
export function isTornTail(fd: number, from: number): boolean {
  const buf = new Uint8Array(1 << 20);
  const words = new Int32Array(buf.buffer);
  const head = readSync(fd, buf, 0, 16, from);
  let digits = 0;
  while (digits < head && buf[digits] >= 48 && buf[digits] <= 57) digits++;
  if (digits > 9) return false;
  for (let k = digits; k < head; k++) if (buf[k] !== 0) return false;
  const c = libc();
  for (let pos = from + head; ; ) {
    if (c !== undefined) {
      // -1: no data past pos (ENXIO), or no SEEK_DATA here (then the bytes are read).
      const data = c.lseek(fd, pos, SEEK_DATA);
      if (data < 0 && c.errno() === ENXIO) return true;
      if (data > pos) pos = data;
    }
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return true;
    const whole = n >>> 2;
    let any = 0;
    for (let w = 0; w < whole; w++) any |= words[w];
    for (let k = whole << 2; k < n; k++) any |= buf[k];
    if (any !== 0) return false;
    pos += n;
  }
}

const ENXIO = 6;

function unreadable(path: string, err: unknown): ResumeError {
  return new ResumeError(`cannot read log file '${path}' to resume: ${errorReason(err)}`);
}

function changed(path: string): ResumeError {
  return new ResumeError(`cannot resume from '${path}': it changed while it was loaded (another process cut it short); the file was left as it was`);
}

function damaged(path: string, line: number, what: string): ResumeError {
  return new ResumeError(`cannot resume from '${path}': line ${line} ${what}; the file was left as it was`);
}
