// The thread plumbing for --workers: the main thread's handle on an acceptor running in a
// Worker, and the messages between them. Everything that matters is shared memory (the
// bitmap and the gate); messages only start, report, stop, and carry terminate and errors.

import type { AcceptorOptions, Counts } from "./acceptor.ts";

/** What a worker needs to run an acceptor: the options minus callbacks, plus shared memory. */
export type WorkerSetup = Omit<AcceptorOptions, "gate" | "onTerminate" | "onWriteError" | "prepareLog"> & {
  maxClients: number;
  gateCells: Int32Array;
};

/** Requests, each answered by one reply, in the order they were sent. */
export type ToWorker = { type: "report" } | { type: "unlisten" } | { type: "stop" };
export type FromWorker =
  | { type: "started"; port: number }
  | { type: "failed"; message: string }
  | { type: "reply"; counts?: Counts }
  | { type: "terminate" }
  | { type: "write-error"; message: string };

export interface RemoteAcceptor {
  report(): Promise<Counts>;
  unlisten(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts an acceptor in a new Worker; resolves once it listens. */
export function startWorker(
  setup: WorkerSetup,
  events: { onTerminate: () => void; onWriteError: (message: string) => void },
): Promise<RemoteAcceptor> {
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
  const waiting: ((reply: Counts | undefined) => void)[] = [];
  const request = (type: ToWorker["type"]) => {
    worker.postMessage({ type } satisfies ToWorker);
    return new Promise<Counts | undefined>((resolve) => waiting.push(resolve));
  };
  const remote: RemoteAcceptor = {
    report: async () => (await request("report"))!,
    unlisten: async () => void (await request("unlisten")),
    async stop() {
      await request("stop");
      worker.terminate();
    },
  };
  return new Promise((resolve, reject) => {
    worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.type === "started") resolve(remote);
      else if (m.type === "failed") reject(new Error(m.message));
      else if (m.type === "reply") waiting.shift()?.(m.counts);
      else if (m.type === "terminate") events.onTerminate();
      else events.onWriteError(m.message);
    };
    worker.postMessage(setup);
  });
}
