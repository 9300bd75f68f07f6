// The thread plumbing for --workers: the main thread's handle on a Shard running in a
// Worker. The main thread has already framed the lines (dispatch.ts), so a worker is handed
// runs of whole valid lines from any connection, in chunks whose buffers are transferred
// (no copy). The bitmap and the count of bytes queued are shared memory; messages carry the
// lines, reports, stats (/metrics) and the stop, and the replies.

import type { LogHandle } from "./logowner.ts";
import { NO_STATS, type Counts, type ShardOptions, type ShardStats } from "./shard.ts";
import type { Fault } from "./testhooks.ts";

/** What a worker needs to run a shard: the options minus the callbacks, the log, the queue count and a test fault. */
export type WorkerSetup = Omit<ShardOptions, "onWriteError" | "openLog"> & {
  /** The log's descriptor (shared by every thread of the process): not reopened by path. */
  log: LogHandle;
  /** One Int32: bytes handed to the worker and not yet counted (the worker subtracts). */
  queued: SharedArrayBuffer;
  /** Made-up lines for the worker's JIT warm-up (warmup.ts) before it says it has started. */
  warmUpLines: number;
  /** One Int32, shared by every worker: nonzero once the server stops, so a warm-up ends early. */
  stopping: SharedArrayBuffer;
  fault?: Fault;
  /** Test only (testhooks.ts, withWorkerPark): one Int32; while it is 1 the worker counts nothing. */
  park?: SharedArrayBuffer;
};

export type ToWorker =
  /** Bytes [start, end) of `bytes` are whole valid lines to count. */
  | { type: "count"; bytes: ArrayBuffer; start: number; end: number }
  /** Answered with a reply once every line sent before it has been counted. */
  | { type: "sync" }
  | { type: "report" }
  /** Answered with the shard's stats once every line sent before it has been counted. */
  | { type: "stats" }
  /** Answered once the shard has stopped, with its final stats. */
  | { type: "stop" };

export type FromWorker =
  | { type: "started" }
  | { type: "failed"; message: string }
  /** `failed`: to a sync, the shard's log has failed, so what it wrote out may be lost. */
  | { type: "reply"; counts?: Counts; stats?: ShardStats; failed?: boolean }
  | { type: "write-error"; message: string }
  /** New lines for the main thread to write: the log is not a regular file (logfile.ts). */
  | { type: "log"; bytes: ArrayBuffer };

/**
 * Bytes queued for a worker from which the main thread counts lines itself instead of
 * handing them over (dispatch.ts). It must cover what the worker does while the main thread
 * is busy with a chunk of its own (up to 512 KiB), and every byte of it can be resident.
 * Measured with `bun run bench --workers 2` (docs/experiments.md, worker queue): less starved
 * the worker on dup, and more was no faster for more RSS.
 */
export const QUEUE_BYTES = 2 << 20;

/**
 * The worker's entry point. Inside the executable every bundled module's import.meta.url is
 * the main entry's (/$bunfs/root/main.ts), so the path is taken from src/ there (build.ts
 * bundles the worker as its own entry point); from source, from this file.
 */
const WORKER_ENTRY = import.meta.url.includes("/$bunfs/") ? "./server/worker.ts" : "./worker.ts";

type Reply = Extract<FromWorker, { type: "reply" }>;

export interface RemoteEvents {
  /** A log write failed in the worker, or the worker itself died: the server must stop. */
  onFailure: (message: string) => void;
  /** New lines the worker hands over, for a log that one thread alone writes. */
  onLog: (bytes: Uint8Array) => void;
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
  /** Bytes handed to the worker and not yet counted: added here, subtracted by the worker. */
  private readonly queued: Int32Array;
  private readonly waiting: ((reply: Reply | undefined) => void)[] = [];
  /** The worker died after it started: nothing it held can be counted on any more. */
  private dead = false;
  /** Its stop is ending the thread (terminate): the close that follows is no failure. */
  private ending = false;
  /** The stats the worker last gave: what a dead worker's are taken to be. */
  private lastStats = NO_STATS;
  /** Settles with the final stats once the worker has stopped; set when the stop is asked. */
  private final?: Promise<ShardStats>;

  private constructor(
    private readonly worker: Worker,
    queued: SharedArrayBuffer,
  ) {
    this.queued = new Int32Array(queued);
  }

  /**
   * Starts a shard in a new Worker; resolves once it runs. When it fails to start, the
   * promise rejects and the thread is ended; a failure after the start goes to `onFailure`.
   */
  static start(options: Omit<WorkerSetup, "queued">, events: RemoteEvents): Promise<RemoteShard> {
    const worker = new Worker(new URL(WORKER_ENTRY, import.meta.url).href);
    const setup: WorkerSetup = { ...options, queued: new SharedArrayBuffer(4) };
    const remote = new RemoteShard(worker, setup.queued);
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
      // A thread that ends with no error (process.exit in it) is as dead: whoever waits for a
      // reply, a client's close among them, would otherwise wait for good. Its own stop and
      // a failure end it too, and say so first.
      worker.addEventListener("close", () => {
        if (!remote.dead && !remote.ending) failed("worker failed: its thread ended");
      });
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const m = event.data;
        if (m.type === "log") events.onLog(new Uint8Array(m.bytes));
        else if (m.type === "reply") remote.waiting.shift()?.(m);
        else if (m.type === "started") {
          started = true;
          resolve(remote);
        } else if (m.type === "failed") failed(m.message);
        else events.onFailure(m.message);
      };
      worker.postMessage(setup);
    });
  }

  /**
   * Hands bytes [start, end) of `chunk`, whole valid lines, to the worker. Bun hands each
   * data event a buffer of its own, so it is transferred, and `chunk` reads as empty from
   * here on; a view into a larger buffer is copied instead.
   */
  countLines(chunk: Uint8Array, start: number, end: number): void {
    const whole = chunk.byteOffset === 0 && chunk.length === chunk.buffer.byteLength;
    const bytes = (whole ? chunk.buffer : chunk.slice(start, end).buffer) as ArrayBuffer;
    const from = whole ? start : 0;
    Atomics.add(this.queued, 0, end - start);
    this.send({ type: "count", bytes, start: from, end: from + end - start }, [bytes]);
  }

  /**
   * Calls `done` once the worker has counted every line handed to it so far and handed its
   * new numbers to the log, with true; with false at once when the worker is dead (what it
   * was handed is lost).
   */
  whenWritten(done: (written: boolean) => void): void {
    void this.request({ type: "sync" }).then((reply) => done(reply !== undefined && !reply.failed));
  }

  /** The counts, once the worker has counted every line sent before this call. */
  async report(): Promise<Counts> {
    return (await this.request({ type: "report" }))?.counts ?? { unique: 0, duplicates: 0 };
  }

  /** Bytes handed to the worker that it has not counted yet. */
  get queuedBytes(): number {
    return Atomics.load(this.queued, 0);
  }

  /** Whether the worker can be handed more lines: it is alive, and its queue is short. */
  get open(): boolean {
    return !this.dead && Atomics.load(this.queued, 0) < QUEUE_BYTES;
  }

  /**
   * The stats since start, once the worker has counted every line sent before this call;
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
    this.ending = true;
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
