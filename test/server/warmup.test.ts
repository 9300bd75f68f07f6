// The JIT warm-up (--warmup, src/server/warmup.ts) at its default: every other test's server
// starts with NUMBERS_WARMUP=0 (test/support/env.ts), so this is the one place where the
// 8 M made-up lines per thread run. The server still gets ready, and the made-up lines
// (numbers below 2^20, the ones sent here among them) reach neither the log, the counts,
// nor the bitmap: every number sent is new, and logged once. And it leaves nothing of the
// engine for JavaScriptCore to compile once clients' lines arrive, in either thread.

import { expect, test } from "bun:test";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { expectLogged, expectReadWhole } from "../support/client.ts";
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
  // Should the send fail, that failure is the one to show, not this wait's for a report.
  counted.catch(() => {});
  const sent = await sendPayloads("127.0.0.1", server.port, [encodeLines(values), encodeLines(values)]);
  await expectReadWhole(sent, server);
  expect(await counted).toEqual({ unique: COUNT, duplicates: COUNT, total: COUNT });
  (await connect(server.port)).write("terminate\n");
  const result = await outcome(server);
  expect(result.code).toBe(0);
  expect(result.stderr).toEqual([`listening on 127.0.0.1:${server.port}`]);
  expectLogged(server.log, Array.from(values));
}, 20_000);

/** The engine's per-line functions (src/core/engine.ts), as JavaScriptCore's compile report names them. */
const ENGINE = ["parsePairs", "parseAlignedPairs", "four", "commit", "isRun", "setRun", "testAndSet", "testAndSetScattered", "setBlock", "claimByte"];

test("--workers 2: after the readiness line no thread compiles the engine's per-line functions again (JavaScriptCore's compile report)", async () => {
  // The report goes to stderr ahead of the readiness line, so the server is started by hand.
  // Compiles run on the thread that asks for them (useConcurrentJIT off): a compile asked for
  // in the warm-up then ends before the readiness line, which under load one on a compiler
  // thread did not (a fresh clone's `bun run test` saw setRun's "Optimized" after it, in
  // both threads, on 2026-12-07). What is compiled after it was asked for by clients' lines.
  const env = { NUMBERS_WARMUP: undefined, BUN_JSC_reportCompileTimes: "1", BUN_JSC_useConcurrentJIT: "0" };
  const server = servers.spawn(["serve", "--port", "0", "--workers", "2"], { env });
  const before: string[] = [];
  let ready: RegExpExecArray | null = null;
  // A server that never says it is ready is killed, so that the failure shows its stderr.
  const giveUp = setTimeout(() => server.proc.kill("SIGKILL"), 15_000);
  while (ready === null) {
    const line = await server.stderr.next();
    if (line === null) throw new Error(`no readiness line; stderr ends: ${JSON.stringify(server.stderr.text.slice(-600))}`);
    // JavaScriptCore's compiler threads write their report in pieces, so the readiness line
    // (one write of ours) may land in the middle of one of its lines.
    ready = /listening on \S+:(\d+)$/.exec(line);
    before.push(ready === null ? line : line.slice(0, ready.index));
  }
  clearTimeout(giveUp);
  const port = Number(ready[1]);
  // Enough lines for a function the warm-up left in a lower tier to be compiled now (a build
  // whose worker warm-up took only one of two parse loops showed it with a million lines).
  const values = numbers({ kind: "seq" }, 1_000_000, 0, 1);
  // Sent twice: the worker is handed most of it, new and duplicates.
  const sent = await sendPayloads("127.0.0.1", port, [encodeLines(values), encodeLines(values)]);
  expect(sent.cutShort).toBe(0);
  (await connect(port)).write("terminate\n");
  expect(await server.exited).toBe(0);
  const after: string[] = [];
  for (let line = await server.stderr.next(); line !== null; line = await server.stderr.next()) after.push(line);
  const compiled = (lines: string[]) => lines.flatMap((line) => [...line.matchAll(/Optimized (\w+)#/g)].map((m) => m[1])).filter((name) => ENGINE.includes(name));
  // The warm-up compiled them, in both threads.
  expect(compiled(before).filter((name) => name === "parsePairs").length).toBeGreaterThanOrEqual(2);
  expect(compiled(after)).toEqual([]);
}, 20_000);
