// The listening socket and the connections, all in the main thread: admission of at most
// maxClients, the idle sweep, each connection's line state, and its bytes handed to the
// intake (dispatch.ts), whose verdict says what becomes of the connection.

import type { Socket } from "bun";
import { listen } from "./listen.ts";
import { CLOSE, KEEP, newLineCarry, type LineCarry, type Verdict } from "../core/protocol.ts";

/** Where every connection's bytes go (a Dispatcher). */
export interface Intake {
  /** Consumes one chunk of a connection and returns the connection's verdict. */
  feed(conn: LineCarry, chunk: Uint8Array): Verdict;
  /** Calls `done` once every line fed so far has been counted (at once, or later). */
  whenCounted(done: () => void): void;
}

export interface AcceptorOptions {
  host: string;
  port: number;
  maxClients: number;
  idleTimeout: number;
  intake: Intake;
  /** A client sent `terminate`. */
  onTerminate: () => void;
}

/** Why the server let go of an admitted client (see vacate()). */
export type CloseReason = "invalid" | "idle" | "eof" | "terminate" | "shutdown";

/** Connection figures for /metrics: every admitted client is connected or closed for one reason. */
export interface ConnectionStats {
  connected: number;
  admitted: number;
  refused: number;
  closed: Record<CloseReason, number>;
}

export interface Acceptor {
  port: number;
  stats(): ConnectionStats;
  /** Closes the listener, then every client but those that sent `terminate`. */
  stop(): void;
  /** Closes the clients that sent `terminate`: the last step of the shutdown. */
  closeTerminators(): void;
}

/** Per-connection state, kept on socket.data. */
interface Client {
  id: number;
  /** The connection's line state while it is held; undefined once vacated. */
  carry: LineCarry | undefined;
  /** performance.now() of the last data, for --idle-timeout. */
  lastSeen: number;
}

export function startAcceptor(o: AcceptorOptions): Acceptor {
  const clients = new Map<number, Socket<Client>>();
  let nextId = 1;
  let stopping = false;
  /** Clients that sent `terminate`, read no more and closed by closeTerminators(). */
  const terminators = new Set<Socket<Client>>();
  const counts = { admitted: 0, refused: 0, closed: { invalid: 0, idle: 0, eof: 0, terminate: 0, shutdown: 0 } };

  const handlers = {
    open(socket: Socket<Client>) {
      const admitted = !stopping && clients.size < o.maxClients;
      socket.data = { id: nextId++, carry: undefined, lastSeen: performance.now() };
      if (!admitted) {
        counts.refused++;
        return void socket.end();
      }
      counts.admitted++;
      socket.data.carry = newLineCarry();
      clients.set(socket.data.id, socket);
    },
    data(socket: Socket<Client>, chunk: Uint8Array) {
      const client = socket.data;
      if (client.carry === undefined) return;
      client.lastSeen = performance.now();
      const verdict = o.intake.feed(client.carry, chunk);
      if (verdict !== KEEP) judge(socket, verdict);
    },
    /**
     * The client has sent everything (FIN). It is closed once every line it sent has been
     * counted: at once in this thread, and after the workers' queues, so that a client (and
     * the bench) sees the close only when its numbers have been counted.
     */
    end(socket: Socket<Client>) {
      const carry = socket.data.carry;
      if (carry === undefined) return;
      o.intake.whenCounted(() => {
        if (socket.data.carry === carry) drop(socket, "eof");
      });
    },
    /**
     * A client still held here closed or reset its side (eof): every close the server makes
     * vacates the client first.
     */
    close(socket: Socket<Client>) {
      vacate(socket, "eof");
    },
    // The close handler follows any socket error; the error itself needs no action.
    error() {},
  };

  /** Frees the connection's slot and line state; safe to call twice (the first reason counts). */
  function vacate(socket: Socket<Client>, reason: CloseReason) {
    if (socket.data.carry === undefined) return;
    counts.closed[reason]++;
    socket.data.carry = undefined;
    clients.delete(socket.data.id);
  }

  /** A graceful close (FIN): the client is done, over the limit, idle, or the server stops. */
  function drop(socket: Socket<Client>, reason: CloseReason) {
    vacate(socket, reason);
    socket.end();
  }

  /**
   * Invalid input gets an abortive close (RST), as the reference server's does: the client's
   * next send fails with ECONNRESET, and nothing it sent after the bad line is read.
   */
  function judge(socket: Socket<Client>, verdict: Verdict) {
    if (verdict === CLOSE) {
      vacate(socket, "invalid");
      return void socket.terminate();
    }
    // Closed last, once the log is flushed and fsynced: when this client sees the close, the
    // listener is long closed and its numbers are on disk (the terminate command relies on it).
    vacate(socket, "terminate");
    socket.pause();
    terminators.add(socket);
    o.onTerminate();
  }

  const listener = listen<Client>(o.host, o.port, handlers);
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  if (o.idleTimeout > 0) {
    // Bun's socket.timeout() only fires on a ~4 s tick (oven-sh/bun#35935), so idle clients
    // are swept here instead: each is closed between 1 and 1.25 timeouts after its last data.
    const limit = o.idleTimeout * 1000;
    idleTimer = setInterval(() => {
      const now = performance.now();
      for (const socket of clients.values()) if (now - socket.data.lastSeen >= limit) drop(socket, "idle");
    }, limit / 4);
  }

  return {
    port: listener.port,
    stats: () => ({ connected: clients.size, admitted: counts.admitted, refused: counts.refused, closed: { ...counts.closed } }),
    stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(idleTimer);
      listener.stop();
      for (const socket of clients.values()) drop(socket, "shutdown");
    },
    closeTerminators() {
      for (const socket of terminators) socket.end();
      terminators.clear();
    },
  };
}
