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
  readonly isClosed: boolean;
}

export async function connect(port: number, host = "127.0.0.1"): Promise<Peer> {
  let isClosed = false;
  let markClosed!: (at: number) => void;
  const closed = new Promise<number>((resolve) => (markClosed = resolve));
  const onClose = () => {
    isClosed = true;
    markClosed(performance.now());
  };
  let socket: Socket;
  try {
    socket = await Bun.connect({ hostname: host, port, socket: { data() {}, close: onClose, error() {} } });
  } catch (err) {
    // The server took the connection and reset it before Bun called it open: a full server
    // refuses that way. The peer is already closed; writes throw.
    if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") throw err;
    onClose();
    return { write: () => void refusedWrite(), end() {}, reset() {}, closed, isClosed: true };
  }
  return {
    write(data) {
      const length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
      const n = socket.write(data);
      if (n !== length) throw new Error(`peer wrote ${n} of ${length} bytes (closed, or too much for one write)`);
    },
    end: () => void socket.shutdown(),
    reset: () => socket.terminate(),
    closed,
    get isClosed() {
      return isClosed;
    },
  };
}

function refusedWrite(): never {
  throw new Error("peer write on a connection the server reset at once");
}
