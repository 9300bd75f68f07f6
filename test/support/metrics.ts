// The metrics endpoint in tests: start a server with --metrics-port 0 and learn both ports
// from its stderr, scrape /metrics into a map of series to values, and make plain requests.

import { expect } from "bun:test";
import { parseSamples } from "../../src/server/metrics/exposition.ts";
import type { Spawned } from "./server.ts";

const METRICS_LINE = /^metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics$/;
const READY = /^listening on 127\.0\.0\.1:(\d+)$/;

/**
 * Reads the server's first stderr line, which must name the metrics endpoint; returns its
 * base URL (http://127.0.0.1:PORT).
 */
export async function metricsBase(server: Spawned): Promise<string> {
  const line = await server.stderr.next();
  const m = line === null ? null : METRICS_LINE.exec(line);
  if (!m) throw new Error(`expected the metrics line first, got ${JSON.stringify(line)}: ${server.stderr.text}`);
  return m[1];
}

/** Reads the next stderr line, which must be the readiness line; returns the port. */
export async function readyPort(server: Spawned): Promise<number> {
  const line = await server.stderr.next();
  const m = line === null ? null : READY.exec(line);
  if (!m) throw new Error(`expected the readiness line, got ${JSON.stringify(line)}: ${server.stderr.text}`);
  return Number(m[1]);
}

/** The serve arguments that turn the endpoint on, on a free port. */
export const METRICS_ON = ["--metrics-port", "0"];

/**
 * GET /metrics: checks the status and content type, and returns every sample as
 * `name{labels}` (exactly as written) to its value. The HELP and TYPE lines are checked
 * by promtool (test/server/promtool.test.ts).
 */
export async function scrape(base: string): Promise<Map<string, number>> {
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseSamples(await response.text());
}

/** Picks the samples of the given series out of a scrape, for one toEqual. */
export function pick(samples: Map<string, number>, series: string[]): Record<string, number | undefined> {
  return Object.fromEntries(series.map((s) => [s, samples.get(s)]));
}

/** A request to the endpoint: its status, body and headers. */
export async function request(base: string, path: string, method = "GET") {
  const response = await fetch(`${base}${path}`, { method });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/**
 * Sends `text` as it is (a request fetch() would not make: HTTP/1.0, no Host) on a new
 * connection to the endpoint, and resolves with everything the server sent once it closed.
 */
export async function rawRequest(base: string, text: string): Promise<string> {
  const { hostname, port } = new URL(base);
  let received = "";
  const closed = Promise.withResolvers<void>();
  await Bun.connect({
    hostname,
    port: Number(port),
    socket: {
      open: (socket) => void socket.write(text),
      data: (_, chunk) => void (received += chunk.toString("latin1")),
      close: () => closed.resolve(),
      error() {},
    },
  });
  await closed.promise;
  return received;
}

/** The status code of a raw response (0 for none). */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3}) /.exec(response)?.[1] ?? 0);
}

/**
 * A connection to a metrics port that sends nothing (a hanging client): `closed` resolves
 * with what the server sent before it closed; `openedAt` is when it opened.
 */
export async function silentConnection(port: number): Promise<{ closed: Promise<string>; openedAt: number }> {
  let received = "";
  const closed = Promise.withResolvers<string>();
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: { data: (_, chunk) => void (received += chunk.toString("latin1")), close: () => closed.resolve(received), error() {} },
  });
  return { closed: closed.promise, openedAt: performance.now() };
}
