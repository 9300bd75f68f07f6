// Entry point of a --workers thread: runs one Shard on the shared bitmap and answers the
// main thread's messages (see threads.ts) in the order they come.

import { appendLog, handOverLog } from "./logfile.ts";
import { freeChunk, Shard } from "./shard.ts";
import { warmUpWorker } from "./warmup.ts";
import type { FromWorker, ToWorker, WorkerSetup } from "./threads.ts";
import { withWorkerFault, withWorkerPark, withWriteFault } from "./testhooks.ts";

declare const self: Worker;
const send = (message: FromWorker) => self.postMessage(message);

/** Counts lines handed over by the main thread, frees their buffer and takes them off the queue. */
function consume(target: Shard, counter: Int32Array, bytes: ArrayBuffer, start: number, end: number): void {
  const chunk = new Uint8Array(bytes);
  target.countLines(chunk, start, end);
  freeChunk(chunk);
  Atomics.sub(counter, 0, end - start);
}

let shard: Shard;
let queued: Int32Array;

/**
 * Replies leave in the order their requests came, which is how the main thread matches them
 * (threads.ts), though a sync's waits for its writes to finish: each is made when its request
 * is handled, in turn with the lines, and sent after the replies before it.
 */
let replies: Promise<unknown> = Promise.resolve();
const reply = (made: FromWorker | Promise<FromWorker>) => void (replies = replies.then(() => made).then(send));

/** What the worker does with each message from the main thread, once it has started. */
const HANDLERS = {
  count: (m: Extract<ToWorker, { type: "count" }>) => consume(shard, queued, m.bytes, m.start, m.end),
  // A client's close waits for this: its numbers are then in the log (or, for a stream log,
  // handed to the main thread's writer ahead of this reply); `failed` if a write failed.
  sync: () => reply(shard.flushed().then(() => ({ type: "reply", failed: shard.failed }))),
  report: () => reply({ type: "reply", counts: shard.report() }),
  stats: () => reply({ type: "reply", stats: shard.stats() }),
  stop: () => reply(shard.stop().then(() => ({ type: "reply", stats: shard.stats() }))),
};
let handlers = HANDLERS;

self.onmessage = async (event: MessageEvent<WorkerSetup | ToWorker>) => {
  const m = event.data;
  if ("type" in m) return void (await handlers[m.type](m as never));
  // The first message is the setup. A test's worker fault or park is built in here, once.
  handlers = withWorkerPark(m.park, withWorkerFault(m.fault, HANDLERS));
  try {
    queued = new Int32Array(m.queued);
    const { log } = m;
    shard = new Shard({
      ...m,
      // A stream log has one writer, the main thread's: this thread hands its lines over.
      openLog: withWriteFault(m.fault, log.path, log.stream ? () => handOverLog((bytes) => self.postMessage({ type: "log", bytes } satisfies FromWorker, [bytes])) : (onError) => appendLog(log, onError)),
      onWriteError: (message) => send({ type: "write-error", message }),
    });
    const stopping = new Int32Array(m.stopping);
    await warmUpWorker(m.atomic, m.warmUpLines, consume, () => Atomics.load(stopping, 0) !== 0);
    send({ type: "started" });
  } catch (err) {
    send({ type: "failed", message: (err as Error).message });
  }
};
