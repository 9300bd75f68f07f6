// The main thread's share-out of the work. It frames every chunk of every connection itself
// (core/protocol.ts: the verdict is known at once, whichever thread counts the lines), then hands
// the chunk's whole valid lines to a worker whose queue is short, or counts them in its own
// shard when every worker is busy. Valid lines can be counted anywhere and in any order, so
// the work is shared chunk by chunk, not connection by connection: one busy client keeps
// every thread busy, and no thread waits while another has a backlog.

import { frame, LINE_BYTES, type LineCarry, type Verdict } from "../core/protocol.ts";
import { freeChunk, type Shard } from "./shard.ts";

/** A worker's shard, as the main thread sees it (a RemoteShard). */
export interface Remote {
  /** Whether it can be handed more lines: alive, with a short queue. */
  readonly open: boolean;
  readonly queuedBytes: number;
  /** Hands it bytes [start, end) of `chunk`, whole valid lines; the chunk may be transferred. */
  countLines(chunk: Uint8Array, start: number, end: number): void;
  /**
   * Calls `done(true)` once it has counted what it was handed so far and handed its new
   * numbers to the log; `done(false)` if it died first.
   */
  whenWritten(done: (written: boolean) => void): void;
}

/**
 * Lines (in bytes) from which a chunk's lines may go to a worker: fewer are counted here,
 * at less cost than a message to another thread and its wake-up. Loopback delivers up to
 * ~64 KiB per segment, so a busy client's chunks are all larger.
 */
export const HANDOFF_BYTES = 32 << 10;

export class Dispatcher {
  /** Chunks handed to the workers so far. */
  private handedOff = 0;
  /** Of those, how many were counted and written out by every worker at the last sync. */
  private written = 0;

  /**
   * @param local this thread's shard
   * @param remotes the workers' shards; the array may still grow while workers start
   */
  constructor(
    private readonly local: Shard,
    private readonly remotes: readonly Remote[],
  ) {}

  /** Consumes one chunk of a connection and returns the connection's verdict. */
  feed(conn: LineCarry, chunk: Uint8Array): Verdict {
    const f = frame(conn, chunk);
    if (f.carried) this.local.countLines(conn.completed, 0, LINE_BYTES);
    if (f.end > f.start) {
      const remote = f.end - f.start >= HANDOFF_BYTES ? this.pick() : undefined;
      if (remote !== undefined) {
        this.handedOff++;
        remote.countLines(chunk, f.start, f.end);
        return f.verdict;
      }
      this.local.countLines(chunk, f.start, f.end);
    }
    freeChunk(chunk);
    return f.verdict;
  }

  /**
   * Calls `done` once every line fed so far has been counted and its new numbers handed to
   * the log (for a regular file, written to it), for a client's close: it then says the
   * client's numbers are in the log, not only in a buffer that the next flush writes
   * (--flush-interval). Not only the workers that its own lines went to: a number of the
   * client's may have been new in another client's chunk, and wait in that worker's buffer.
   * So unless no chunk went to a worker since every worker last wrote out (then at once,
   * without a message), this waits for every worker. `written` is false when a worker died
   * first, or a log write failed: lines may be lost.
   */
  whenWritten(done: (written: boolean) => void): void {
    if (this.written === this.handedOff) return void this.local.flushed().then(() => done(!this.local.failed));
    this.whenAllWritten(done);
  }

  /** Calls `done` once every line fed so far has been counted and written out, in every thread; with false if a worker died first or a write failed. */
  whenAllWritten(done: (written: boolean) => void): void {
    const at = this.handedOff;
    let waiting = this.remotes.length + 1;
    let written = true;
    const one = (ok: boolean) => {
      written &&= ok;
      if (--waiting === 0) {
        if (written) this.written = Math.max(this.written, at);
        void this.local.flushed().then(() => done(written && !this.local.failed));
      }
    };
    for (const remote of this.remotes) remote.whenWritten(one);
    one(true);
  }

  /** The open worker with the shortest queue, if any. */
  private pick(): Remote | undefined {
    let best: Remote | undefined;
    for (const remote of this.remotes) {
      if (remote.open && (best === undefined || remote.queuedBytes < best.queuedBytes)) best = remote;
    }
    return best;
  }
}
