// Entry point of a --workers thread: runs one Shard on the shared bitmap and answers the
// main thread's messages (see threads.ts) in the order they come.

import { freeChunk, Shard } from "./shard.ts";
import { warmUpWorker } from "./warmup.ts";
import type { FromWorker, ToWorker, WorkerSetup } from "./threads.ts";

declare const self: Worker;
const send = (message: FromWorker) => self.postMessage(message);
let shard: Shard;
let queued: Int32Array;
let fault: WorkerSetup["fault"];

/** Counts lines handed over by the main thread, frees their buffer and takes them off the queue. */
function consume(target: Shard, counter: Int32Array, bytes: ArrayBuffer, start: number, end: number): void {
  const chunk = new Uint8Array(bytes);
  target.countLines(chunk, start, end);
  freeChunk(chunk);
  Atomics.sub(counter, 0, end - start);
}

/** A fault injected by a test (NUMBERS_TEST_FAULT, see testhooks.ts) at this moment. */
function inject(at: WorkerSetup["fault"]) {
  if (fault === at) throw new Error(`injected fault (NUMBERS_TEST_FAULT=${at})`);
}

self.onmessage = async (event: MessageEvent<WorkerSetup | ToWorker>) => {
  const m = event.data;
  if (!("type" in m)) {
    fault = m.fault;
    inject("worker-start");
    try {
      queued = new Int32Array(m.queued);
      shard = new Shard({ ...m, onWriteError: (message) => send({ type: "write-error", message }) });
      await warmUpWorker(m.atomic, m.warmUpLines, consume);
      send({ type: "started" });
    } catch (err) {
      send({ type: "failed", message: (err as Error).message });
    }
  } else if (m.type === "count") {
    inject("worker-crash");
    consume(shard, queued, m.bytes, m.start, m.end);
  } else if (m.type === "sync") {
    send({ type: "reply" });
  } else if (m.type === "report") {
    send({ type: "reply", counts: shard.report() });
  } else if (m.type === "stats") {
    send({ type: "reply", stats: shard.stats() });
  } else {
    inject("worker-stop");
    await shard.stop();
    send({ type: "reply", stats: shard.stats() });
  }
};
