// The coordinator: walks the server through its phases (lifecycle.ts) — binds the port,
// prepares the log (emptied, or loaded and cut with --resume), starts the shards (one in
// this thread, one per extra --workers thread) and the acceptor that feeds them, prints the
// reports, answers scrapes (--metrics-port) — and owns the one shutdown, which every stop
// event reaches through the Lifecycle.

import { startAcceptor, type Acceptor, type Intake } from "./acceptor.ts";
import { createBitmap } from "../core/bitmap.ts";
import type { ServerConfig } from "./config.ts";
import { Dispatcher } from "./dispatch.ts";
import { startEndpoint, type Endpoint } from "./metrics/endpoint.ts";
import { Lifecycle } from "./lifecycle.ts";
import { prepareLog } from "./logfile.ts";
import { renderMetrics } from "./metrics/render.ts";
import { printError, printNotice, printReport } from "../output/print.ts";
import { formatReport } from "./report.ts";
import { loadLog } from "./resume.ts";
import { Shard, type Counts, type ShardStats } from "./shard.ts";
import { hold, holdSync, injectFaults, type TestHooks } from "./testhooks.ts";
import { RemoteShard } from "./threads.ts";
import { warmUpMain } from "./warmup.ts";

/**
 * --workers auto: a thread per core, at most AUTO_THREADS. Lines are shared chunk by chunk,
 * so even one client keeps every thread busy (here, one client sending 20 M random numbers:
 * 22-26 M/s with one thread, 42-45 with two); but the main thread reads and frames every
 * line (~5.4 ns each here), and a worker counts random numbers at ~35 ns each, so more than
 * about 8 threads would wait on the main thread. (Not measured beyond 2 cores.)
 */
const AUTO_THREADS = 8;

function resolveWorkers(workers: number | "auto"): number {
  return workers === "auto" ? Math.max(1, Math.min(navigator.hardwareConcurrency, AUTO_THREADS)) : workers;
}

interface Reporting {
  report(): Counts | Promise<Counts>;
  stats(): ShardStats | Promise<ShardStats>;
  stop(): Promise<void>;
}

/**
 * After an uncaught exception the shutdown is tried, but a process that is already broken
 * may not finish it: it exits 1 after this long regardless.
 */
const FATAL_GRACE_MS = 5000;

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Runs the server until it stops; resolves with the exit code. `onReady` is called with the
 * bound port when serving begins (not at all when a stop comes first). Throws, touching no
 * log, when the port cannot be bound; throws when the log cannot be prepared.
 */
export async function runServer(config: ServerConfig, hooks: TestHooks, onReady: (port: number) => void): Promise<number> {
  const threads = resolveWorkers(config.workers);
  const shared = threads > 1;
  /** This thread's shard first, then the workers'. */
  const shards: Reporting[] = [];
  const remotes: RemoteShard[] = [];
  let dispatcher: Dispatcher | undefined;
  // No client is admitted before the dispatcher exists: nothing yields to the event loop
  // between the listener's start and the dispatcher's (see preparing, below).
  const intake: Intake = {
    feed: (conn, chunk) => dispatcher!.feed(conn, chunk),
    whenCounted: (done) => dispatcher!.whenCounted(done),
  };
  let acceptor: Acceptor | undefined;
  let endpoint: Endpoint | undefined;
  let reportTimer: ReturnType<typeof setInterval> | undefined;
  /** Settles once no worker is starting any more; never rejects. */
  let workersStarted: Promise<void> = Promise.resolve();
  let total = 0;
  /** Numbers loaded by --resume. */
  let loaded = 0;
  const { promise: done, resolve: exit } = Promise.withResolvers<number>();

  // The stop runs from a microtask: an event can come from deep inside a shard's countLines() (a
  // failed write), which must finish before the shards are stopped.
  const life = new Lifecycle(() => queueMicrotask(() => void stop()), printError);
  const onSignal = (name: string) => life.handle({ kind: "signal", name });
  const onFatal = (err: unknown) => {
    const message = `internal error: ${err instanceof Error ? err.message : String(err)}`;
    if (life.phase === "stopped") return;
    life.handle({ kind: "failure", message });
    setTimeout(() => process.exit(1), FATAL_GRACE_MS);
  };
  // First of all, so that no signal finds the default action (which loses buffered numbers).
  // SIGHUP too: a closed terminal must not cost the numbers still in memory.
  for (const name of SIGNALS) process.on(name, onSignal);
  process.on("uncaughtException", onFatal);
  process.on("unhandledRejection", onFatal);
  injectFaults(hooks);
  const onFailure = (message: string) => life.handle({ kind: "failure", message });

  /** The shutdown: entered once, from the Lifecycle; it cannot throw and always resolves `done`. */
  async function stop() {
    clearInterval(reportTimer);
    attempt(() => acceptor?.stop());
    await hold(hooks, "stopping", acceptor?.port);
    await workersStarted;
    await Promise.all(shards.map((s) => s.stop().catch(onFailure)));
    attempt(() => acceptor?.closeTerminators());
    attempt(() => endpoint?.stop());
    life.finish();
    exit(life.exitCode);
  }

  function attempt(action: () => void) {
    try {
      action();
    } catch (err) {
      onFailure(`internal error: ${(err as Error).message}`);
    }
  }

  // binding: the port (and the metrics port) before anything else, so that a second
  // instance started by mistake fails here and cannot clobber the running one's log.
  holdSync(hooks, "binding");
  const bits = createBitmap(shared);
  try {
    acceptor = startAcceptor({
      host: config.host,
      port: config.port,
      maxClients: config.maxClients,
      idleTimeout: config.idleTimeout,
      intake,
      onTerminate: () => life.handle({ kind: "terminate" }),
    });
    if (config.metricsPort !== undefined) {
      endpoint = startEndpoint({ host: config.metricsHost, port: config.metricsPort, phase: () => life.phase, scrape });
      printNotice(`metrics on ${endpoint.url}`);
    }
    // preparing: the log emptied, or loaded and cut (--resume), and this thread's shard.
    // Nothing yields to the event loop until the dispatcher exists, so no client is admitted
    // before there is a shard to count its lines.
    life.advance("preparing");
    holdSync(hooks, "preparing", acceptor.port);
    let keepBytes = 0;
    if (config.resume) ({ count: loaded, validBytes: keepBytes } = loadLog(config.log, bits));
    total = loaded;
    prepareLog(config.log, keepBytes);
    const local = new Shard({ bits, atomic: shared, log: config.log, flushInterval: config.flushInterval, onWriteError: onFailure });
    shards.push(local);
    dispatcher = new Dispatcher(local, remotes);
  } catch (err) {
    acceptor?.stop();
    endpoint?.stop();
    for (const name of SIGNALS) process.off(name, onSignal);
    throw err;
  }

  // starting, then serving: the returned promise is the exit code, whatever phase the stop
  // comes in; start-up goes on beside it.
  if (life.advance("starting")) void serve(acceptor);
  return done;

  /** starting: worker threads, one at a time, while early clients are served by the shards that exist. */
  async function serve(acceptor: Acceptor) {
    workersStarted = startWorkers();
    // This thread warms up while the workers start (and warm up) in theirs.
    await warmUpMain(shared, config.warmup);
    await Promise.all([workersStarted, hold(hooks, "starting", acceptor.port)]);
    if (!life.advance("serving")) return;
    let reporting = false;
    reportTimer = setInterval(async () => {
      if (reporting) return;
      reporting = true;
      const counts = await Promise.all(shards.map((s) => s.report()));
      reporting = false;
      // After a failure the report would claim a total that may not be on disk.
      if (life.phase !== "serving" || life.exitCode !== 0) return;
      const unique = counts.reduce((sum, c) => sum + c.unique, 0);
      const duplicates = counts.reduce((sum, c) => sum + c.duplicates, 0);
      total += unique;
      printReport(formatReport({ unique, duplicates, total }));
    }, config.reportInterval * 1000);
    onReady(acceptor.port);
  }

  /**
   * A scrape, as consistent as a report: each shard flushes and answers once it has consumed
   * what it was sent before, but none gives up its counts, so the reports stay as they were.
   */
  async function scrape(): Promise<string> {
    const queues = remotes.map((r) => r.queuedBytes);
    const connections = acceptor!.stats();
    const stats = await Promise.all(shards.map((s) => s.stats()));
    const sum = (key: keyof ShardStats) => stats.reduce((n, s) => n + s[key], 0);
    return renderMetrics({
      unique: sum("unique"),
      duplicates: sum("duplicates"),
      logNumbers: loaded + sum("unique"),
      logBytesWritten: sum("logBytes"),
      logWriteErrors: sum("logWriteErrors"),
      connections,
      workerQueueBytes: queues,
    });
  }

  async function startWorkers() {
    const setup = { bits, atomic: shared, log: config.log, flushInterval: config.flushInterval, warmUpLines: config.warmup, fault: hooks.fault };
    for (let i = 1; i < threads && life.phase === "starting"; i++) {
      try {
        const remote = await RemoteShard.start(setup, { onFailure });
        shards.push(remote);
        remotes.push(remote);
      } catch (err) {
        onFailure((err as Error).message);
      }
    }
  }
}
