// The thread plumbing for --workers: the main thread's handle on a Shard running in a
// Worker. Chunks are handed over without a copy (their buffers are transferred), in order,
// so the worker sees each connection's bytes as they arrived. The bitmap is shared memory;
// messages carry chunks, verdicts, reports, stats (/metrics) and the stop.

import { KEEP, type Verdict } from "./engine.ts";
import { NO_STATS, type Counts, type ShardOptions, type ShardStats } from "./shard.ts";
import type { Fault } from "./testhooks.ts";

/** What a worker needs to run a shard: the options minus the callback, and a test fault. */
export type WorkerSetup = Omit<ShardOptions, "onWriteError"> & { fault?: Fault };

export type ToWorker =
  | { type: "chunk"; id: number; bytes: ArrayBuffer }
  | { type: "forget"; id: number }
  /** Answered with a reply once every chunk sent before it has been consumed. */
  | { type: "sync" }
  | { type: "report" }
  /** Answered with the shard's stats once every chunk sent before it has been consumed. */
  | { type: "stats" }
  /** Answered once the shard has stopped, with its final stats. */
  | { type: "stop" };

export type FromWorker =
  | { type: "started" }
  | { type: "failed"; message: string }
  /** A chunk was consumed; its verdict, and its size for the flow control. */
  | { type: "fed"; id: number; size: number; verdict: Verdict }
  | { type: "reply"; counts?: Counts; stats?: ShardStats }
  | { type: "write-error"; message: string };

/**
 * Bytes handed to a worker and not yet consumed above which its connections are paused.
 * The main thread runs a shard too and does all the reading, so the worker needs some depth
 * to stay busy. Measured with `bun run bench --workers 2` (which waits until the worker has
 * consumed everything, see whenConsumed()): on 2026-11-26 random ran 38 M/s at 8/4 MiB, 40-44
 * at 16/8 and 44 at 32/16, for a median peak RSS of 191, 196 and 204 MiB. But at 32/16 runs of
 * 40 M numbers peaked at 216-220 MiB, over the 215 MiB allowed with two threads, and on
 * 2026-11-27 16/8 cost random no clear speed (24.2 -> 24.7 and 23.7 -> 22.3 M/s in two
 * sessions) for peaks of 200-209 MiB. The cost is up to 16 MiB of RSS.
 */
export const PAUSE_BYTES = 16 << 20;
/** ...and below which they are resumed. */
const RESUME_BYTES = 8 << 20;

type Reply = Extract<FromWorker, { type: "reply" }>;

export interface RemoteEvents {
  /** A chunk's verdict other than KEEP. */
  onVerdict: (id: number, verdict: Verdict) => void;
  /** The worker has caught up after `congested` was true: resume its connections. */
  onDrained: () => void;
  /** A log write failed in the worker, or the worker itself died: the server must stop. */
  onFailure: (message: string) => void;
}

/**
 * The error's own line from a worker's error event: Bun formats the message with the source
 * lines around the throw and the stack, so it would not fit the one-line error on stderr.
 */
export function errorLine(message: string): string {
  const lines = message.split("\n");
  const line = lines.find((l) => /^\w*(error|Error): /.test(l)) ?? lines.find((l) => l.trim() !== "") ?? "unknown error";
  return line.replace(/^error: /, "");
}

export class RemoteShard {
  /** More bytes are waiting in the worker than it should be handed: pause its connections. */
  congested = false;
  private pending = 0;
  private readonly waiting: ((reply: Reply | undefined) => void)[] = [];
  /** The worker died after it started: nothing it held can be counted on any more. */
  private dead = false;
  /** The stats the worker last gave: what a dead worker's are taken to be. */
  private lastStats = NO_STATS;
  /** Settles with the final stats once the worker has stopped; set when the stop is asked. */
  private final?: Promise<ShardStats>;

  private constructor(private readonly worker: Worker) {}

  /**
   * Starts a shard in a new Worker; resolves once it runs. When it fails to start, the
   * promise rejects and the thread is ended; a failure after the start goes to `onFailure`.
   */
  static start(setup: WorkerSetup, events: RemoteEvents): Promise<RemoteShard> {
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
    const remote = new RemoteShard(worker);
    let started = false;
    return new Promise((resolve, reject) => {
      const failed = (message: string) => {
        // Whoever waits for a reply is released; nothing the thread held counts any more.
        remote.dead = true;
        for (const resolve of remote.waiting.splice(0)) resolve(undefined);
        worker.terminate();
        if (started) events.onFailure(message);
        else reject(new Error(message));
      };
      worker.onerror = (event) => failed(`worker failed: ${errorLine(event.message)}`);
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const m = event.data;
        if (m.type === "fed") {
          remote.pending -= m.size;
          if (m.verdict !== KEEP) events.onVerdict(m.id, m.verdict);
          if (remote.congested && remote.pending < RESUME_BYTES) {
            remote.congested = false;
            events.onDrained();
          }
        } else if (m.type === "reply") remote.waiting.shift()?.(m);
        else if (m.type === "started") {
          started = true;
          resolve(remote);
        } else if (m.type === "failed") failed(m.message);
        else events.onFailure(m.message);
      };
      worker.postMessage(setup);
    });
  }

  feed(id: number, chunk: Uint8Array): void {
    // Bun hands each data event a buffer of its own, so it can be transferred; a view into
    // a larger buffer is copied instead.
    const size = chunk.byteLength;
    const whole = chunk.byteOffset === 0 && size === chunk.buffer.byteLength;
    const bytes = (whole ? chunk.buffer : chunk.slice().buffer) as ArrayBuffer;
    // The transfer detaches the buffer: `chunk` reads as empty from here on.
    this.send({ type: "chunk", id, bytes }, [bytes]);
    this.pending += size;
    if (this.pending > PAUSE_BYTES) this.congested = true;
  }

  forget(id: number): void {
    this.send({ type: "forget", id });
  }

  /** Calls `done` once the worker has consumed every chunk handed to it so far. */
  whenConsumed(done: () => void): void {
    void this.request({ type: "sync" }).then(done);
  }

  /** The counts, once the worker has consumed every chunk sent before this call. */
  async report(): Promise<Counts> {
    return (await this.request({ type: "report" }))?.counts ?? { unique: 0, duplicates: 0 };
  }

  /** Bytes handed to the worker that it has not consumed yet. */
  get queuedBytes(): number {
    return this.pending;
  }

  /**
   * The stats since start, once the worker has consumed every chunk sent before this call;
   * after the stop was asked, its final ones (a stopped worker answers nothing).
   */
  async stats(): Promise<ShardStats> {
    if (this.final) return this.final;
    const stats = (await this.request({ type: "stats" }))?.stats ?? this.lastStats;
    return (this.lastStats = stats);
  }

  async stop(): Promise<void> {
    this.final = this.request({ type: "stop" }).then((reply) => (this.lastStats = reply?.stats ?? this.lastStats));
    await this.final;
    this.worker.terminate();
  }

  private request(message: ToWorker): Promise<Reply | undefined> {
    if (this.dead) return Promise.resolve(undefined);
    this.send(message);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private send(message: ToWorker, transfer: ArrayBuffer[] = []) {
    this.worker.postMessage(message, transfer);
  }
}
