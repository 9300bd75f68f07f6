// The opt-in HTTP endpoint (--metrics-port): GET or HEAD /metrics in the Prometheus text
// format, and /healthz for a supervisor or a load balancer. It only reads: nothing sent to it
// can stop or change the server. Bound in the binding phase, right after the main port.
//
// A plain Bun.listen server with http.ts's small HTTP/1.x rather than Bun.serve, whose
// connections cannot be bounded and which answers 500 to a request without a Host header:
// here at most MAX_CONNECTIONS are open at once, each for at most REQUEST_DEADLINE_MS, so
// hanging clients can neither use up the descriptors nor hold a thread busy (docs/edges.md).

import type { Socket, TCPSocketListener } from "bun";
import { address } from "../../address.ts";
import { guarded, ListenError } from "../listen.ts";
import { CONTENT_TYPE } from "./exposition.ts";
import { formatResponse, mayDecide, parseHead, REASONS, type Response } from "./http.ts";
import type { Phase } from "../lifecycle.ts";

/** Connections held at once; one more is answered 503 at once (and lingers: MAX_LINGERING). */
export const MAX_CONNECTIONS = 8;
/**
 * Connections answered 503 over MAX_CONNECTIONS that may linger at once: their answer sent
 * and their side shut, they are read (and what they send dropped) until the client's FIN,
 * for at most LINGER_MS. Closed at once, such a connection whose request came in meanwhile
 * was reset by the kernel for the unread bytes, the 503 often lost with it. Past this bound
 * they are closed at once, as before.
 */
export const MAX_LINGERING = 8;
const LINGER_MS = 1000;
/** Descriptors the endpoint's connections may hold at once (descriptors.ts). */
export const ENDPOINT_CONNECTIONS = MAX_CONNECTIONS + MAX_LINGERING;
/** From the connection's open to its whole request head; past it, 408 and closed. */
export const REQUEST_DEADLINE_MS = 5000;

export interface EndpointOptions {
  host: string;
  port: number;
  /** The numbers listener's address, named when the metrics port cannot be bound because it is that one. */
  numbersHost?: string;
  numbersPort?: number;
  /** The server's phase now: /healthz is 200 while it is serving. */
  phase: () => Phase;
  /** The exposition text of a fresh scrape. */
  scrape: () => Promise<string>;
  /** REQUEST_DEADLINE_MS unless given (a unit test gives a short one). */
  deadlineMs?: number;
  /** A socket handler threw (a bug): the server fails (listen.ts, guarded()). */
  onFault: (err: unknown) => void;
}

export interface Endpoint {
  url: string;
  stop(): void;
}

/** One connection's state, on socket.data. */
interface Exchange {
  /** The head received so far (latin1); undefined once it is being answered. */
  received: string | undefined;
  /** Counted in `open`: it holds one of the MAX_CONNECTIONS places. */
  counted: boolean;
  deadline?: ReturnType<typeof setTimeout>;
  /** Response bytes not yet taken by the kernel. */
  pending?: Uint8Array;
  /** Its response has been given to flush(): a second one (a scrape that ends after the stop) is dropped. */
  answered?: boolean;
  /** Once its response is sent, it lingers (MAX_LINGERING) rather than closing at once. */
  lingers?: boolean;
  /** Lingering: closes it at LINGER_MS unless the client's FIN comes first. */
  linger?: ReturnType<typeof setTimeout>;
}

const text = (status: number, body: string, headers?: Record<string, string>): Response => ({ status, body, headers });

/** Binds the endpoint; a port in use (or a host that is not here) is a one-line ListenError. */
export function startEndpoint(o: EndpointOptions): Endpoint {
  return new MetricsEndpoint(o);
}

class MetricsEndpoint implements Endpoint {
  readonly url: string;
  private readonly listener: TCPSocketListener<Exchange>;
  /** Connections holding one of the MAX_CONNECTIONS places. */
  private open = 0;
  /** Every connection not yet closed: answered `503 stopping` at stop() if not yet answered. */
  private readonly sockets = new Set<Socket<Exchange>>();
  /** Connections lingering after a 503 (MAX_LINGERING). */
  private lingering = 0;

  constructor(private readonly o: EndpointOptions) {
    const socket = guarded<Exchange>({
      open: (s: Socket<Exchange>) => this.admit(s),
      data: (s: Socket<Exchange>, chunk: Buffer) => this.take(s, chunk),
      drain: (s: Socket<Exchange>) => this.flush(s),
      end: (s: Socket<Exchange>) => this.ended(s),
      close: (s: Socket<Exchange>) => this.vacate(s),
      error() {},
    }, o.onFault);
    try {
      this.listener = Bun.listen<Exchange>({ hostname: o.host, port: o.port, socket, allowHalfOpen: true });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // The numbers server's own port on an address that overlaps (the same, or a wildcard).
      // Before, the port alone was compared: another process on that port at another
      // address was taken for the numbers listener, and --port blamed.
      const ours = e.code === "EADDRINUSE" && o.port === o.numbersPort && o.numbersHost !== undefined && overlaps(o.host, o.numbersHost);
      throw new ListenError(`cannot listen on ${address(o.host, o.port)} for metrics: ${ours ? "it is the numbers port (--port); pick another --metrics-port" : why(e, o.host)}`);
    }
    this.url = `http://${address(o.host, this.listener.port)}/metrics`;
  }

  /**
   * Closes the endpoint. A request still in progress (its head not yet whole, or its scrape
   * not yet made) is answered `503 stopping` first, as /healthz would, rather than cut off.
   */
  stop(): void {
    for (const socket of this.sockets) if (socket.data.pending === undefined && !socket.data.answered) this.answer(socket, text(503, "stopping\n"));
    this.listener.stop(true);
  }

  /** A new connection: held (with its deadline) while there is a place, else 503 at once. */
  private admit(socket: Socket<Exchange>) {
    socket.data = { received: "", counted: false };
    this.sockets.add(socket);
    if (this.open >= MAX_CONNECTIONS) {
      socket.data.lingers = this.lingering < MAX_LINGERING;
      return this.answer(socket, text(503, "too many connections\n"));
    }
    this.open++;
    socket.data.counted = true;
    const deadline = this.o.deadlineMs ?? REQUEST_DEADLINE_MS;
    socket.data.deadline = setTimeout(() => this.answer(socket, text(408, "request timeout\n")), deadline);
  }

  /** Bytes of the request head; once it is whole (or cannot be served) it is answered. */
  private take(socket: Socket<Exchange>, chunk: Buffer) {
    const x = socket.data;
    if (x.received === undefined) return;
    const before = x.received.length;
    x.received += chunk.toString("latin1");
    if (!mayDecide(x.received, before)) return;
    const head = parseHead(x.received);
    if (head.kind === "partial") {
      // Only blank lines so far (skipped before a request line): kept no longer, so that a
      // stream of them is not parsed again and again; a CR at the end stays, to be judged
      // with the char after it. Such a stream then ends at the deadline (408), not at 431.
      if (/^[\r\n]*$/.test(x.received)) x.received = x.received.endsWith("\r") ? "\r" : "";
      return;
    }
    if (head.kind === "refused") return this.answer(socket, text(head.status, `${REASONS[head.status].toLowerCase()}\n`));
    x.received = undefined;
    clearTimeout(x.deadline);
    void this.route(head.method, head.path).then((response) => this.answer(socket, response, head.method === "HEAD"));
  }

  /**
   * The client has sent everything (FIN), as `nc -N`, ncat or a script's shutdown() do right
   * after the request. A scrape being made is still answered: the connection stays open for
   * writing (allowHalfOpen; without this handler Bun closed it at once, and a scrape that
   * waited on the workers was answered to nobody). A head cut short by the FIN can never be
   * whole: 400 at once.
   */
  private ended(socket: Socket<Exchange>) {
    if (socket.data.linger !== undefined) return void socket.end();
    if (socket.data.received !== undefined) this.answer(socket, text(400, "bad request\n"));
  }

  private async route(method: string, path: string): Promise<Response> {
    // `OPTIONS *` asks what the server allows: its two paths take GET and HEAD alone.
    if (path === "*") return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    if (path !== "/metrics" && path !== "/healthz") return text(404, "not found\n");
    if (method !== "GET" && method !== "HEAD") return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    if (path === "/healthz") {
      const phase = this.o.phase();
      return phase === "serving" ? text(200, "ok\n") : text(503, `${phase}\n`);
    }
    try {
      return { status: 200, body: await this.o.scrape(), contentType: CONTENT_TYPE };
    } catch (err) {
      // A scrape that cannot be made (a thread gone while the server stops) is the server's
      // state, not the request's fault: 503, never 500.
      return text(503, `unavailable: ${(err as Error).message}\n`);
    }
  }

  /** Sends the whole response (over drains if need be), then closes. */
  private answer(socket: Socket<Exchange>, response: Response, head = false) {
    const x = socket.data;
    if (x.answered) return;
    x.answered = true;
    clearTimeout(x.deadline);
    x.received = undefined;
    x.pending = formatResponse(response, head);
    this.flush(socket);
  }

  private flush(socket: Socket<Exchange>) {
    const x = socket.data;
    if (x.pending === undefined) return;
    const n = socket.write(x.pending);
    // -1: closed meanwhile; nothing more to send.
    x.pending = n < 0 ? undefined : x.pending.subarray(n);
    if (x.pending === undefined || x.pending.length === 0) {
      if (x.lingers && x.pending !== undefined) return this.linger(socket);
      x.pending = undefined;
      socket.end();
    }
  }

  /** Its answer sent: shuts its side and reads on until the client's FIN, at most LINGER_MS. */
  private linger(socket: Socket<Exchange>) {
    const x = socket.data;
    x.pending = undefined;
    this.lingering++;
    socket.shutdown();
    x.linger = setTimeout(() => socket.end(), LINGER_MS);
  }

  private vacate(socket: Socket<Exchange>) {
    this.sockets.delete(socket);
    const x = socket.data;
    clearTimeout(x.deadline);
    if (x.linger !== undefined) {
      clearTimeout(x.linger);
      x.linger = undefined;
      this.lingering--;
    }
    x.pending = undefined;
    if (x.counted) this.open--;
    x.counted = false;
  }
}

/** A port in use, or a host that is not here: Bun's code alone does not always tell. */
/**
 * Whether listeners on hosts `a` and `b` (IP literals), on one port, take each other's
 * place: the same address, or a wildcard that covers the other (`::` covers IPv4 too, as
 * Linux binds it by default). Other names are compared as written.
 */
export function overlaps(a: string, b: string): boolean {
  const bare = (h: string) => h.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  [a, b] = [bare(a), bare(b)];
  // Zeros and colons alone: the unspecified IPv6 address, however written (`::`, `0::0`, eight zeros).
  const anyV6 = (h: string) => /^[0:]+$/.test(h) && h.includes(":");
  if (a === b || anyV6(a) || anyV6(b)) return true;
  if (a === "0.0.0.0") return !b.includes(":");
  if (b === "0.0.0.0") return !a.includes(":");
  return false;
}

function why(err: NodeJS.ErrnoException, host: string): string {
  try {
    Bun.listen({ hostname: host, port: 0, socket: { data() {} } }).stop(true);
  } catch {
    return "no such address here";
  }
  return err.code === "EADDRINUSE" ? "the port is in use" : (err.code ?? err.message);
}
