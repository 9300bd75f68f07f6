// How an address and port are written in every message and readiness line: an IPv6 host in
// brackets (`[::1]:4000`), as a URL writes it, so that the port cannot be read as part of it.

/** `host:port`, an IPv6 host in brackets. */
export function address(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
