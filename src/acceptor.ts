// One serving thread's share of the server: its listening socket, the connections it
// accepted, an engine and a log writer of its own, and its flush and idle timers. The
// coordinator (server.ts) runs one in the main thread and, with --workers, one per worker.

import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import { CLOSE, Engine, KEEP, newLineCarry, type LineCarry } from "./engine.ts";
import type { Gate } from "./gate.ts";
import { appendLog, type LogFile } from "./logfile.ts";

export interface AcceptorOptions {
  host: string;
  port: number;
  /** Join a group of listeners on the same port (SO_REUSEPORT): the kernel spreads connections. */
  reusePort: boolean;
  gate: Gate;
  bits: Uint8Array;
  /** The bitmap is shared with other threads. */
  atomic: boolean;
  /** The log; each acceptor appends to it. */
  log: string;
  /** Runs once the port is bound and before the log is opened: creates or cuts the log. */
  prepareLog?: () => void;
  flushInterval: number;
  idleTimeout: number;
  /** A client sent `terminate`. */
  onTerminate: () => void;
  /** A log write failed (called once). */
  onWriteError: (message: string) => void;
}

export interface Counts {
  unique: number;
  duplicates: number;
}

export interface Acceptor {
  port: number;
  /** Writes out every new number so far, then returns the counts since the last call. */
  report(): Counts;
  /** Stops accepting connections. */
  unlisten(): void;
  /** Closes the listener and every client, then flushes, fsyncs and closes the log. */
  stop(): Promise<void>;
}

/** Per-connection state, kept on socket.data. */
interface Client extends LineCarry {
  admitted: boolean;
  /** performance.now() of the last data, for --idle-timeout. */
  lastSeen: number;
}

export class ListenError extends Error {}

/** Bun.listen, with any failure turned into a one-line ListenError. */
export function listen<T>(host: string, port: number, reusePort: boolean, socket: SocketHandler<T>): TCPSocketListener<T> {
  try {
    return Bun.listen<T>({ hostname: host, port, reusePort, socket });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Bun says only "Failed to listen at HOST" for a host it cannot resolve or parse.
    const why = e.code === "EADDRINUSE" ? "the port is in use" : e.code ?? "no such address here";
    throw new ListenError(`cannot listen on ${host}:${port}: ${why}`);
  }
}

/**
 * Bytes received between forced garbage collections. Each data event brings a fresh buffer
 * of up to 512 KiB; left to itself the collector let them pile up to ~200 MiB of RSS at
 * full speed (measured with `bun run bench`). Collecting every 4 MiB keeps the heap near
 * 10 MiB at no throughput cost we could measure: this heap is small, so a full collection is quick.
 */
const GC_BYTES = 4 << 20;

export function startAcceptor(o: AcceptorOptions): Acceptor {
  const clients = new Set<Socket<Client>>();
  let received = 0;
  let engine: Engine;

  const handlers = {
    open(socket: Socket<Client>) {
      const admitted = o.gate.admit();
      socket.data = { ...newLineCarry(), admitted, lastSeen: performance.now() };
      if (!admitted) return void socket.end();
      clients.add(socket);
    },
    data(socket: Socket<Client>, chunk: Uint8Array) {
      const client = socket.data;
      if (!client.admitted || o.gate.stopped) return;
      client.lastSeen = performance.now();
      received += chunk.length;
      if (received >= GC_BYTES) {
        received = 0;
        Bun.gc(true);
      }
      const verdict = engine.feed(client, chunk);
      if (verdict === KEEP) return;
      if (verdict === CLOSE) return drop(socket);
      o.onTerminate();
    },
    close(socket: Socket<Client>) {
      if (socket.data.admitted) release(socket);
    },
    // The close handler follows any socket error; the error itself needs no action.
    error() {},
  };

  function release(socket: Socket<Client>) {
    socket.data.admitted = false;
    clients.delete(socket);
    o.gate.release();
  }

  function drop(socket: Socket<Client>) {
    release(socket);
    socket.end();
  }

  const listener = listen<Client>(o.host, o.port, o.reusePort, handlers);
  let log: LogFile;
  try {
    o.prepareLog?.();
    log = appendLog(o.log, o.onWriteError);
  } catch (err) {
    listener.stop(true);
    throw err;
  }
  engine = new Engine({ bitmap: o.bits, atomic: o.atomic, write: (bytes) => log.write(bytes) });

  const flush = () => {
    engine.drain();
    log.flush();
  };
  const timers = [setInterval(flush, o.flushInterval * 1000)];
  if (o.idleTimeout > 0) {
    // Bun's socket.timeout() only fires on a ~4 s tick (oven-sh/bun#35935), so idle clients
    // are swept here instead: each is closed between 1 and 1.25 timeouts after its last data.
    const limit = o.idleTimeout * 1000;
    timers.push(setInterval(() => {
      const now = performance.now();
      for (const socket of clients) if (now - socket.data.lastSeen >= limit) drop(socket);
    }, limit / 4));
  }

  return {
    port: listener.port,
    report() {
      flush();
      const { unique, duplicates } = engine.takeCounts();
      return { unique, duplicates };
    },
    unlisten: () => listener.stop(),
    async stop() {
      for (const timer of timers) clearInterval(timer);
      listener.stop(true);
      for (const socket of clients) drop(socket);
      engine.drain();
      await log.close();
    },
  };
}
