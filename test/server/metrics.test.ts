// The metrics endpoint (--metrics-port) of a live server, with one and with two threads:
// exact counts after known input, clients connected, refused and closed for each reason,
// scrapes that take nothing from the reports, /healthz through start-up and shutdown (parked
// with NUMBERS_TEST_PARK), the HTTP cases, and a port that is taken.

import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import type { CloseReason } from "../../src/server/acceptor.ts";
import { expectLogged, expectOnlyReports, sendAll } from "../support/client.ts";
import { METRICS_ON, metricsBase, pick, rawRequest, readyPort, request, scrape, statusOf } from "../support/metrics.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { tempDir } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();
const OLD_LOG = "000000001\n000000002\n";

/**
 * Spawns `serve --port 0 --metrics-port 0 <args>` in a fresh directory (or `dir`) and reads
 * the metrics line; with `ready`, also the readiness line.
 */
async function start(args: string[], options: { dir?: string; env?: Record<string, string>; ready?: boolean } = {}) {
  const dir = options.dir ?? tempDir();
  const server = servers.spawn(["serve", "--port", "0", ...METRICS_ON, ...args], { cwd: dir, env: options.env });
  const base = await metricsBase(server);
  const port = options.ready === false ? 0 : await readyPort(server);
  return { ...server, dir, log: join(dir, "numbers.log"), base, port };
}

function dirWithOldLog(): string {
  const dir = tempDir();
  writeFileSync(join(dir, "numbers.log"), OLD_LOG);
  return dir;
}

const REASONS: CloseReason[] = ["invalid", "idle", "eof", "terminate", "shutdown"];
const COUNTS = [
  'numbers_received_total{result="unique"}',
  'numbers_received_total{result="duplicate"}',
  "numbers_log_numbers",
  "numbers_log_bytes_written_total",
  "numbers_log_write_errors_total",
];
const CLIENTS = [
  "numbers_clients_connected",
  "numbers_clients_waiting",
  'numbers_connections_total{outcome="admitted"}',
  'numbers_connections_total{outcome="refused"}',
  'numbers_clients_closed_total{reason="invalid"}',
  'numbers_clients_closed_total{reason="idle"}',
  'numbers_clients_closed_total{reason="eof"}',
  'numbers_clients_closed_total{reason="terminate"}',
  'numbers_clients_closed_total{reason="shutdown"}',
];

/** The values of COUNTS, in order. */
function counts(unique: number, duplicates: number, logNumbers: number, bytes: number) {
  return Object.fromEntries(COUNTS.map((name, i) => [name, [unique, duplicates, logNumbers, bytes, 0][i]]));
}

/** The values of CLIENTS, in order. */
function clients(connected: number, admitted: number, refused: number, closed: Partial<Record<CloseReason, number>>) {
  // None waits when a test scrapes: a refused connection is awaited first.
  const values = [connected, 0, admitted, refused, ...REASONS.map((reason) => closed[reason] ?? 0)];
  return Object.fromEntries(CLIENTS.map((name, i) => [name, values[i]]));
}

describe.each([1, 2])("--workers %d", (workers) => {
  const w = ["--workers", String(workers)];
  const queue = 'numbers_worker_queue_bytes{thread="1"}';

  test("after known input: the exact counts, the clients connected and refused, and a log that matches them", async () => {
    const startedAt = Date.now() / 1000;
    // Its bitmap mapped before the readiness line, as a user's server has it (the default test
    // run leaves it to the first touch: test/support/env.ts).
    const server = await start([...w, "--max-clients", "2"], { env: { NUMBERS_TEST_LAZY_PAGES: "0" } });
    await sendAll(await connect(server.port), "000000001\n000000002\n000000001\n");
    const bad = await connect(server.port);
    bad.write("000000003\n000000002\nxyz\n");
    await bad.closed;
    // Two silent clients fill the slots and a third is refused. Connections are accepted in
    // order, so once the third is closed the server has admitted the two before it.
    const silent = [await connect(server.port), await connect(server.port)];
    await (await connect(server.port)).closed;
    const samples = await scrape(server.base);
    expect(pick(samples, COUNTS)).toEqual(counts(3, 2, 3, 30));
    expect(pick(samples, CLIENTS)).toEqual(clients(2, 4, 1, { invalid: 1, eof: 1 }));
    // With every client closed, nothing waits in the worker's queue.
    expect(samples.get(queue)).toBe(workers === 2 ? 0 : undefined);
    // The scrape flushed the log, as a report does: every byte it counts is in the file.
    expect(statSync(server.log).size).toBe(30);
    expectLogged(server.log, [1, 2, 3]);
    // At least the bitmap (119 MiB) is resident; the process started during this test.
    expect(samples.get("process_resident_memory_bytes")).toBeGreaterThan(119 * 2 ** 20);
    expect(samples.get("process_start_time_seconds")).toBeGreaterThan(startedAt - 1);
    expect(samples.get("process_start_time_seconds")).toBeLessThan(Date.now() / 1000);
    expect(samples.get(`numbers_build_info{version="${pkg.version}",bun="${Bun.version}"}`)).toBe(1);
    silent[0].write("terminate\n");
    await Promise.all(silent.map((peer) => peer.closed));
    expect((await outcome(server)).code).toBe(0);
  });

  test("a client closed by --idle-timeout", async () => {
    const server = await start([...w, "--idle-timeout", "0.1"]);
    await (await connect(server.port)).closed;
    expect(pick(await scrape(server.base), CLIENTS)).toEqual(clients(0, 1, 0, { idle: 1 }));
    server.proc.kill(9);
  });

  test("--resume: the log's numbers count those loaded; the bytes written only the new ones", async () => {
    const server = await start([...w, "--resume"], { dir: dirWithOldLog() });
    await sendAll(await connect(server.port), "000000005\n000000001\n");
    expect(pick(await scrape(server.base), COUNTS)).toEqual(counts(1, 1, 3, 10));
    expect(readFileSync(server.log, "latin1")).toBe(OLD_LOG + "000000005\n");
    server.proc.kill(9);
  });

  test("scrapes take nothing from the report lines, nor the reports from the scrapes", async () => {
    const server = await start([...w, "--report-interval", "0.05"]);
    await sendAll(await connect(server.port), "000000001\n000000002\n000000001\n");
    for (let i = 0; i < 3; i++) expect(pick(await scrape(server.base), COUNTS)).toEqual(counts(2, 1, 2, 20));
    // The numbers were all counted before the scrapes; the reports still account for each.
    const sums = await reportsUntil(server.stdout, (s) => s.total >= 2);
    expect(sums).toEqual({ unique: 2, duplicates: 1, total: 2 });
    // Nor do the reports take anything from the scrapes: the counters never go down.
    expect(pick(await scrape(server.base), COUNTS)).toEqual(counts(2, 1, 2, 20));
    server.proc.kill(9);
  });

  test("/healthz is 503 starting while start-up is parked, then 200 ok; /metrics answers meanwhile", async () => {
    const server = await start(w, { env: { NUMBERS_TEST_PARK: "starting" }, ready: false });
    const port = Number(/^test: parked at starting on port (\d+)$/.exec((await server.stderr.next()) ?? "")?.[1]);
    expect(await request(server.base, "/healthz")).toMatchObject({ status: 503, body: "starting\n" });
    expect(pick(await scrape(server.base), CLIENTS)).toEqual(clients(0, 0, 0, {}));
    server.proceed();
    expect(await readyPort(server)).toBe(port);
    expect(await request(server.base, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
    (await connect(port)).write("terminate\n");
    expect((await outcome(server)).code).toBe(0);
  });

  test("/healthz is 503 stopping while shutdown is parked; /metrics counts the clients the stop let go", async () => {
    const server = await start([...w, "--report-interval", "0.05"], { env: { NUMBERS_TEST_PARK: "stopping" } });
    // A report that counts its number shows that the bystander was admitted before the stop.
    const bystander = await connect(server.port);
    const counted = reportsUntil(server.stdout, (s) => s.unique >= 1);
    bystander.write("000000007\n");
    await counted;
    const peer = await connect(server.port);
    peer.write("000000006\nterminate\n");
    const parked = `test: parked at stopping on port ${server.port}`;
    expect(await server.stderr.next()).toBe(parked);
    expect(await request(server.base, "/healthz")).toMatchObject({ status: 503, body: "stopping\n" });
    const samples = await scrape(server.base);
    expect(pick(samples, COUNTS)).toEqual(counts(2, 0, 2, 20));
    expect(pick(samples, CLIENTS)).toEqual(clients(0, 2, 0, { terminate: 1, shutdown: 1 }));
    // The sender of terminate, and the bystander, are closed last, once the log is flushed.
    expect(peer.isClosed).toBe(false);
    expect(bystander.isClosed).toBe(false);
    server.proceed();
    await Promise.all([peer.closed, bystander.closed]);
    const result = await outcome(server);
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 0,
      stderr: [`metrics on ${server.base}/metrics`, `listening on 127.0.0.1:${server.port}`, parked],
    });
    expectOnlyReports(result.stdout);
    expectLogged(server.log, [6, 7]);
  });
  test("what fetch() would not send: HTTP/1.0 without Host, an empty Host, bare LFs are served; bad heads are 4xx, never 500", async () => {
    const server = await start(w);
    const served = [
      "GET /metrics HTTP/1.0\r\n\r\n",
      "GET /healthz HTTP/1.0\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nHost: \r\nUser-Agent: old-monitor\r\n\r\n",
      "GET /healthz HTTP/1.0\n\n",
    ];
    for (const head of served) {
      const response = await rawRequest(server.base, head);
      expect(statusOf(response), head).toBe(200);
      expect(response, head).toContain("\r\nconnection: close\r\n");
      expect(response, head).toMatch(head.includes("metrics") ? /\r\n\r\n# HELP / : /\r\n\r\nok\n$/);
    }
    expect(await rawRequest(server.base, "HEAD /metrics HTTP/1.0\r\n\r\n")).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
    const refused: [string, number][] = [
      ["GET /metrics\r\n\r\n", 400],
      ["GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400],
      ["GET /metrics HTTP/2.0\r\n\r\n", 505],
      [`GET /metrics HTTP/1.1\r\nx-big: ${"a".repeat(9000)}\r\n\r\n`, 431],
      ["GET /nowhere HTTP/1.0\r\n\r\n", 404],
      ["DELETE /healthz HTTP/1.0\r\n\r\n", 405],
    ];
    for (const [head, status] of refused) expect(statusOf(await rawRequest(server.base, head)), head.slice(0, 40)).toBe(status);
    // Each refusal's body says why, as its status line does.
    expect(await rawRequest(server.base, "GET /metrics HTTP/2.0\r\n\r\n")).toEndWith("\r\n\r\nhttp version not supported\n");
    expect(await request(server.base, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
  });
});

describe("HTTP", () => {
  test("other paths are 404; other methods 405 naming GET and HEAD; HEAD has the headers and no body", async () => {
    const server = await start(["--workers", "1"]);
    for (const path of ["/", "/metrics/", "/metricsx", "/healthz/", "/favicon.ico", "/terminate"]) {
      expect(await request(server.base, path), path).toMatchObject({ status: 404, body: "not found\n" });
    }
    for (const path of ["/metrics", "/healthz"]) {
      for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
        const r = await request(server.base, path, method);
        expect({ status: r.status, allow: r.headers.get("allow") }, `${method} ${path}`).toEqual({ status: 405, allow: "GET, HEAD" });
      }
    }
    const head = await request(server.base, "/metrics", "HEAD");
    expect(head).toMatchObject({ status: 200, body: "" });
    expect(head.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await request(server.base, "/healthz", "HEAD")).toMatchObject({ status: 200, body: "" });
    // None of it reached the number server.
    expect(pick(await scrape(server.base), CLIENTS)).toEqual(clients(0, 0, 0, {}));
    server.proc.kill(9);
  });

  test("off by default: no metrics line, the readiness line comes first", async () => {
    const server = await servers.start(["--workers", "1"]);
    (await connect(server.port)).write("terminate\n");
    expect(await outcome(server)).toEqual({ code: 0, stdout: [], stderr: [`listening on 127.0.0.1:${server.port}`] });
  });
});

describe("a metrics port that cannot be bound: one line, exit 1, the log untouched", () => {
  test.each([1, 2])("taken by another server (--workers %d)", async (workers) => {
    const first = await start(["--workers", "1"]);
    const port = new URL(first.base).port;
    const dir = dirWithOldLog();
    const second = servers.spawn(["serve", "--port", "0", "--metrics-port", port, "--workers", String(workers)], { cwd: dir });
    expect(await outcome(second)).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot listen on 127.0.0.1:${port} for metrics: the port is in use`],
    });
    expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
    expect(await request(first.base, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
    first.proc.kill(9);
  });

  // Before, this was "the port is in use", as if another program held it.
  test("the numbers port itself, on the same address: named as such, exit 1, the log untouched", async () => {
    const dir = dirWithOldLog();
    // A port free a moment ago (another process may take it meanwhile: then the first bind fails).
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const server = servers.spawn(["serve", "--port", String(port), "--metrics-port", String(port)], { cwd: dir });
    expect(await outcome(server)).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot listen on 127.0.0.1:${port} for metrics: it is the numbers port (--port); pick another --metrics-port`],
    });
    expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
  });

  test("an address that is not this machine's", async () => {
    const dir = dirWithOldLog();
    // 192.0.2.0/24 is TEST-NET-1, never assigned to a host.
    const server = servers.spawn(["serve", "--port", "0", ...METRICS_ON, "--metrics-host", "192.0.2.1"], { cwd: dir });
    expect(await outcome(server)).toEqual({
      code: 1,
      stdout: [],
      stderr: ["numbers-server: cannot listen on 192.0.2.1:0 for metrics: no such address here"],
    });
    expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
  });
});
