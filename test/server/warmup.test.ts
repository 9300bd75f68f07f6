// The JIT warm-up (--warmup, src/server/warmup.ts) at its default: every other test's server
// starts with NUMBERS_WARMUP=0 (test/support/env.ts), so this is the one place where the
// 8 M made-up lines per thread run. The server still gets ready, and the made-up lines
// (numbers below 2^20, the ones sent here among them) reach neither the log, the counts,
// nor the bitmap: every number sent is new, and logged once.

import { expect, test } from "bun:test";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { expectLogged } from "../support/client.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();

/** 0..19,999, the made-up stream's first runs of consecutive numbers among them: 200 KB, over HANDOFF_BYTES, so a worker counts some. */
const COUNT = 20_000;

test.each([1, 2])("--workers %d with the default warm-up: ready, and only the numbers sent are counted and logged", async (workers) => {
  const server = await servers.start(["--workers", String(workers), "--report-interval", "0.05"], { env: { NUMBERS_WARMUP: undefined } });
  const values = numbers({ kind: "seq" }, COUNT, 0, 1);
  // Sent twice over two connections: each number is new once and a duplicate once.
  const counted = reportsUntil(server.stdout, (sums) => sums.unique + sums.duplicates >= 2 * COUNT);
  const sent = await sendPayloads("127.0.0.1", server.port, [encodeLines(values), encodeLines(values)]);
  expect(sent.cutShort).toBe(0);
  expect(await counted).toEqual({ unique: COUNT, duplicates: COUNT, total: COUNT });
  (await connect(server.port)).write("terminate\n");
  const result = await outcome(server);
  expect(result.code).toBe(0);
  expect(result.stderr).toEqual([`listening on 127.0.0.1:${server.port}`]);
  expectLogged(server.log, Array.from(values));
}, 20_000);
