// One thread's share of the work: an engine on the (possibly shared) bitmap, the line
// state of the connections assigned to it, and a log writer with its flush timer. The main
// thread runs one shard itself and, with --workers, drives one per worker (threads.ts).

import { CLOSE, Engine, KEEP, newLineCarry, TERMINATE_SERVER, type LineCarry, type Verdict } from "./engine.ts";
import { appendLog, type LogFile } from "./logfile.ts";

export { CLOSE, KEEP, TERMINATE_SERVER, type Verdict };

export interface ShardOptions {
  bits: Uint8Array;
  /** The bitmap is shared with other threads. */
  atomic: boolean;
  /** The log, created or cut by the coordinator; each shard appends to it. */
  log: string;
  flushInterval: number;
  /** A log write failed (called once). */
  onWriteError: (message: string) => void;
}

export interface Counts {
  unique: number;
  duplicates: number;
}

/**
 * Bytes fed between forced garbage collections. Each data event brings a fresh buffer of up
 * to 512 KiB, which ends up as garbage in the thread that consumed it; left to itself the
 * collector let them pile up to ~200 MiB of RSS at full speed (measured with `bun run
 * bench`). Collecting every 4 MiB keeps the heap near 10 MiB at no throughput cost we could
 * measure: the heap is small, so a full collection is quick.
 */
const GC_BYTES = 4 << 20;

export class Shard {
  private fed = 0;
  private readonly engine: Engine;
  private readonly log: LogFile;
  private readonly lines = new Map<number, LineCarry>();
  private readonly flushTimer: ReturnType<typeof setInterval>;

  constructor(o: ShardOptions) {
    this.log = appendLog(o.log, o.onWriteError);
    this.engine = new Engine({ bitmap: o.bits, atomic: o.atomic, write: (bytes) => this.log.write(bytes) });
    this.flushTimer = setInterval(() => this.flush(), o.flushInterval * 1000);
  }

  /** Consumes a chunk of connection `id`; after CLOSE or TERMINATE_SERVER the connection is forgotten. */
  feed(id: number, chunk: Uint8Array): Verdict {
    this.fed += chunk.length;
    if (this.fed >= GC_BYTES) {
      this.fed = 0;
      Bun.gc(true);
    }
    let carry = this.lines.get(id);
    if (carry === undefined) this.lines.set(id, (carry = newLineCarry()));
    const verdict = this.engine.feed(carry, chunk);
    if (verdict !== KEEP) this.lines.delete(id);
    return verdict;
  }

  /** The connection closed; a partial line it left is discarded. */
  forget(id: number): void {
    this.lines.delete(id);
  }

  /** Writes out every new number so far, then returns the counts since the last call. */
  report(): Counts {
    this.flush();
    const { unique, duplicates } = this.engine.takeCounts();
    return { unique, duplicates };
  }

  /** Flushes, fsyncs and closes the log. */
  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    this.engine.drain();
    await this.log.close();
  }

  private flush() {
    this.engine.drain();
    this.log.flush();
  }
}
