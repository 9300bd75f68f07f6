// The socket glue around the engine: admission of at most maxClients connections, the
// report and flush timers, and the one shutdown path used by terminate and signals.

import type { Socket, TCPSocketListener } from "bun";
import { writeSync } from "node:fs";
import type { ServerConfig } from "./config.ts";
import { CLOSE, Engine, KEEP, newLineCarry, type LineCarry } from "./engine.ts";
import { openLog } from "./logfile.ts";
import { formatReport } from "./report.ts";

/** Per-connection state, kept on socket.data. */
interface Client extends LineCarry {
  admitted: boolean;
}

export interface RunningServer {
  port: number;
  /** Resolves with the exit code once the server has shut down and the log is closed. */
  done: Promise<number>;
  shutdown(code?: number): void;
}

export class StartError extends Error {}

export function startServer(config: ServerConfig): RunningServer {
  const clients = new Set<Socket<Client>>();
  let engine: Engine;
  let stopping = false;

  const handlers = {
    open(socket: Socket<Client>) {
      const admitted = !stopping && clients.size < config.maxClients;
      socket.data = { ...newLineCarry(), admitted };
      if (!admitted) return void socket.end();
      clients.add(socket);
    },
    data(socket: Socket<Client>, chunk: Uint8Array) {
      const client = socket.data;
      if (!client.admitted) return;
      const verdict = engine.feed(client, chunk);
      if (verdict === KEEP) return;
      if (verdict === CLOSE) return drop(socket);
      shutdown(0);
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

  // The log is emptied only now that the port is ours, so a second instance started by
  // mistake cannot clobber the running one's log.
  let log;
  try {
    log = openLog(config.log);
  } catch (err) {
    listener.stop(true);
    throw err;
  }
  engine = new Engine({ write: (bytes) => log.write(bytes) });

  const flush = () => {
    engine.drain();
    log.flush();
  };
  const report = () => {
    flush();
    printLine(formatReport(engine.takeCounts()));
  };
  const reportTimer = setInterval(report, config.reportInterval * 1000);
  const flushTimer = setInterval(flush, config.flushInterval * 1000);

  let resolveDone: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  function shutdown(code = 0) {
    if (stopping) return;
    stopping = true;
    clearInterval(reportTimer);
    clearInterval(flushTimer);
    listener.stop(true);
    for (const socket of clients) drop(socket);
    engine.drain();
    log.close();
    resolveDone(code);
  }

  const onSignal = () => shutdown(0);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  return { port: listener.port, done, shutdown };
}

/** Writes a line to stdout synchronously, so each report reaches a pipe or file at once. */
function printLine(line: string) {
  writeSync(1, line + "\n");
}
