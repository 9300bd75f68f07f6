// Binding a port, shared by the numbers port (acceptor.ts) and the metrics endpoint: one
// way to say an address, and one error for a port that cannot be had.

import type { SocketHandler, TCPSocketListener } from "bun";

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
    throw new ListenError(`cannot listen on ${address(host, port)}: ${why}`);
  }
}
