// A scripted TCP client for the integration tests: small writes, half-close or reset, and
// when (performance.now()) the connection closed. Bulk streams go through src/client/sender.ts.

import type { Socket } from "bun";

export interface Peer {
  /** Writes bytes the kernel must take at once (small writes); throws otherwise. */
  write(data: string | Uint8Array): void;
  /** Half-closes (FIN): the server reads the rest, then closes its side. */
  end(): void;
  /** Closes abruptly: Bun's terminate() resets the connection (the server sees ECONNRESET). */
  reset(): void;
  /** Resolves with performance.now() when the connection closed, by either side. */
  closed: Promise<number>;
  /** Resolves at the close with how it came: "fin" (an orderly close), "reset" (ECONNRESET), or another errno. */
  how: Promise<string>;
  readonly isClosed: boolean;
}

export async function connect(port: number, host = "127.0.0.1"): Promise<Peer> {
  let isClosed = false;
  let errno: string | undefined;
  const closing = Promise.withResolvers<number>();
  const how = Promise.withResolvers<string>();
  const noted = (err?: Error) => void (errno ??= err && ((err as NodeJS.ErrnoException).code ?? err.message));
  const onClose = (err?: Error) => {
    noted(err);
    isClosed = true;
    closing.resolve(performance.now());
    // Without an error the close was orderly: the server's FIN (Bun calls no end handler for
    // it once this side has half-closed).
    how.resolve(errno === "ECONNRESET" ? "reset" : errno ?? "fin");
  };
  let socket: Socket;
  try {
    socket = await Bun.connect({
      hostname: host,
      port,
      socket: { data() {}, close: (_s, err) => onClose(err), error: (_s, err) => noted(err) },
    });
  } catch (err) {
    // The server took the connection and reset it before Bun called it open: a full server
    // refuses that way. The peer is already closed; writes throw.
    if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") throw err;
    onClose(err as Error);
    return { write: () => void refusedWrite(), end() {}, reset() {}, closed: closing.promise, how: how.promise, isClosed: true };
  }
  const closed = closing.promise;
  return {
    write(data) {
      const length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
      const n = socket.write(data);
      if (n !== length) throw new Error(`peer wrote ${n} of ${length} bytes (closed, or too much for one write)`);
    },
    end: () => void socket.shutdown(),
    reset: () => socket.terminate(),
    closed,
    how: how.promise,
    get isClosed() {
      return isClosed;
    },
  };
}

function refusedWrite(): never {
  throw new Error("peer write on a connection the server reset at once");
}
