// One thread's share of the work: an engine on the (possibly shared) bitmap and a log
// writer with its flush timer. It counts whole valid lines, from any connection: the main
// thread frames every chunk (dispatch.ts) and runs one shard itself and, with --workers,
// hands lines to one per worker (threads.ts).

import { Engine } from "../core/engine.ts";
import type { LogFile } from "./logfile.ts";

export interface ShardOptions {
  bits: Uint8Array;
  /** The bitmap is shared with other threads. */
  atomic: boolean;
  /**
   * Makes this shard's log writer (logfile.ts) on the log the coordinator opened and
   * prepared; `onError` is to get the writer's first write failure.
   */
  openLog: (onError: (message: string) => void) => LogFile;
  flushInterval: number;
  /** A log write failed (called once). */
  onWriteError: (message: string) => void;
}

/**
 * Frees a consumed chunk's memory now, by detaching its buffer (a zero-length transfer).
 * Bun hands each data event a fresh buffer of up to 512 KiB; left to the garbage collector
 * they piled up in RSS at full speed. Forcing a collection every few MiB kept RSS down too,
 * but this is cheaper (both measured in docs/experiments.md).
 * A view into part of a larger (or shared) buffer is left alone.
 */
export function freeChunk(chunk: Uint8Array): void {
  const buffer = chunk.buffer;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) buffer.transfer(0);
}

export interface Counts {
  unique: number;
  duplicates: number;
}

/** A shard's figures since it started, for /metrics: they only grow. */
export interface ShardStats {
  unique: number;
  duplicates: number;
  /** Log bytes handed to the writer; all of them are with the OS once stats() has flushed. */
  logBytes: number;
  logWriteErrors: number;
}

export const NO_STATS: ShardStats = { unique: 0, duplicates: 0, logBytes: 0, logWriteErrors: 0 };

export class Shard {
  private readonly engine: Engine;
  private readonly log: LogFile;
  private readonly flushTimer: ReturnType<typeof setInterval>;
  /** Duplicates counted in the periods that report() has already taken from the engine. */
  private reportedDuplicates = 0;
  /**
   * Counted per buffer handed to the log (128 KiB, or what a flush finds), never per line.
   * After a write error later buffers are dropped by the log yet still counted here; the
   * server is stopping by then.
   */
  private logBytes = 0;
  private logWriteErrors = 0;
  private stopped = false;

  constructor(o: ShardOptions) {
    this.log = o.openLog((message) => {
      this.logWriteErrors++;
      o.onWriteError(message);
    });
    const write = (bytes: Uint8Array) => {
      this.logBytes += bytes.length;
      this.log.write(bytes);
    };
    this.engine = new Engine({ bitmap: o.bits, atomic: o.atomic, write });
    this.flushTimer = setInterval(() => this.flush(), o.flushInterval * 1000);
  }

  /** Counts the whole valid lines in bytes [start, end) of `src` (see Engine.countLines()). */
  countLines(src: Uint8Array, start: number, end: number): void {
    this.engine.countLines(src, start, end);
  }

  /** Writes out every new number so far, then returns the counts since the last call. */
  report(): Counts {
    // After stop() (a report that was waiting on the workers when the stop came) flush() does
    // nothing: the log is closed, and stop() has written everything out already.
    this.flush();
    const { unique, duplicates } = this.engine.takeCounts();
    this.reportedDuplicates += duplicates;
    return { unique, duplicates };
  }

  /**
   * Writes out every new number so far (unless stopped: stop() did), then returns the figures
   * since start. It takes nothing from the periodic report: the engine's running total and
   * the current period's duplicates are read, not reset.
   */
  stats(): ShardStats {
    this.flush();
    return {
      unique: this.engine.total,
      duplicates: this.reportedDuplicates + this.engine.duplicates,
      logBytes: this.logBytes,
      logWriteErrors: this.logWriteErrors,
    };
  }

  /** Flushes and fsyncs the log (the coordinator closes its descriptor). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.flushTimer);
    this.engine.drain();
    await this.log.close();
  }

  /**
   * flush(), then resolves once those writes have finished or failed, so that `failed` then
   * says whether they reached the log: for a stream, once its reader has made room for every
   * line queued so far (in a worker, whose lines go to the main thread's writer, at once).
   */
  async flushed(): Promise<void> {
    this.flush();
    await this.log.settled?.();
  }

  /** A write to the log has failed (the server stops): what was written out may be lost. */
  get failed(): boolean {
    return this.logWriteErrors > 0;
  }

  /**
   * Hands every new number counted so far to the log (for a regular file, writes it); after
   * stop() there is nothing left to hand over, and the log is closed.
   */
  flush(): void {
    if (this.stopped) return;
    this.engine.drain();
    this.log.flush();
  }
}
