// Crash recovery (--resume): loads an existing log into the bitmap so a restarted server
// never writes a number twice. A torn last line (the tail of a write cut off by a crash)
// is reported so the caller can cut it; any other damage is an error that leaves the file
// as it was.

import { closeSync, openSync, readSync } from "node:fs";
import { createBitmap, testAndSet } from "../core/bitmap.ts";
import { Engine } from "../core/engine.ts";
import { KEEP, LINE_BYTES, newLineCarry, parseLine } from "../core/protocol.ts";

export class ResumeError extends Error {}

export interface LoadedLog {
  /** Numbers loaded (all distinct). */
  count: number;
  /** Length of the valid part; bytes past it are a torn last line. */
  validBytes: number;
}

/** Bytes read per system call; a multiple of the line length so lines never straddle reads. */
const READ_BYTES = LINE_BYTES * (1 << 20);

/**
 * Reads the log at `path` (a missing file is an empty log) and sets each number's bit. The
 * lines go through the same Engine as the network's (its log output discarded), so loading
 * gets the same overlapped bitmap probes; only on damage is the file scanned again, slowly,
 * to name the line.
 */
export function loadLog(path: string, bits: Uint8Array): LoadedLog {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { count: 0, validBytes: 0 };
    throw unreadable(path, err);
  }
  try {
    const engine = new Engine({ bitmap: bits, write: () => {} });
    const conn = newLineCarry();
    const buf = new Uint8Array(READ_BYTES);
    for (let offset = 0; ; ) {
      const len = readFull(fd, buf, offset);
      const verdict = len > 0 ? engine.frameAndCount(conn, buf.subarray(0, len)) : KEEP;
      if (engine.duplicates > 0) throw damaged(path, firstRepeat(fd), "repeats an earlier number");
      offset += len;
      if (verdict !== KEEP || len < buf.length) break;
    }
    // Every line counted is 10 bytes, so the first one not counted starts right after them.
    const count = engine.unique;
    const validBytes = count * LINE_BYTES;
    if (!isTornTail(fd, validBytes)) throw damaged(path, count + 1, "is not nine digits and a newline");
    return { count, validBytes };
  } catch (err) {
    // A read error (EISDIR, EIO) is said to be one, not left raw for the caller to misread.
    throw err instanceof ResumeError ? err : unreadable(path, err);
  } finally {
    closeSync(fd);
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

/** The line number of the first number that repeats an earlier one (the file has one). */
function firstRepeat(fd: number): number {
  const seen = createBitmap();
  const buf = new Uint8Array(READ_BYTES);
  for (let offset = 0; ; offset += buf.length) {
    const len = readFull(fd, buf, offset);
    for (let at = 0; at + LINE_BYTES <= len; at += LINE_BYTES) {
      if (!testAndSet(seen, parseLine(buf, at))) return (offset + at) / LINE_BYTES + 1;
    }
  }
}

/**
 * Whether the file from `from` on is what a crash leaves of a last write: at most nine
 * digits with no newline, then nothing or only NUL bytes (blocks the file system had
 * allocated but not yet written when the power went).
 */
function isTornTail(fd: number, from: number): boolean {
  const buf = new Uint8Array(1 << 16);
  let digits = 0;
  let zeros = false;
  for (let pos = from; ; ) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return true;
    for (let k = 0; k < n; k++) {
      const b = buf[k];
      if (b === 0) zeros = true;
      else if (zeros || b < 48 || b > 57 || ++digits > 9) return false;
    }
    pos += n;
  }
}

function unreadable(path: string, err: unknown): ResumeError {
  return new ResumeError(`cannot read log file '${path}' to resume: ${(err as Error).message}`);
}

function damaged(path: string, line: number, what: string): ResumeError {
  return new ResumeError(`cannot resume from '${path}': line ${line} ${what}; the file was left as it was`);
}
