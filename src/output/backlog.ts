// A bounded backlog of output lines for a descriptor that cannot take them now (a pipe
// nobody reads): lines wait here, the oldest are dropped beyond a byte limit, and a line
// already partly written is never dropped, so what is read never holds half a line.
// No I/O of its own: the caller passes the write function.

/** Writes some of `bytes` without blocking; returns how many were taken, 0 if none could be. */
export type Write = (bytes: Uint8Array) => number;

/** Linux's atomic pipe write size. */
export const PIPE_BUF = 4096;

export class LineBacklog {
  private lines: Uint8Array[] = [];
  /** Bytes of lines[0] already written. */
  private written = 0;
  private unwritten = 0;
  /** Lines dropped so far, never written. */
  dropped = 0;

  /** Keeps at most `maxBytes` unwritten bytes, but always the newest line and a partly written one. */
  constructor(readonly maxBytes: number) {}

  get length(): number {
    return this.lines.length;
  }

  /** Bytes waiting to be written. */
  get bytes(): number {
    return this.unwritten;
  }

  /** Queues a line (with its newline); returns how many older lines this dropped. */
  push(line: Uint8Array): number {
    this.lines.push(line);
    this.unwritten += line.length;
    let dropped = 0;
    // A partly written head must be finished, so the oldest droppable line is the next one.
    const oldest = this.written > 0 ? 1 : 0;
    while (this.unwritten > this.maxBytes && this.lines.length - oldest > 1) {
      this.unwritten -= this.lines.splice(oldest, 1)[0].length;
      dropped++;
    }
    this.dropped += dropped;
    return dropped;
  }

  /**
   * Writes lines, oldest first, up to `batchBytes` per call of `write`, until all are
   * written (returns true) or `write` takes nothing (returns false). An error thrown by
   * `write` propagates, and the lines stay queued. The default batch is PIPE_BUF: a pipe
   * takes such a write whole or not at all, so a process that gives up on a full pipe
   * never leaves half a line in it (a terminal or socket may take part of a write).
   */
  drain(write: Write, batchBytes = PIPE_BUF): boolean {
    while (this.lines.length > 0) {
      let n = write(this.batch(batchBytes));
      if (n <= 0) return false;
      this.unwritten -= n;
      // Consume n bytes: whole lines, then part of the next.
      while (n > 0) {
        const rest = this.lines[0].length - this.written;
        if (n < rest) {
          this.written += n;
          break;
        }
        n -= rest;
        this.lines.shift();
        this.written = 0;
      }
    }
    return true;
  }

  /** The unwritten bytes of the first lines, at most `max` of them (but at least one line's rest). */
  private batch(max: number): Uint8Array {
    const first = this.lines[0].subarray(this.written);
    let size = first.length;
    let count = 1;
    while (count < this.lines.length && size + this.lines[count].length <= max) size += this.lines[count++].length;
    if (count === 1) return first;
    const out = new Uint8Array(size);
    out.set(first);
    for (let i = 1, at = first.length; i < count; at += this.lines[i++].length) out.set(this.lines[i], at);
    return out;
  }

  /** Forgets every queued line (the descriptor is gone). */
  clear(): void {
    this.lines = [];
    this.written = 0;
    this.unwritten = 0;
  }
}
