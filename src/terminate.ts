// The terminate command: sends `terminate` to a server and waits until it has shut down.
// A server that is full closes a new connection at once without reading it, which looks
// the same as a shutdown from this side; so, once closed, it checks that nobody listens.

import type { TerminateConfig } from "./config.ts";
import { connectError } from "./sender.ts";

const handlers = { data() {}, error() {} };

/** Connects, and resolves once the server has closed the connection. */
async function connectUntilClosed(config: TerminateConfig, open: (socket: Bun.Socket) => void): Promise<void> {
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  await Bun.connect({ hostname: config.host, port: config.port, socket: { ...handlers, open, close: () => closed() } });
  return done;
}

export async function terminate(config: TerminateConfig): Promise<number> {
  try {
    // No half-close after the line: the server closes this connection only after every
    // listener of every thread is closed, which the probe below relies on.
    await connectUntilClosed(config, (socket) => void socket.write("terminate\n"));
  } catch (err) {
    throw connectError(config.host, config.port, err);
  }
  // The server stops listening before it closes its clients, so a refused probe means it is gone.
  try {
    await connectUntilClosed(config, (socket) => socket.end());
  } catch {
    return 0;
  }
  throw new Error(`the server at ${config.host}:${config.port} closed the connection but is still running (is it full?)`);
}
