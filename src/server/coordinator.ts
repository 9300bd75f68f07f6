// The coordinator: walks the server through the phases of lifecycle.ts, one step each —
// bind (the port and the metrics port), prepare (the log opened once and locked, then
// emptied, or loaded and cut with --resume; this thread's shard and the dispatcher), start
// (worker threads and the JIT warm-up while early clients are served), serve (the start's
// code pages given back, the bitmap's pages mapped, reports, readiness, warnings) — and owns
// the one stop, which every stop event reaches through the Lifecycle.

import { startAcceptor, WAITING_MOST, type Acceptor } from "./acceptor.ts";
import { createBitmap, touchPages } from "../core/bitmap.ts";
import { releaseCodePages } from "./codepages.ts";
import { serveThreads, type ServerConfig } from "./config.ts";
import { Dispatcher } from "./dispatch.ts";
import { descriptorsToStart, descriptorWarning, startShortfall, waitingRoom } from "./descriptors.ts";
import { ENDPOINT_CONNECTIONS, startEndpoint, type Endpoint } from "./metrics/endpoint.ts";
import { Lifecycle, type Phase } from "./lifecycle.ts";
import { appendLog, READER_LAG_BYTES, streamLog, type LogFile } from "./logfile.ts";
import { OwnedLog } from "./logowner.ts";
import { renderMetrics } from "./metrics/render.ts";
import { printError, printNotice, printReport } from "../output/print.ts";
import { formatReport, nextReportDue } from "./report.ts";
import { loadLog } from "./resume.ts";
import { Shard, type ShardStats } from "./shard.ts";
import { handleSignals } from "./signals.ts";
import { parkAt, injectFaults, type TestHooks } from "./testhooks.ts";
import { RemoteShard } from "./threads.ts";
import { warmUpMain } from "./warmup.ts";

/**
 * After an uncaught exception the stop is tried, but a process that is already broken may
 * not finish it: it exits 1 after this long regardless.
 */
const FATAL_GRACE_MS = 5000;

/**
 * Runs the server until it stops; resolves with the exit code. `onReady` is called with the
 * bound port when serving begins (not at all when a stop comes first). Throws, touching no
 * log, when the port cannot be bound; throws when the log cannot be prepared.
 */
export function runServer(config: ServerConfig, hooks: TestHooks, onReady: (port: number) => void): Promise<number> {
  const server = new Server(config, hooks, onReady);
  server.bind();
  server.prepare();
  if (server.life.advance("starting")) void server.start();
  return server.exited;
}

class Server {
  // The stop runs from a microtask: an event can come from deep inside a shard's
  // countLines() (a failed write), which must finish before the shards are stopped.
  readonly life = new Lifecycle(() => queueMicrotask(() => void this.stop()), printError);
  private readonly exit = Promise.withResolvers<number>();
  readonly exited = this.exit.promise;
  private readonly threads: number;
  private readonly bits: Uint8Array;
  private acceptor?: Acceptor;
  private endpoint?: Endpoint;
  private dispatcher?: Dispatcher;
  /** The log, opened once by prepare() and closed by stop() after every shard. */
  private log?: OwnedLog;
  /** This thread's shard, and its log writer: with a stream log the only one (logowner.ts). */
  private local?: Shard;
  private sink?: LogFile;
  /** The workers' shards, as they start. */
  private readonly remotes: RemoteShard[] = [];
  /** Settles once no worker is starting any more; never rejects. */
  private workersStarted: Promise<void> = Promise.resolve();
  /** Nonzero once the server stops: read by every thread's warm-up (warmup.ts). */
  private readonly stopping = new Int32Array(new SharedArrayBuffer(4));
  private reportTimer?: ReturnType<typeof setTimeout>;
  /** Connections over --max-clients that may wait for a slot at once (acceptor.ts). */
  private waitingRoom = 0;
  /** Descriptors the start needs, counted at bind (descriptors.ts): the waiting room and the advice follow from it. */
  private toStart = 0;
  /** A report is being gathered. */
  private reporting = false;
  /** A report was asked for meanwhile (SIGUSR1, a timer tick): it follows at once. */
  private reportAgain = false;
  private unhandleSignals?: () => void;
  /** Numbers loaded by --resume. */
  private loaded = 0;
  /** The report's Unique total. */
  private total = 0;

  constructor(
    private readonly config: ServerConfig,
    private readonly hooks: TestHooks,
    private readonly onReady: (port: number) => void,
  ) {
    const workers = config.workers;
    this.threads = serveThreads(workers);
    // Its pages are mapped once the start is done (serve()), not here.
    this.bits = createBitmap(this.threads > 1, { touch: false });
  }

  private readonly onSignal = (name: string) => this.life.handle({ kind: "signal", name });
  private readonly onFailure = (message: string) => this.life.handle({ kind: "failure", message });
  private readonly onFatal = (err: unknown) => {
    if (this.life.phase === "stopped") return;
    this.onFailure(`internal error: ${err instanceof Error ? err.message : String(err)}`);
    const grace = this.hooks.fatalGraceMs ?? FATAL_GRACE_MS;
    setTimeout(() => {
      // Said, so that a stop that hangs after a fault is never mistaken for one that ended.
      printError(`the stop did not end within ${grace / 1000} s of the internal error; exiting`);
      process.exit(1);
    }, grace);
  };

  /**
   * binding: the signal handlers first of all (signals.ts), so that no signal finds the
   * default action, which loses buffered numbers; then the port and the metrics port, before
   * the log, so that a second instance started by mistake on the same port fails here.
   */
  bind(): void {
    this.unhandleSignals = handleSignals({ stop: this.onSignal, report: () => void this.report() });
    process.on("uncaughtException", this.onFatal);
    process.on("unhandledRejection", this.onFatal);
    injectFaults(this.hooks);
    this.reach("binding");
    const { config, life } = this;
    try {
      const metrics = config.metricsPort !== undefined;
      this.toStart = descriptorsToStart(this.threads, metrics);
      const short = startShortfall(this.toStart, this.threads, this.boundedConnections());
      if (short !== undefined) throw new Error(short);
      this.waitingRoom = waitingRoom(this.toStart, this.boundedConnections(), WAITING_MOST);
      this.acceptor = startAcceptor({
        host: config.host,
        port: config.port,
        maxClients: config.maxClients,
        idleTimeout: config.idleTimeout,
        waitingRoom: this.waitingRoom,
        // No client is admitted before the dispatcher exists: nothing yields to the event
        // loop between here and the end of prepare().
        intake: {
          feed: (carry, chunk) => this.dispatcher!.feed(carry, chunk),
          whenWritten: (done) => this.dispatcher!.whenWritten(done),
        },
        onTerminate: () => life.handle({ kind: "terminate" }),
        onFault: this.onFatal,
      });
      if (config.metricsPort !== undefined) {
        this.endpoint = startEndpoint({ host: config.metricsHost, port: config.metricsPort, numbersHost: config.host, numbersPort: this.acceptor.port, phase: () => life.phase, scrape: () => this.scrape(), onFault: this.onFatal });
        printNotice(`metrics on ${this.endpoint.url}`);
      }
    } catch (err) {
      this.unbind();
      throw err;
    }
  }

  /**
   * preparing: the log opened and locked (refused, untouched, if another server owns it),
   * then emptied, or loaded and cut (--resume); and this thread's shard.
   */
  prepare(): void {
    this.life.advance("preparing");
    this.reach("preparing");
    const { config, bits } = this;
    const shared = this.threads > 1;
    try {
      const log = (this.log = OwnedLog.open(config.log, config.resume));
      let keepBytes = 0;
      let loadedBytes: number | undefined;
      // A stream (pipe, FIFO, device) holds nothing to load: reading it would wait for data.
      if (config.resume && !log.stream) ({ count: this.loaded, validBytes: keepBytes, sizeBytes: loadedBytes } = loadLog(log.fd, config.log, bits));
      this.total = this.loaded;
      log.cut(keepBytes, loadedBytes);
      const handle = log.handle;
      this.local = new Shard({
        bits,
        atomic: shared,
        openLog: (onError) => (this.sink = handle.stream
          ? streamLog(handle, onError, { onReaderLag: (lagging) => this.holdClients(lagging), stopTimeoutMs: config.stopTimeout * 1000 })
          : appendLog(handle, onError)),
        flushInterval: config.flushInterval,
        onWriteError: this.onFailure,
      });
      this.dispatcher = new Dispatcher(this.local, this.remotes);
    } catch (err) {
      this.unbind();
      throw err;
    }
  }

  /** starting: worker threads, one at a time, while early clients are served by the shards that exist. */
  async start(): Promise<void> {
    this.workersStarted = this.startWorkers();
    // This thread warms up while the workers start (and warm up) in theirs; all of them end
    // their warm-up at the end of a pass once stop() has raised the flag.
    await warmUpMain(this.threads > 1, this.config.warmup, () => Atomics.load(this.stopping, 0) !== 0);
    await Promise.all([this.workersStarted, this.reach("starting")]);
    if (this.life.advance("serving")) this.serve();
  }

  /** starting, one worker thread at a time: each one's shard, or the failure that it did not start. */
  private async startWorkers(): Promise<void> {
    const { config, bits, hooks } = this;
    const setup = { bits, atomic: true, log: this.log!.handle, flushInterval: config.flushInterval, warmUpLines: config.warmup, stopping: this.stopping.buffer as SharedArrayBuffer, fault: hooks.fault };
    for (let i = 1; i < this.threads && this.life.phase === "starting"; i++) {
      try {
        const remote = await RemoteShard.start(setup, { onFailure: this.onFailure, onLog: (bytes) => this.sink!.write(bytes) });
        this.remotes.push(remote);
      } catch (err) {
        this.onFailure((err as Error).message);
      }
    }
  }

  /** serving: the memory made the serving one, the periodic report, and the readiness line. */
  private serve(): void {
    // The code only the start ran is given back before the bitmap's pages are all mapped, so
    // that the two are never resident together: the peak resident set is the serving one.
    releaseCodePages();
    if (!this.hooks.lazyPages) touchPages(this.bits);
    this.reportAt(performance.now() + this.config.reportInterval * 1000);
    this.onReady(this.acceptor!.port);
    this.warn();
  }

  /**
   * After readiness, each said once: a descriptor limit too low for the bounded connections,
   * a log that discards every line (/dev/null or /dev/zero, be it named or what a closed standard
   * output was given: `--log /dev/stdout >&-` served and exited 0 with no number kept), and
   * standard output or error that is the log itself, which then holds more than numbers.
   */
  private warn(): void {
    const warning = descriptorWarning(this.toStart, this.boundedConnections(), this.waitingRoom);
    if (warning !== undefined) printNotice(warning);
    const device = this.log!.discards();
    if (device !== undefined) printNotice(`warning: the log '${this.log!.path}' keeps nothing (it is ${device}): every number is discarded`);
    const shared = this.log!.sharedStreams();
    if (shared.length > 0) {
      const what = shared.map((name) => `standard ${name}`).join(" and ");
      printNotice(`warning: ${what} ${shared.length > 1 ? "are" : "is"} the log '${this.log!.path}' itself: ${shared.includes("output") ? "report lines" : "notices"} land between its numbers`);
    }
  }

  /**
   * A report line: the numbers since the last one, from the timer or at once on SIGUSR1 (the
   * next periodic line then counts from this one). Only while serving: before, the report
   * line would come ahead of the readiness line, and stopping prints none.
   */
  private async report(): Promise<void> {
    if (this.life.phase !== "serving") return;
    if (this.reporting) return void (this.reportAgain = true);
    this.reporting = true;
    const counts = await this.fromEachShard((s) => s.report());
    this.reporting = false;
    if (this.reportAgain) {
      this.reportAgain = false;
      setImmediate(() => void this.report());
    }
    this.checkLogKept();
    // After a failure the report would claim a total that may not be on disk.
    if (this.life.phase !== "serving" || this.life.exitCode !== 0) return;
    const unique = counts.reduce((sum, c) => sum + c.unique, 0);
    const duplicates = counts.reduce((sum, c) => sum + c.duplicates, 0);
    this.total += unique;
    printReport(formatReport({ unique, duplicates, total: this.total }));
  }

  /** The periodic report, due at `due` and then on that grid (nextReportDue()). */
  private reportAt(due: number): void {
    this.reportTimer = setTimeout(() => {
      void this.report();
      this.reportAt(nextReportDue(due, this.config.reportInterval * 1000, performance.now()));
    }, Math.max(0, due - performance.now()));
  }

  /**
   * A log deleted while the server runs takes every number in it along at exit, and a
   * number once logged is never written again: a failure (exit 1), found at each report and
   * at the stop, not a success over an empty directory.
   */
  private checkLogKept(): void {
    const log = this.log;
    if (log?.deleted()) this.onFailure(`cannot keep log file '${log.path}': it was deleted while the server ran, and the numbers in it with it`);
  }

  /** The log's reader is behind (or caught up again): the clients are held meanwhile (acceptor.ts). */
  private holdClients(held: boolean): void {
    // Once stopping, the clients are gone: a reader that catches up then reads no one again.
    if (this.life.phase === "stopping") return;
    this.acceptor?.hold(held);
    printNotice(held
      ? `warning: the log's reader is more than ${READER_LAG_BYTES >> 20} MiB behind: clients are held until it catches up`
      : "the log's reader caught up: clients are served again");
  }

  /** Connections the server may hold at once: the clients, and the metrics endpoint's. */
  private boundedConnections(): number {
    return this.config.maxClients + (this.config.metricsPort !== undefined ? ENDPOINT_CONNECTIONS : 0);
  }

  /**
   * stopping: entered once, from the Lifecycle; it cannot throw and always settles `exited`.
   * The listener first, the clients read no more, then every shard flushed and fsynced, and
   * only then the clients closed: when one sees a FIN, its numbers are on disk.
   */
  private async stop(): Promise<void> {
    clearTimeout(this.reportTimer);
    // Threads still warming up end their warm-up at their next pass: the stop waits for them.
    Atomics.store(this.stopping, 0, 1);
    this.attempt(() => this.acceptor?.stop(this.life.exitCode !== 0));
    await this.reach("stopping");
    await this.workersStarted;
    await this.fromEachShard((s) => s.stop().catch(this.onFailure));
    this.attempt(() => this.checkLogKept());
    this.attempt(() => this.log?.close());
    this.attempt(() => this.acceptor?.closeLast(this.life.exitCode !== 0));
    this.attempt(() => this.endpoint?.stop());
    this.life.finish();
    this.exit.resolve(this.life.exitCode);
  }

  /**
   * A scrape, as consistent as a report: each shard flushes and answers once it has counted
   * what it was sent before, but none gives up its counts, so the reports stay as they were.
   */
  private async scrape(): Promise<string> {
    const queues = this.remotes.map((r) => r.queuedBytes);
    const connections = this.acceptor!.stats();
    const stats = await this.fromEachShard((s) => s.stats());
    const sum = (key: keyof ShardStats) => stats.reduce((n, s) => n + s[key], 0);
    return renderMetrics({
      unique: sum("unique"),
      duplicates: sum("duplicates"),
      logNumbers: this.loaded + sum("unique"),
      logBytesWritten: sum("logBytes"),
      logWaitingBytes: this.sink?.waiting?.() ?? 0,
      logWriteErrors: sum("logWriteErrors"),
      connections,
      workerQueueBytes: queues,
    });
  }

  /**
   * Asks every shard, the workers' first and this thread's last: lines a worker hands over
   * for a stream log (logowner.ts) reach this thread's writer before the worker's answer, so
   * this thread's flush, last, puts them with the OS before a report line or the close.
   */
  private async fromEachShard<T>(ask: (shard: Shard | RemoteShard) => T | Promise<T>): Promise<T[]> {
    const answers = await Promise.all(this.remotes.map(ask));
    return this.local ? [await ask(this.local), ...answers] : answers;
  }

  /** The one place a test park (NUMBERS_TEST_PARK) meets a phase; a no-op otherwise. */
  private reach(phase: Phase): void | Promise<void> {
    return parkAt(this.hooks, phase, this.acceptor?.port);
  }

  /** A failed start-up: what bind() opened is closed, and the process may exit. */
  private unbind(): void {
    this.log?.close();
    this.acceptor?.stop();
    this.endpoint?.stop();
    this.unhandleSignals?.();
  }

  private attempt(action: () => void): void {
    try {
      action();
    } catch (err) {
      this.onFailure(`internal error: ${(err as Error).message}`);
    }
  }
}
