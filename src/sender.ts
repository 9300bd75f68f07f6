// Sends pre-built payloads over TCP as fast as the peer takes them, one connection per
// payload, for the client command and the benchmark. Each connection writes its payload,
// half-closes, and counts as done when the server closes it.

import type { Socket } from "bun";

export interface SendProgress {
  /** Bytes accepted by the kernel so far, over all connections. */
  sentBytes: number;
}

export interface SendResult {
  /** performance.now() when the first byte was written. */
  firstByteAt: number;
  /** performance.now() when the last connection was closed by the server. */
  lastCloseAt: number;
  sentBytes: number;
  /** Connections that were closed before their whole payload was sent. */
  cutShort: number;
}

export class SendError extends Error {}

/** Bytes handed to one write() call; large writes keep the syscall count low. */
const WRITE_SLICE = 1 << 20;

interface Conn {
  payload: Uint8Array;
  offset: number;
  finished: boolean;
  closed: () => void;
}

/**
 * Connects once per payload (all connected before the first byte is sent, so a refused
 * connection fails fast) and streams every payload at once.
 */
export async function sendPayloads(
  host: string,
  port: number,
  payloads: Uint8Array[],
  progress: SendProgress = { sentBytes: 0 },
): Promise<SendResult> {
  let cutShort = 0;
  const pump = (socket: Socket<Conn>) => {
    const c = socket.data;
    while (c.offset < c.payload.length) {
      const want = Math.min(WRITE_SLICE, c.payload.length - c.offset);
      const n = socket.write(c.payload.subarray(c.offset, c.offset + want));
      c.offset += n;
      progress.sentBytes += n;
      if (n < want) return;
    }
    if (!c.finished) {
      c.finished = true;
      socket.shutdown();
    }
  };
  const handlers = {
    drain: pump,
    data() {},
    close(socket: Socket<Conn>) {
      if (!socket.data.finished) cutShort++;
      socket.data.closed();
    },
    error() {},
  };

  const sockets: Socket<Conn>[] = [];
  const closed: Promise<void>[] = [];
  try {
    for (const payload of payloads) {
      let closedResolve!: () => void;
      closed.push(new Promise<void>((r) => (closedResolve = r)));
      const data: Conn = { payload, offset: 0, finished: false, closed: closedResolve };
      sockets.push(await Bun.connect<Conn>({ hostname: host, port, data, socket: handlers }));
    }
  } catch (err) {
    for (const s of sockets) s.terminate();
    throw new SendError(`cannot connect to ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const firstByteAt = performance.now();
  for (const s of sockets) pump(s);
  await Promise.all(closed);
  return { firstByteAt, lastCloseAt: performance.now(), sentBytes: progress.sentBytes, cutShort };
}
