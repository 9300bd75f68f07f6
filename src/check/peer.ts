// The checker's scripted client: one TCP connection that writes bytes (queued past what the
// kernel takes at once), keeps what the server sends, and records how the server closed it:
// FIN, reset, or another error, with the errno a client sees. Every wait is bounded.

import type { Socket } from "bun";

/** Resolves true when `promise` settles within `ms`, false otherwise (never rejects). */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** How a connection ended, as the client saw it. */
export interface Ending {
  /** "fin" (an orderly close), "reset" (ECONNRESET), or the errno of another error. */
  how: string;
  /** performance.now() when it closed. */
  at: number;
}

export class Peer {
  private queue: Uint8Array[] = [];
  private sawEnd = false;
  private errno?: string;
  private ended?: Ending;
  private readonly closing = Promise.withResolvers<Ending>();
  received = 0;

  private constructor(private socket?: Socket) {}

  /** Connects; rejects with the errno (ECONNREFUSED...) when nobody accepts within `ms`. */
  static async connect(host: string, port: number, ms: number): Promise<Peer> {
    const peer = new Peer();
    const connecting = Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, chunk) => void (peer.received += chunk.length),
        drain: () => peer.pump(),
        end: () => void (peer.sawEnd = true),
        error: (_s, err) => void (peer.errno ??= (err as NodeJS.ErrnoException).code ?? err.message),
        close: (_s, err) => peer.closed(err),
        connectError: (_s, err) => void (peer.errno ??= (err as NodeJS.ErrnoException).code ?? err.message),
      },
    });
    connecting.catch(() => {});
    if (!(await within(connecting, ms))) {
      void connecting.then((s) => s.terminate(), () => {});
      throw new Error(`ETIMEDOUT (no answer within ${ms} ms)`);
    }
    try {
      peer.socket = await connecting;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      // Said as what it is, for a case's evidence: the server took the client and reset it at
      // once (as one over its five, most often), not a refused connection.
      throw new Error(code === "ECONNRESET" ? "ECONNRESET as it connected" : code);
    }
    return peer;
  }

  private closed(err?: Error) {
    if (err) this.errno ??= (err as NodeJS.ErrnoException).code ?? err.message;
    const how = this.errno === "ECONNRESET" ? "reset" : this.errno ?? (this.sawEnd ? "fin" : "closed");
    this.ended = { how, at: performance.now() };
    this.closing.resolve(this.ended);
  }

  /** Queues bytes; they go out as fast as the kernel takes them. */
  write(data: string | Uint8Array): void {
    this.queue.push(typeof data === "string" ? Buffer.from(data, "latin1") : data);
    this.pump();
  }

  private pump() {
    while (this.queue.length > 0 && this.socket && !this.ended) {
      const head = this.queue[0];
      const n = this.socket.write(head);
      if (n < 0) return;
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
  }

  /** Whether every queued byte was handed to the kernel. */
  get flushed(): boolean {
    return this.queue.length === 0;
  }

  /** Resolves once every queued byte is with the kernel (or the connection ended), at most `ms`. */
  async drained(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!this.flushed && !this.ended && performance.now() < deadline) await Bun.sleep(5);
    return this.flushed;
  }

  /** How it ended, or undefined while it is open. */
  get ending(): Ending | undefined {
    return this.ended;
  }

  /** How it ended, waiting at most `ms`; undefined if it is still open then. */
  async closedWithin(ms: number): Promise<Ending | undefined> {
    await within(this.closing.promise, ms);
    return this.ended;
  }

  /** Half-closes: the server reads the rest and closes its side. */
  end(): void {
    this.socket?.shutdown();
  }

  /** Closes at once (a reset). */
  reset(): void {
    this.socket?.terminate();
  }
}

/**
 * Whether a connection to host:port is accepted within `ms`. It is half-closed at once and
 * waited for (at most `closeMs`) until the server closes it, so that it no longer holds
 * one of the server's client slots when the first case connects.
 */
export async function canConnect(host: string, port: number, ms: number, closeMs = 0): Promise<boolean> {
  try {
    const peer = await Peer.connect(host, port, ms);
    peer.end();
    await peer.closedWithin(closeMs);
    return true;
  } catch {
    return false;
  }
}
