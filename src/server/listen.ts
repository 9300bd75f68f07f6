// Binding a port, shared by the numbers port (acceptor.ts) and the metrics endpoint: one
// way to say an address, one error for a port that cannot be had, and socket handlers whose
// exceptions are never lost.

import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import { address } from "../address.ts";

export class ListenError extends Error {}

/** What each error of a listen means, in words. */
const REASONS: Record<string, string> = {
  EADDRINUSE: "the port is in use",
  ENOTFOUND: "no such address here",
  EADDRNOTAVAIL: "the address is not one of this machine's",
  EACCES: "permission denied (a port below 1024 needs privileges)",
};

/** Bun.listen, with any failure turned into a one-line ListenError. */
export function listen<T>(host: string, port: number, socket: SocketHandler<T>): TCPSocketListener<T> {
  try {
    // Half-open: a client's FIN is answered by end() once its bytes have been consumed.
    return Bun.listen<T>({ hostname: host, port, socket, allowHalfOpen: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Bun says only "Failed to listen at HOST" for a host it cannot resolve or parse.
    const why = REASONS[e.code ?? "ENOTFOUND"] ?? e.code;
    throw new ListenError(`cannot listen on ${address(host, port)}: ${why}`);
  }
}

/**
 * `handlers` with each one's exception handed to `onFault` (the server's failure, exit 1) and
 * its socket reset. Bun hands an exception thrown in a socket handler to that socket's
 * `error` handler, never to uncaughtException: unguarded, a bug there lost a client's lines
 * in silence and the server exited 0.
 */
export function guarded<T>(handlers: SocketHandler<T>, onFault: (err: unknown) => void): SocketHandler<T> {
  const out: Record<string, unknown> = { ...handlers };
  for (const [name, handler] of Object.entries(handlers)) {
    if (name === "error" || typeof handler !== "function") continue;
    // Fixed arity, no rest array: `data` runs once per chunk. No handler takes more than three.
    out[name] = (socket: Socket<T>, a: unknown, b: unknown) => {
      try {
        return handler(socket, a, b);
      } catch (err) {
        onFault(err);
        socket.terminate(); // a no-op on a socket already closed (the `close` handler's)
      }
    };
  }
  return out as SocketHandler<T>;
}
