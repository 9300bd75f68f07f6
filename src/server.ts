// The coordinator: binds the port, then prepares the log (emptied, or loaded and cut with
// --resume), starts the shards (one in this thread, one per extra --workers thread) and the
// acceptor that feeds them, prints the reports, and owns the one shutdown path used by
// terminate, signals and log write failures.

import { startAcceptor, type ShardLink } from "./acceptor.ts";
import { createBitmap } from "./bitmap.ts";
import type { ServerConfig } from "./config.ts";
import { prepareLog } from "./logfile.ts";
import { printError, printReport } from "./output.ts";
import { formatReport } from "./report.ts";
import { loadLog } from "./resume.ts";
import { Shard, type Counts } from "./shard.ts";
import { RemoteShard } from "./threads.ts";

export interface RunningServer {
  port: number;
  /** Resolves with the exit code once the server has shut down and the log is closed. */
  done: Promise<number>;
}

/** --workers auto: a thread per core, but no more than there can be busy clients. */
function resolveWorkers(workers: number | "auto", maxClients: number): number {
  return workers === "auto" ? Math.max(1, Math.min(navigator.hardwareConcurrency, maxClients)) : workers;
}

interface Reporting {
  report(): Counts | Promise<Counts>;
  stop(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const threads = resolveWorkers(config.workers, config.maxClients);
  const shared = threads > 1;
  const bits = createBitmap(shared);
  const shards: (ShardLink & Reporting)[] = [];
  let total = 0;
  let stopping = false;
  /** The first log write failure (or a worker's death); it turns any shutdown into exit code 1. */
  let writeError: string | undefined;

  const onTerminate = () => void shutdown(0);
  const onFailure = (message: string) => {
    writeError ??= message;
    // Deferred: the failing write may be deep inside an engine's feed().
    queueMicrotask(() => void shutdown(1));
  };
  const shardOptions = { bits, atomic: shared, log: config.log, flushInterval: config.flushInterval };

  // The port is bound before anything else: the log is read or emptied only once the port
  // is ours, so a second instance started by mistake cannot clobber the running one's log.
  // The shards are in place before this thread next runs its event loop, so no client is
  // given one before they exist.
  const acceptor = startAcceptor({
    host: config.host,
    port: config.port,
    maxClients: config.maxClients,
    idleTimeout: config.idleTimeout,
    shards,
    onTerminate,
  });
  try {
    let keepBytes = 0;
    if (config.resume) ({ count: total, validBytes: keepBytes } = loadLog(config.log, bits));
    prepareLog(config.log, keepBytes);
    shards.push(new Shard({ ...shardOptions, onWriteError: onFailure }));
    for (let i = 1; i < threads; i++) {
      const remote: RemoteShard = await RemoteShard.start(shardOptions, {
        onVerdict: (id, verdict) => acceptor.verdict(id, verdict),
        onDrained: () => acceptor.resume(remote),
        onFailure,
      });
      shards.push(remote);
    }
  } catch (err) {
    acceptor.stop();
    await Promise.all(shards.map((s) => s.stop()));
    throw err;
  }

  let reporting = false;
  const reportTimer = setInterval(async () => {
    if (reporting) return;
    reporting = true;
    const counts = await Promise.all(shards.map((s) => s.report()));
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
    clearInterval(reportTimer);
    acceptor.stop();
    await Promise.all(shards.map((s) => s.stop()));
    if (writeError) printError(writeError);
    resolveDone(writeError ? 1 : code);
  }

  // SIGHUP too: a closed terminal must not cost the numbers still in memory.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onTerminate);

  return { port: acceptor.port, done };
}
