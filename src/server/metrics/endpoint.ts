// The opt-in HTTP endpoint (--metrics-port): GET or HEAD /metrics in the Prometheus text
// format, and /healthz for a supervisor or a load balancer. It only reads: nothing sent to it
// can stop or change the server. Bound in the binding phase, right after the main port.

import { address, ListenError } from "../listen.ts";
import { CONTENT_TYPE } from "./exposition.ts";
import type { Phase } from "../lifecycle.ts";

export interface EndpointOptions {
  host: string;
  port: number;
  /** The server's phase now: /healthz is 200 while it is serving. */
  phase: () => Phase;
  /** The exposition text of a fresh scrape. */
  scrape: () => Promise<string>;
}

export interface Endpoint {
  url: string;
  stop(): void;
}

const text = (body: string, status: number, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });

/** Binds the endpoint; a port in use (or a host that is not here) is a one-line ListenError. */
export function startEndpoint(o: EndpointOptions): Endpoint {
  const routes: Record<string, () => Response | Promise<Response>> = {
    "/metrics": async () => new Response(await o.scrape(), { headers: { "content-type": CONTENT_TYPE } }),
    "/healthz": () => {
      const phase = o.phase();
      return phase === "serving" ? text("ok\n", 200) : text(`${phase}\n`, 503);
    },
  };
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: o.host,
      port: o.port,
      development: false,
      // Outside development mode Bun.serve sets SO_REUSEPORT unless told not to (see
      // oven-sh/bun#1443): a second server would share the port instead of failing.
      reusePort: false,
      // Requests carry no body worth reading; a larger one is refused unread.
      maxRequestBodySize: 4096,
      fetch(request) {
        const route = routes[new URL(request.url).pathname];
        if (route === undefined) return text("not found\n", 404);
        if (request.method !== "GET" && request.method !== "HEAD") return text("method not allowed\n", 405, { allow: "GET, HEAD" });
        // Bun answers HEAD with the headers of the GET and no body.
        return route();
      },
      error: (err) => text(`internal error: ${err.message}\n`, 500),
    });
  } catch (err) {
    throw new ListenError(`cannot listen on ${o.host}:${o.port} for metrics: ${why(err as NodeJS.ErrnoException, o.host)}`);
  }
  return {
    url: `http://${address(o.host, server.port)}/metrics`,
    stop: () => void server.stop(true),
  };
}

/**
 * Bun.serve's error code is not to be trusted for a host: a name that does not resolve gets
 * EADDRINUSE (oven-sh/bun#37690) or whatever errno came before. So the host is tried alone,
 * on any port, first.
 */
function why(err: NodeJS.ErrnoException, host: string): string {
  try {
    Bun.listen({ hostname: host, port: 0, socket: { data() {} } }).stop(true);
  } catch {
    return "no such address here";
  }
  return err.code === "EADDRINUSE" ? "the port is in use" : (err.code ?? err.message);
}
