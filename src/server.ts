// The coordinator: claims the port, then prepares the log (emptied, or loaded and cut with
// --resume), starts the acceptors (one in this thread, one per extra --workers thread),
// prints the reports, and owns the one shutdown path used by terminate, signals and log
// write failures.

import { createBitmap } from "./bitmap.ts";
import { listen, startAcceptor, type Counts } from "./acceptor.ts";
import type { ServerConfig } from "./config.ts";
import { Gate } from "./gate.ts";
import { prepareLog } from "./logfile.ts";
import { printError, printReport } from "./output.ts";
import { formatReport } from "./report.ts";
import { loadLog } from "./resume.ts";
import { startWorker } from "./threads.ts";

export interface RunningServer {
  port: number;
  /** Serving threads, this one included. */
  threads: number;
  /** Resolves with the exit code once the server has shut down and the log is closed. */
  done: Promise<number>;
}

/** --workers auto: a thread per core, but no more than there can be busy clients. */
export function resolveWorkers(workers: number | "auto", maxClients: number): number {
  return workers === "auto" ? Math.max(1, Math.min(navigator.hardwareConcurrency, maxClients)) : workers;
}

interface Stoppable {
  report(): Counts | Promise<Counts>;
  unlisten(): void | Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const threads = resolveWorkers(config.workers, config.maxClients);
  const shared = threads > 1;
  const gate = shared ? Gate.shared(config.maxClients) : new Gate(config.maxClients);
  const bits = createBitmap(shared);
  const acceptors: Stoppable[] = [];
  let total = 0;
  let stopping = false;
  /** The first log write failure; it turns any shutdown into exit code 1. */
  let writeError: string | undefined;

  const onTerminate = () => void shutdown(0);
  const onWriteError = (message: string) => {
    writeError ??= message;
    // Deferred: the failing write may be deep inside an engine's feed().
    queueMicrotask(() => void shutdown(1));
  };

  // With several threads the listeners share the port through SO_REUSEPORT, which would
  // also let a second instance join the group. A plain bind first proves the port is free
  // (and picks it, for --port 0); it is released just before the group binds it.
  let port = config.port;
  if (shared) {
    const probe = listen(config.host, port, false, { data() {} });
    port = probe.port;
    probe.stop(true);
  }
  const common = {
    host: config.host,
    reusePort: shared,
    bits,
    atomic: shared,
    log: config.log,
    flushInterval: config.flushInterval,
    idleTimeout: config.idleTimeout,
  };
  const main = startAcceptor({
    ...common,
    port,
    gate,
    onTerminate,
    onWriteError,
    // The log is read or emptied only now that the port is ours, so a second instance
    // started by mistake cannot clobber the running one's log.
    prepareLog() {
      let keepBytes = 0;
      if (config.resume) ({ count: total, validBytes: keepBytes } = loadLog(config.log, bits));
      prepareLog(config.log, keepBytes);
    },
  });
  acceptors.push(main);
  port = main.port;
  try {
    const setup = { ...common, port, maxClients: config.maxClients, gateCells: gate.cells };
    for (let i = 1; i < threads; i++) acceptors.push(await startWorker(setup, { onTerminate, onWriteError }));
  } catch (err) {
    await Promise.all(acceptors.map((a) => a.stop()));
    throw err;
  }

  let reporting = false;
  const reportTimer = setInterval(async () => {
    if (reporting) return;
    reporting = true;
    const counts = await Promise.all(acceptors.map((a) => a.report()));
    reporting = false;
    // After a failed write the report would claim a total that is not on disk.
    if (stopping || writeError) return;
    const unique = counts.reduce((sum, c) => sum + c.unique, 0);
    const duplicates = counts.reduce((sum, c) => sum + c.duplicates, 0);
    total += unique;
    printReport(formatReport({ unique, duplicates, total }));
  }, config.reportInterval * 1000);

  let resolveDone: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  async function shutdown(code: number) {
    if (stopping) return;
    stopping = true;
    gate.stop();
    clearInterval(reportTimer);
    // Every listener is closed before any client is, so a client that sees its connection
    // closed by the shutdown also finds the port closed.
    await Promise.all(acceptors.map((a) => a.unlisten()));
    await Promise.all(acceptors.map((a) => a.stop()));
    if (writeError) printError(writeError);
    resolveDone(writeError ? 1 : code);
  }

  process.on("SIGINT", onTerminate);
  process.on("SIGTERM", onTerminate);

  return { port, threads, done };
}
