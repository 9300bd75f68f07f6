// The socket glue around the engine: admission of at most maxClients connections, the
// report, flush and idle timers, and the one shutdown path used by terminate, signals and
// log write failures.

import type { Socket, TCPSocketListener } from "bun";
import { createBitmap } from "./bitmap.ts";
import type { ServerConfig } from "./config.ts";
import { CLOSE, Engine, KEEP, newLineCarry, type LineCarry } from "./engine.ts";
import { openLog, type LogFile } from "./logfile.ts";
import { printError, printReport } from "./output.ts";
import { formatReport } from "./report.ts";
import { loadLog } from "./resume.ts";

/** Per-connection state, kept on socket.data. */
interface Client extends LineCarry {
  admitted: boolean;
  /** performance.now() of the last data, for --idle-timeout. */
  lastSeen: number;
}

export interface RunningServer {
  port: number;
  /** Resolves with the exit code once the server has shut down and the log is closed. */
  done: Promise<number>;
  shutdown(code?: number): Promise<void>;
}

export class StartError extends Error {}

export function startServer(config: ServerConfig): RunningServer {
  const clients = new Set<Socket<Client>>();
  let engine: Engine;
  let stopping = false;
  /** The first log write failure; it turns any shutdown into exit code 1. */
  let writeError: string | undefined;

  const handlers = {
    open(socket: Socket<Client>) {
      const admitted = !stopping && clients.size < config.maxClients;
      socket.data = { ...newLineCarry(), admitted, lastSeen: performance.now() };
      if (!admitted) return void socket.end();
      clients.add(socket);
    },
    data(socket: Socket<Client>, chunk: Uint8Array) {
      const client = socket.data;
      if (!client.admitted) return;
      client.lastSeen = performance.now();
      const verdict = engine.feed(client, chunk);
      if (verdict === KEEP) return;
      if (verdict === CLOSE) return drop(socket);
      void shutdown(0);
    },
    close(socket: Socket<Client>) {
      socket.data.admitted = false;
      clients.delete(socket);
    },
    // The close handler follows any socket error; the error itself needs no action.
    error() {},
  };

  function drop(socket: Socket<Client>) {
    socket.data.admitted = false;
    clients.delete(socket);
    socket.end();
  }

  let listener: TCPSocketListener<Client>;
  try {
    listener = Bun.listen<Client>({ hostname: config.host, port: config.port, socket: handlers });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EADDRINUSE" ? "the port is in use" : e.message;
    throw new StartError(`cannot listen on ${config.host}:${config.port}: ${why}`);
  }

  // The log is read or emptied only now that the port is ours, so a second instance
  // started by mistake cannot clobber the running one's log.
  const bits = createBitmap();
  let log: LogFile;
  let loaded = 0;
  try {
    let keepBytes: number | undefined;
    if (config.resume) {
      const found = loadLog(config.log, bits);
      loaded = found.count;
      keepBytes = found.validBytes;
    }
    log = openLog(config.log, {
      keepBytes,
      onError(err) {
        writeError = err.message;
        // Deferred: the failing write may be deep inside engine.feed().
        queueMicrotask(() => void shutdown(1));
      },
    });
  } catch (err) {
    listener.stop(true);
    throw err;
  }
  engine = new Engine({ bitmap: bits, write: (bytes) => log.write(bytes) });
  engine.total = loaded;

  const flush = () => {
    engine.drain();
    log.flush();
  };
  const timers = [
    setInterval(() => {
      flush();
      // After a failed write the report would claim a total that is not on disk.
      if (!writeError) printReport(formatReport(engine.takeCounts()));
    }, config.reportInterval * 1000),
    setInterval(flush, config.flushInterval * 1000),
  ];
  if (config.idleTimeout > 0) {
    // Bun's socket.timeout() only fires on a ~4 s tick (oven-sh/bun#35935), so idle clients
    // are swept here instead: each is closed between 1 and 1.25 timeouts after its last data.
    const limit = config.idleTimeout * 1000;
    timers.push(setInterval(() => {
      const now = performance.now();
      for (const socket of clients) if (now - socket.data.lastSeen >= limit) drop(socket);
    }, limit / 4));
  }

  let resolveDone: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  async function shutdown(code = 0) {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearInterval(timer);
    listener.stop(true);
    for (const socket of clients) drop(socket);
    engine.drain();
    await log.close();
    if (writeError) printError(writeError);
    resolveDone(writeError ? 1 : code);
  }

  const onSignal = () => void shutdown(0);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  return { port: listener.port, done, shutdown };
}
