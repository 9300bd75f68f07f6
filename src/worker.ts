// Entry point of a --workers thread: runs one acceptor on the shared bitmap and gate, and
// answers the main thread's report and stop requests (see threads.ts).

import { startAcceptor, type Acceptor } from "./acceptor.ts";
import { Gate } from "./gate.ts";
import type { FromWorker, ToWorker, WorkerSetup } from "./threads.ts";

declare const self: Worker;
const send = (message: FromWorker) => self.postMessage(message);
let acceptor: Acceptor | undefined;

self.onmessage = async (event: MessageEvent<WorkerSetup | ToWorker>) => {
  const m = event.data;
  if (!("type" in m)) {
    try {
      acceptor = startAcceptor({
        ...m,
        gate: new Gate(m.maxClients, m.gateCells),
        onTerminate: () => send({ type: "terminate" }),
        onWriteError: (message) => send({ type: "write-error", message }),
      });
      send({ type: "started", port: acceptor.port });
    } catch (err) {
      send({ type: "failed", message: (err as Error).message });
    }
  } else if (m.type === "report") {
    send({ type: "reply", counts: acceptor!.report() });
  } else if (m.type === "unlisten") {
    acceptor!.unlisten();
    send({ type: "reply" });
  } else {
    await acceptor!.stop();
    send({ type: "reply" });
  }
};
