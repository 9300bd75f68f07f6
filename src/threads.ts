// The thread plumbing for --workers: the main thread's handle on an acceptor running in a
// Worker, and the messages between them. Everything that matters is shared memory (the
// bitmap and the gate); messages only start, report, stop, and carry terminate and errors.

import type { AcceptorOptions, Counts } from "./acceptor.ts";

/** What a worker needs to run an acceptor: the options minus callbacks, plus shared memory. */
export type WorkerSetup = Omit<AcceptorOptions, "gate" | "onTerminate" | "onWriteError" | "prepareLog"> & {
  maxClients: number;
  gateCells: Int32Array;
};

export type ToWorker = { type: "report" } | { type: "stop" };
export type FromWorker =
  | { type: "started"; port: number }
  | { type: "failed"; message: string }
  | { type: "counts"; counts: Counts }
  | { type: "stopped" }
  | { type: "terminate" }
  | { type: "write-error"; message: string };

export interface RemoteAcceptor {
  report(): Promise<Counts>;
  stop(): Promise<void>;
}

/**
 * Starts an acceptor in a new Worker; resolves once it listens. Replies come back in the
 * order requests were sent, so one queue of waiting resolvers per kind is enough.
 */
export function startWorker(
  setup: WorkerSetup,
  events: { onTerminate: () => void; onWriteError: (message: string) => void },
): Promise<RemoteAcceptor> {
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
  const countWaiters: ((counts: Counts) => void)[] = [];
  let stopped: () => void;
  const stoppedPromise = new Promise<void>((resolve) => (stopped = resolve));
  const remote: RemoteAcceptor = {
    report() {
      worker.postMessage({ type: "report" } satisfies ToWorker);
      return new Promise((resolve) => countWaiters.push(resolve));
    },
    async stop() {
      worker.postMessage({ type: "stop" } satisfies ToWorker);
      await stoppedPromise;
      worker.terminate();
    },
  };
  return new Promise((resolve, reject) => {
    worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.type === "started") resolve(remote);
      else if (m.type === "failed") reject(new Error(m.message));
      else if (m.type === "counts") countWaiters.shift()?.(m.counts);
      else if (m.type === "stopped") stopped();
      else if (m.type === "terminate") events.onTerminate();
      else events.onWriteError(m.message);
    };
    worker.postMessage(setup);
  });
}
