// Writing the numbers log, on the one descriptor the coordinator opened (logowner.ts): for a
// regular file each thread's writer, through a Bun FileSink; for a log that is not a regular
// file (a stream) the main thread's writer alone, in pieces a pipe takes whole, bounded
// behind a slow reader and at the stop, and in the workers a writer that hands the lines to
// it (threads.ts). A failed write (ENOSPC, EIO, EPIPE, ...) is never ignored: it goes to
// `onError`, and at close the torn line it may have left in a regular file is cut off, so
// the log holds only whole lines.

import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { isatty } from "node:tty";
import { LINE_BYTES } from "../core/protocol.ts";
import { socketWriter } from "../output/stdio.ts";
import { libc } from "../sys/libc.ts";
import { errorReason, type LogHandle } from "./logowner.ts";

export interface LogFile {
  /** Appends bytes; chunks of 4 KiB and more reach the OS before this returns. */
  write(bytes: Uint8Array): void;
  /** Hands everything written so far to the OS. */
  flush(): void;
  /** Bytes written here that a stream's reader has not taken yet (always 0 for a regular file). */
  waiting?(): number;
  /**
   * Resolves once every write handed to the OS so far has finished or failed (a failed one
   * has reached `onError` by then). A write of 4 KiB or more may finish later than write()
   * or flush() returns, and report its failure only then.
   */
  settled?(): Promise<void>;
  /**
   * Flushes, waits for writes still in flight, fsyncs (or after a failure cuts the torn
   * tail). The descriptor stays open: it is the coordinator's, shared by every thread.
   */
  close(): Promise<void>;
}

/**
 * A writer on the log's descriptor. For a regular file (opened with O_APPEND) several
 * threads each append whole buffers of whole lines, each with its own writer: every buffer
 * handed to write() ends at a line boundary, and the kernel appends each write whole, so
 * lines never interleave. `onError` gets the first write failure; later writes are dropped.
 */
export function appendLog(log: LogHandle, onError: (message: string) => void): LogFile {
  const { fd, path } = log;
  const sink = Bun.file(fd).writer();
  let failed = false;
  let open = true;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    onError(`cannot write log file '${path}': ${errorReason(err)}`);
  };
  // A FileSink reports a failed write of 4 KiB or more as a rejected promise and a failed
  // flush as a throw; both end up in fail(). Writes that did not finish at once (the write
  // failed) are awaited by close().
  const inFlight = new Set<Promise<unknown>>();
  const guard = (action: () => unknown) => {
    if (failed) return;
    try {
      const result = action();
      if (result instanceof Promise) {
        const settled = result.catch(fail).finally(() => inFlight.delete(settled));
        inFlight.add(settled);
      }
    } catch (err) {
      fail(err);
    }
  };
  return {
    write: (bytes) => guard(() => sink.write(bytes)),
    flush: () => guard(() => sink.flush()),
    settled: async () => void (await Promise.all(inFlight)),
    async close() {
      if (!open) return;
      open = false;
      guard(() => sink.flush());
      await Promise.all(inFlight);
      if (!failed) guard(() => fsyncIfFile(fd));
      // After a failure the sink may still hold bytes it took before: end() is its last
      // write, and only after it can a cut be the last word on this descriptor.
      if (failed) {
        await Promise.resolve().then(() => sink.end()).catch(() => {});
        cutTornTail(fd);
      }
    },
  };
}

/**
 * Bytes a stream's reader may leave waiting in the writer before the clients are held
 * (`onReaderLag`): without a bound, a reader that stalls let the server hold every number
 * sent since in memory.
 */
export const READER_LAG_BYTES = 16 << 20;

/**
 * The most a stream is written at a time: whole lines within PIPE_BUF (4 KiB), which a pipe
 * or FIFO takes whole or not at all. So however far behind its reader is, and wherever the
 * writing stops (at --stop-timeout), the pipe holds whole lines only, and a report line that
 * shares it (`--log /dev/stdout`) lands between two of them.
 */
export const PIECE_BYTES = Math.floor(4096 / LINE_BYTES) * LINE_BYTES;

/**
 * A terminal's pieces: a tenth as long, since a terminal that takes a write whole may still
 * take its time over it in the kernel (a serial console writes each byte out before the write
 * returns: a 4 KiB piece held the thread ~0.35 s at 115200 baud).
 */
const TERMINAL_PIECE_BYTES = Math.floor(PIECE_BYTES / 10 / LINE_BYTES) * LINE_BYTES;

/**
 * How long one pump() goes on starting pieces before it lets the event loop run (signals,
 * `terminate`, the stop's own --stop-timeout timer), going on in the next turn (a piece
 * begun runs to its end: hence a terminal's short pieces). Before, it wrote its
 * whole queue in one go: into a serial console, seconds with nothing else served, and a
 * stop that ended only once every byte was out, past --stop-timeout (a review).
 */
const PUMP_MS = 5;

const EMPTY = new Uint8Array(0);
/** The longest a stream written without a FileSink waits to be tried again once it took nothing (StreamLog.poll()). */
const POLL_MS = 10;
/** Pieces taken from the front of a stream's queue before they are cut off it. */
const COMPACT_AT = 4096;

export interface StreamOptions {
  /** Called with true once more than READER_LAG_BYTES wait for the reader, and with false once none do. */
  onReaderLag?: (lagging: boolean) => void;
  /** How long close() waits for the reader to take what is waiting (ms). */
  stopTimeoutMs: number;
}

/**
 * The main thread's writer of a log that is a stream (pipe, FIFO, device, socket), its only
 * writer (threads.ts hands it the workers' lines): a queue of pieces of whole lines
 * (PIECE_BYTES), each written only once the one before has been taken.
 */
export function streamLog(log: LogHandle, onError: (message: string) => void, options: StreamOptions): LogFile {
  return new StreamLog(log, onError, options);
}

class StreamLog implements LogFile {
  /** A pipe's or a device's, for a piece it could not take at once; a terminal and a socket have none (poll()). */
  private readonly sink?: ReturnType<ReturnType<typeof Bun.file>["writer"]>;
  /** Writes what the stream takes now of `bytes`, 0 when it would block; throws on a failure. */
  private readonly put: (bytes: Uint8Array) => number;
  private readonly pieceBytes: number;
  private readonly queue: Uint8Array[] = [];
  /** The queue's first piece not yet written. */
  private next = 0;
  /** Bytes queued, the piece being written included. */
  private unwritten = 0;
  /**
   * A piece is on its way (with the FileSink, or tried again by poll()), or the pump goes on
   * in the next turn of the event loop: nothing else is written meanwhile.
   */
  private writing = false;
  private failed = false;
  private lagging = false;
  private open = true;
  private drained = Promise.withResolvers<void>();
  /** Bytes ever queued: those up to an offset of it are written once `unwritten` is down to queued - offset. */
  private queued = 0;
  /** settled() calls waiting for the bytes queued before them, in order. */
  private readonly waiters: { upTo: number; resolve: () => void }[] = [];

  constructor(
    private readonly log: LogHandle,
    private readonly onError: (message: string) => void,
    private readonly options: StreamOptions,
  ) {
    // The descriptor was opened O_NONBLOCK (logowner.ts), but a FileSink makes a terminal's
    // blocking again: a write then waited, the whole server with it, while the terminal took
    // nothing (Ctrl-S, a pty nobody reads), and no stop could end it. A socket (standard
    // output under systemd) is a duplicate sharing its description with whoever else holds
    // it: sent with MSG_DONTWAIT, call by call, its flags are never changed (a FileSink made
    // it non-blocking for every holder, put back at the exit but not after a kill -9).
    const terminal = isatty(log.fd);
    const c = libc();
    const socket = c !== undefined && fstatSync(log.fd).isSocket() ? socketWriter(c, log.fd) : undefined;
    this.put = socket?.write ?? ((bytes) => {
      try {
        return writeSync(log.fd, bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return 0;
        throw err;
      }
    });
    if (!terminal && socket === undefined) this.sink = Bun.file(log.fd).writer();
    this.pieceBytes = terminal ? TERMINAL_PIECE_BYTES : PIECE_BYTES;
    this.drained.resolve();
  }

  write(bytes: Uint8Array): void {
    if (this.failed) return;
    if (this.next === this.queue.length && !this.writing) this.drained = Promise.withResolvers<void>();
    // Copied once: the engine reuses its buffer once write() returns.
    const copy = bytes.slice();
    for (let at = 0; at < copy.length; at += this.pieceBytes) this.queue.push(copy.subarray(at, at + this.pieceBytes));
    this.unwritten += bytes.length;
    this.queued += bytes.length;
    this.pump();
    if (this.unwritten > READER_LAG_BYTES && !this.lagging && !this.failed) this.options.onReaderLag?.((this.lagging = true));
  }

  flush(): void {
    this.pump();
  }

  waiting(): number {
    return this.unwritten;
  }

  /**
   * Every byte queued so far written to the stream (a pipe then holds it for its reader), or
   * a failure: a client's close waits for it, so that its FIN never comes while its numbers
   * are still in this process, behind a reader that is slow or stalled.
   */
  settled(): Promise<void> {
    if (this.failed || this.unwritten === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push({ upTo: this.queued, resolve });
    return promise;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.pump();
    // The reader may never take the rest (stalled, stopped): the stop is bounded.
    if (!this.failed && !(await settlesWithin(this.drained.promise, this.options.stopTimeoutMs))) {
      this.fail(new Error(`its reader did not take the last lines within ${this.options.stopTimeoutMs / 1000} s of the stop (--stop-timeout): ${this.unwritten} bytes of them are not written`));
    }
  }

  private pump(): void {
    const until = performance.now() + PUMP_MS;
    while (!this.failed && !this.writing && this.next < this.queue.length) {
      if (performance.now() > until) {
        this.writing = true;
        setImmediate(() => {
          this.writing = false;
          this.pump();
        });
        break;
      }
      const piece = this.queue[this.next];
      // Let go at once: a reader only a little slower than the clients never empties the
      // queue, so pieces kept until then grew memory at the full write rate (see taken()).
      this.queue[this.next++] = EMPTY;
      if (this.next === COMPACT_AT) {
        this.queue.splice(0, this.next);
        this.next = 0;
      }
      try {
        const written = this.put(piece);
        if (written === piece.length) this.taken(piece);
        else {
          this.unwritten -= written;
          this.later(piece.subarray(written));
        }
      } catch (err) {
        this.fail(err);
      }
    }
    this.settle();
    if (this.next === this.queue.length && !this.writing) {
      this.queue.length = this.next = 0;
      this.drained.resolve();
      // After a failure nothing was taken: the clients stay held, the server is stopping.
      if (this.lagging && !this.failed) this.options.onReaderLag?.((this.lagging = false));
    }
  }

  /**
   * Each piece is written alone, at once while the stream takes it; one it cannot take yet
   * (EAGAIN), or takes in part (a socket, a terminal), goes to the FileSink, which waits
   * until it can, and nothing more is written before it has gone. Handed whole buffers, a
   * FileSink wrote what the stream took, cutting lines at any byte.
   */
  private later(piece: Uint8Array): void {
    if (this.sink === undefined) return this.poll(piece);
    this.sink.write(piece);
    const flushed = this.sink.flush();
    if (!(flushed instanceof Promise)) return this.taken(piece);
    this.writing = true;
    flushed.then(
      () => {
        this.writing = false;
        this.taken(piece);
        this.pump();
      },
      (err) => this.fail(err),
    );
  }

  /**
   * later() without a FileSink (a terminal, a socket): the piece is tried again until the
   * stream has taken all of it, and nothing more is written before it has gone. At once
   * while the stream takes something; once it takes nothing, after 1 ms, then twice as long
   * each time up to POLL_MS.
   */
  private poll(piece: Uint8Array, waitMs = 0): void {
    this.writing = true;
    const retry = () => {
      if (this.failed) return;
      let written: number;
      try {
        written = this.put(piece);
      } catch (err) {
        return this.fail(err);
      }
      if (written < piece.length) {
        this.unwritten -= written;
        return this.poll(piece.subarray(written), written > 0 ? 0 : Math.min(POLL_MS, Math.max(1, 2 * waitMs)));
      }
      this.writing = false;
      this.taken(piece);
      this.pump();
    };
    if (waitMs === 0) setImmediate(retry);
    else setTimeout(retry, waitMs);
  }

  /**
   * A piece gone: the last of its buffer frees the buffer now, as freeChunk() does a socket's
   * chunk (left to the garbage collector, whose pacing counts the bitmap, they piled up in
   * RSS at the full write rate behind a reader only a little slower than the clients).
   */
  private taken(piece: Uint8Array): void {
    this.unwritten -= piece.length;
    if (piece.byteOffset + piece.length === piece.buffer.byteLength) (piece.buffer as ArrayBuffer).transfer(0);
  }

  private settle(): void {
    while (this.waiters.length > 0 && (this.failed || this.waiters[0].upTo <= this.queued - this.unwritten)) this.waiters.shift()!.resolve();
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(`cannot write log file '${this.log.path}': ${errorReason(err)}`);
    this.settle();
    // Nothing more will be written: a close waiting for the reader ends now (before, a
    // reader that left during the stop kept it waiting until --stop-timeout).
    this.drained.resolve();
  }
}

/** Whether `promise` settles within `ms` (always, given no limit). */
async function settlesWithin(promise: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) return promise.then(() => true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A worker's writer for a log that is not a regular file: each buffer of new lines (copied:
 * the engine reuses its own) goes to `hand`, which posts it to the main thread, where the
 * one writer of the log writes it. Messages keep their order, so lines a worker wrote before
 * it answers a report or a stop reach that writer before the answer does.
 */
export function handOverLog(hand: (bytes: ArrayBuffer) => void): LogFile {
  return {
    write: (bytes) => hand(bytes.slice().buffer),
    flush: () => {},
    close: async () => {},
  };
}

/**
 * Cuts the log back to its last whole line after a failed write: a write cut short by a full
 * disk ends the file in part of a line, and cutting after the file's last LF removes exactly
 * that part (its 10-byte lines need not sit on a 10-byte grid: standard output appended into
 * the log file itself puts report lines among them, docs/log.md). The tail is read through
 * /proc (the log is open write-only); where that fails, the cut falls back to the grid. It
 * runs when the failing shard closes its log (the server stops on the failure), after its
 * last write; another shard whose write failed too makes its own cut.
 * Limits: the other shards write until the stop reaches them. If the disk gains room in
 * that moment, lines another shard appends after the torn write follow the torn line (which
 * --resume then names as damaged), and whole lines it appends between this shard's fstat
 * and ftruncate are lost. A device or pipe has nothing to cut.
 */
function cutTornTail(fd: number): void {
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size === 0) return;
    const keep = lastWholeLineEnd(fd, stat.size) ?? stat.size - (stat.size % LINE_BYTES);
    if (keep < stat.size) ftruncateSync(fd, keep);
  } catch {
    // Reported as the write error already; --resume cuts a torn tail.
  }
}

/** Bytes of the tail searched for the last LF: longer than any line a log file may hold. */
const TAIL_BYTES = 4096;

/** The size up to and including the file's last LF (0 if none), or undefined when it cannot be read or lies beyond TAIL_BYTES. */
function lastWholeLineEnd(fd: number, size: number): number | undefined {
  let reader: number;
  try {
    reader = openSync(`/proc/self/fd/${fd}`, "r");
  } catch {
    return undefined;
  }
  try {
    const from = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - from);
    const read = readSync(reader, tail, 0, tail.length, from);
    const lf = tail.subarray(0, read).lastIndexOf(10);
    if (lf >= 0) return from + lf + 1;
    return from === 0 ? 0 : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(reader);
  }
}

/** fsync, except where the log is not a file (/dev/stdout, a pipe) and it does not apply. */
function fsyncIfFile(fd: number) {
  try {
    fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "ENOTSUP") throw err;
  }
}
