// The listening socket and the connections, all in the main thread: admission of at most
// maxClients, the idle sweep, and the dispatch of each connection's bytes to the shard it
// was given when it connected (the main thread's own, or a worker's).

import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import { CLOSE, KEEP, type Verdict } from "./engine.ts";

/** Where a connection's bytes go: a Shard in this thread, or a RemoteShard. */
export interface ShardLink {
  /** Returns the verdict now, or nothing when it comes later through `verdict()`. */
  feed(id: number, chunk: Uint8Array): Verdict | void;
  forget(id: number): void;
  /** Calls `done` once every chunk fed to this shard so far has been consumed (at once, or later). */
  whenConsumed(done: () => void): void;
  /** Bytes are piling up in the shard: stop reading its connections until `resume()`. */
  readonly congested?: boolean;
}

export interface AcceptorOptions {
  host: string;
  port: number;
  maxClients: number;
  idleTimeout: number;
  shards: ShardLink[];
  /** A client sent `terminate`. */
  onTerminate: () => void;
}

/** Why the server let go of an admitted client (see release()). */
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
  /** A verdict that a shard reached later (a worker's). */
  verdict(id: number, verdict: Verdict): void;
  /** Resumes reading the connections of a shard that is no longer congested. */
  resume(shard: ShardLink): void;
  /** Closes the listener, then every client but those that sent `terminate`. */
  stop(): void;
  /** Closes the clients that sent `terminate`: the last step of the shutdown. */
  closeTerminators(): void;
}

/** Per-connection state, kept on socket.data. */
interface Client {
  id: number;
  shard: ShardLink | undefined;
  /** performance.now() of the last data, for --idle-timeout. */
  lastSeen: number;
  paused: boolean;
}

export class ListenError extends Error {}

/** `host:port` as a URL or a readiness line writes it: an IPv6 host in brackets. */
export function address(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Bun.listen, with any failure turned into a one-line ListenError. */
export function listen<T>(host: string, port: number, socket: SocketHandler<T>): TCPSocketListener<T> {
  try {
    // Half-open: a client's FIN is answered by end() once its bytes have been consumed.
    return Bun.listen<T>({ hostname: host, port, socket, allowHalfOpen: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Bun says only "Failed to listen at HOST" for a host it cannot resolve or parse.
    const why = e.code === "EADDRINUSE" ? "the port is in use" : e.code ?? "no such address here";
    throw new ListenError(`cannot listen on ${host}:${port}: ${why}`);
  }
}

export function startAcceptor(o: AcceptorOptions): Acceptor {
  const clients = new Map<number, Socket<Client>>();
  /** Connections per shard; o.shards may still grow while workers start. */
  const load = new Map<ShardLink, number>();
  const loadOf = (shard: ShardLink) => load.get(shard) ?? 0;
  let nextId = 1;
  let stopping = false;
  /** Clients that sent `terminate`, read no more and closed by closeTerminators(). */
  const terminators = new Set<Socket<Client>>();
  const counts = { admitted: 0, refused: 0, closed: { invalid: 0, idle: 0, eof: 0, terminate: 0, shutdown: 0 } };

  /**
   * The shard with the fewest connections. Ties go to the last (a worker's): the main
   * thread's shard is first, and this thread also receives every connection's bytes.
   */
  const pickShard = () => o.shards.reduce((best, s) => (loadOf(s) <= loadOf(best) ? s : best));

  const handlers = {
    open(socket: Socket<Client>) {
      const admitted = !stopping && clients.size < o.maxClients;
      socket.data = { id: nextId++, shard: undefined, lastSeen: performance.now(), paused: false };
      if (!admitted) {
        counts.refused++;
        return void socket.end();
      }
      counts.admitted++;
      const shard = pickShard();
      socket.data.shard = shard;
      load.set(shard, loadOf(shard) + 1);
      clients.set(socket.data.id, socket);
    },
    data(socket: Socket<Client>, chunk: Uint8Array) {
      const client = socket.data;
      const shard = client.shard;
      if (shard === undefined) return;
      client.lastSeen = performance.now();
      const verdict = shard.feed(client.id, chunk);
      if (verdict !== undefined && verdict !== KEEP) return judge(socket, verdict);
      if (shard.congested && !client.paused) {
        client.paused = true;
        socket.pause();
      }
    },
    /**
     * The client has sent everything (FIN). It is closed once its shard has consumed all it
     * sent: at once in this thread, and after a worker's queue, so that a client (and the
     * bench) sees the close only when its numbers have been counted.
     */
    end(socket: Socket<Client>) {
      const shard = socket.data.shard;
      if (shard === undefined) return;
      shard.whenConsumed(() => {
        if (socket.data.shard === shard) drop(socket, "eof");
      });
    },
    /**
     * A client still held here closed or reset its side (eof): every close the server makes
     * releases the client first.
     */
    close(socket: Socket<Client>) {
      release(socket, "eof");
    },
    // The close handler follows any socket error; the error itself needs no action.
    error() {},
  };

  /** Frees the connection's slot and line state; safe to call twice (the first reason counts). */
  function release(socket: Socket<Client>, reason: CloseReason) {
    const { id, shard } = socket.data;
    if (shard === undefined) return;
    counts.closed[reason]++;
    socket.data.shard = undefined;
    clients.delete(id);
    load.set(shard, loadOf(shard) - 1);
    shard.forget(id);
  }

  /** A graceful close (FIN): the client is done, over the limit, idle, or the server stops. */
  function drop(socket: Socket<Client>, reason: CloseReason) {
    release(socket, reason);
    socket.end();
  }

  /**
   * Invalid input gets an abortive close (RST), as the reference server's does: the client's
   * next send fails with ECONNRESET, and nothing it sent after the bad line is read.
   */
  function judge(socket: Socket<Client>, verdict: Verdict) {
    if (verdict === CLOSE) {
      release(socket, "invalid");
      return void socket.terminate();
    }
    // Closed last, once the log is flushed and fsynced: when this client sees the close, the
    // listener is long closed and its numbers are on disk (the terminate command relies on it).
    release(socket, "terminate");
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
    verdict(id, verdict) {
      const socket = clients.get(id);
      if (socket) judge(socket, verdict);
    },
    resume(shard) {
      for (const socket of clients.values()) {
        if (socket.data.shard === shard && socket.data.paused) {
          socket.data.paused = false;
          socket.resume();
        }
      }
    },
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
