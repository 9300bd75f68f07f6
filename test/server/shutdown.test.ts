// Clean shutdowns of the real server with clients still connected: `terminate` from one
// client (also in the middle of a chunk), SIGTERM, SIGINT and SIGHUP. Each closes every client,
// exits 0 with a complete log, and prints nothing but report lines on stdout. Numbers read
// but not yet flushed at the shutdown are in durability.test.ts.

import { expect, test } from "bun:test";
import { expectLogged, expectOnlyReports } from "../support/client.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import type { Server } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();

/** Expects a clean exit: code 0, report lines only on stdout, the readiness line only on stderr. */
async function expectCleanExit(server: Server) {
  const result = await outcome(server);
  expect(result.code).toBe(0);
  expectOnlyReports(result.stdout);
  expect(result.stderr).toEqual([`listening on 127.0.0.1:${server.port}`]);
}

test("terminate from one of 3 clients closes all 3, exits 0, and the log holds every number read", async () => {
  // The reports prove b's and c's numbers were read; a's arrive with its terminate and, with
  // the flush tick 30 s away, only the shutdown can write them.
  const server = await servers.start(["--report-interval", "0.05", "--flush-interval", "30"]);
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => connect(server.port)));
  const counted = reportsUntil(server.stdout, (sums) => sums.unique >= 4);
  b.write("000000001\n000000002\n");
  c.write("000000003\n000000004\n000000001\n");
  await counted;
  a.write("000000005\n000000006\nterminate\n");
  await Promise.all([a.closed, b.closed, c.closed]);
  await expectCleanExit(server);
  expectLogged(server.log, [1, 2, 3, 4, 5, 6]);
});

test("terminate in the middle of a chunk: the line before it counts, the line after it not", async () => {
  const server = await servers.start();
  const bystander = await connect(server.port);
  const peer = await connect(server.port);
  peer.write("111111111\nterminate\n222222222\n");
  await Promise.all([peer.closed, bystander.closed]);
  await expectCleanExit(server);
  expectLogged(server.log, [111111111]);
});

test.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)("%s with clients connected: all closed, exit 0, the log complete", async (signal) => {
  const server = await servers.start(["--report-interval", "0.05"]);
  const [a, b] = await Promise.all([connect(server.port), connect(server.port)]);
  const counted = reportsUntil(server.stdout, (sums) => sums.unique + sums.duplicates >= 4);
  a.write("000000001\n000000002\n");
  b.write("000000003\n000000002\n");
  // Once the reports count every line, nothing sent is still on the way.
  expect(await counted).toEqual({ unique: 3, duplicates: 1, total: 3 });
  server.proc.kill(signal);
  await Promise.all([a.closed, b.closed]);
  await expectCleanExit(server);
  expectLogged(server.log, [1, 2, 3]);
});
