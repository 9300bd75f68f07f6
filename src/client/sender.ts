// Sends pre-built payloads over TCP as fast as the peer takes them, one connection per
// payload, for the client command and the benchmark. Each connection writes its payload
// (once, or again and again until a deadline), half-closes, and counts as done when the
// server closes it; as cut short when the server closed it first, or reset it; as answered
// when the peer sent bytes back, which a numbers server never does.

import type { Socket } from "bun";
import { LINE_BYTES } from "../core/protocol.ts";
import { address } from "../address.ts";

export interface SendProgress {
  /** Bytes accepted by the kernel so far, over all connections. */
  sentBytes: number;
  /** Connections closed so far. */
  closed?: number;
  /** Connections on which the peer has sent bytes so far. */
  answered?: number;
}

/** When to stop repeating the payloads. */
export interface Repeat {
  /**
   * Seconds from the first byte (every connection made) after which the pass being sent is
   * the last. From the first byte, not from the call: before, connects that took longer than
   * a short --duration left no time to send, and the client said it had sent 0 numbers.
   */
  seconds: number;
  /** Each payload is sent whole once before the deadline may cut a pass (the checker's expected set). */
  wholeFirst: boolean;
}

export interface SendResult {
  /** performance.now() when the first byte was written. */
  firstByteAt: number;
  /** performance.now() when the last connection was closed by the server. */
  lastCloseAt: number;
  sentBytes: number;
  /** Connections the server closed before it had read their whole payload: before they were sent, or with a reset. */
  cutShort: number;
  /** Connections on which the peer sent bytes. */
  answered: number;
  /** Whether some connection started a second pass over its payload. */
  repeated: boolean;
}

export class SendError extends Error {}

/** The one-line reason a connection to the server could not be made. */
export function connectError(host: string, port: number, err: unknown): SendError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const hint = code === "ECONNREFUSED" ? " (is the server running?)" : "";
  return new SendError(`cannot connect to ${address(host, port)}: ${code}${hint}`);
}

/** Bytes handed to one write() call; large writes keep the syscall count low. */
const WRITE_SLICE = 1 << 20;

interface Conn {
  payload: Uint8Array;
  offset: number;
  /** Where the current pass over the payload ends. */
  end: number;
  /** The current pass is the last one. */
  lastPass: boolean;
  /** Whole passes sent so far. */
  passes: number;
  finished: boolean;
  /** The server closed its side before this one had sent everything. */
  cut: boolean;
  /** The peer sent bytes. */
  answered: boolean;
  closed: () => void;
}

/**
 * Connects once per payload (all connected before the first byte is sent, so a refused
 * connection fails fast) and streams every payload at once. With `repeat` each payload is sent
 * again and again until its deadline (whole once first, if it says so); the last pass is cut
 * at the first line boundary after the deadline, so the server never sees half a line.
 * Between passes a connection lets the others write: a server that keeps up would otherwise
 * leave one connection writing until the deadline, and the others none. Once `abort` is
 * signalled, every connection is reset and the promise rejects with its reason.
 */
export async function sendPayloads(
  host: string,
  port: number,
  payloads: Uint8Array[],
  progress: SendProgress = { sentBytes: 0 },
  repeat?: Repeat,
  abort?: AbortSignal,
): Promise<SendResult> {
  const send = new Send(progress, repeat, abort);
  abort?.addEventListener("abort", send.abort, { once: true });
  try {
    if (abort?.aborted) send.abort();
    await send.connect(host, port, payloads);
    return await send.stream();
  } finally {
    abort?.removeEventListener("abort", send.abort);
  }
}

/** One sendPayloads() call: its connections, their socket handlers and what they tally. */
class Send {
  private cutShort = 0;
  private answered = 0;
  private repeated = false;
  /** When the pass being sent becomes the last: set at the first byte. */
  private until = Infinity;
  private readonly minPasses: number;
  private readonly sockets: Socket<Conn>[] = [];
  private readonly closed: Promise<void>[] = [];
  private readonly aborted = Promise.withResolvers<never>();

  constructor(
    private readonly progress: SendProgress,
    private readonly repeat: Repeat | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.minPasses = repeat?.wholeFirst ? 1 : 0;
    this.aborted.promise.catch(() => {});
  }

  /** The abort signal's listener: every connection reset, the send rejected with its reason. */
  readonly abort = () => {
    for (const s of this.sockets) s.terminate();
    this.aborted.reject(this.signal!.reason);
  };

  /** Connects once per payload, all before the first byte. */
  async connect(host: string, port: number, payloads: Uint8Array[]): Promise<void> {
    try {
      for (const payload of payloads) {
        let closedResolve!: () => void;
        this.closed.push(new Promise<void>((r) => (closedResolve = r)));
        // An empty payload has nothing to repeat.
        const lastPass = this.repeat === undefined || payload.length === 0;
        const data: Conn = { payload, offset: 0, end: payload.length, lastPass, passes: 0, finished: false, cut: false, answered: false, closed: closedResolve };
        const connecting = Bun.connect<Conn>({ hostname: host, port, data, socket: this.handlers, allowHalfOpen: true });
        // A connect still pending when the send is aborted is reset once it completes.
        connecting.then((s) => this.signal?.aborted && s.terminate(), () => {});
        try {
          this.sockets.push(await Promise.race([connecting, this.aborted.promise]));
        } catch (err) {
          // Reset before the connect completed here: the server took it and refused it at once.
          if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") throw err;
          this.cutShort++;
          closedResolve();
        }
      }
    } catch (err) {
      for (const s of this.sockets) s.terminate();
      throw this.signal?.aborted ? err : connectError(host, port, err);
    }
  }

  /** Writes on every connection at once; resolves when the server has closed them all. */
  async stream(): Promise<SendResult> {
    const firstByteAt = performance.now();
    if (this.repeat !== undefined) this.until = firstByteAt + this.repeat.seconds * 1000;
    for (const s of this.sockets) this.pump(s);
    await Promise.race([Promise.all(this.closed), this.aborted.promise]);
    const { cutShort, answered, repeated } = this;
    return { firstByteAt, lastCloseAt: performance.now(), sentBytes: this.progress.sentBytes, cutShort, answered, repeated };
  }

  /** Writes until the kernel takes no more (drain calls it again) or the last pass is sent. */
  private readonly pump = (socket: Socket<Conn>) => {
    const c = socket.data;
    for (;;) {
      if (!c.lastPass && c.passes >= this.minPasses && performance.now() >= this.until) {
        c.lastPass = true;
        c.end = Math.ceil(c.offset / LINE_BYTES) * LINE_BYTES;
      }
      if (c.offset === c.end) {
        if (c.lastPass) break;
        c.offset = 0;
        c.passes++;
        this.repeated = true;
        return void setImmediate(() => this.pump(socket));
      }
      const want = Math.min(WRITE_SLICE, c.end - c.offset);
      const n = socket.write(c.payload.subarray(c.offset, c.offset + want));
      // -1: the socket is closed (the close handler counts it); nothing was sent.
      if (n < 0) return;
      c.offset += n;
      this.progress.sentBytes += n;
      if (n < want) return;
    }
    if (!c.finished) {
      c.finished = true;
      socket.shutdown();
    }
  };

  private readonly handlers = {
    drain: this.pump,
    data: (socket: Socket<Conn>) => {
      if (socket.data.answered) return;
      socket.data.answered = true;
      this.progress.answered = (this.progress.answered ?? 0) + 1;
    },
    // The server's FIN before this side's own: it let go of the connection before it had
    // read everything (a shutdown, --idle-timeout). Half-open, so that this is seen here
    // instead of Bun closing the socket at once.
    end: (socket: Socket<Conn>) => {
      if (!socket.data.finished) socket.data.cut = true;
      socket.end();
    },
    // A reset means the server did not read everything: it refuses a client over its limit
    // with one. The protocol has no acknowledgement: a close after this side's FIN, without
    // a reset, is taken as success (docs/edges.md says when that cannot be told).
    close: (socket: Socket<Conn>, error?: Error) => {
      if (!socket.data.finished || socket.data.cut || error) this.cutShort++;
      if (socket.data.answered) this.answered++;
      this.progress.closed = (this.progress.closed ?? 0) + 1;
      socket.data.closed();
    },
    error() {},
  };
}
