// The report lines of the real server: one per --report-interval, in the exact format,
// adding up to what was sent, printed while the server runs (stdout is not held back in a
// buffer when it is a pipe), and never ahead of the log: when a line is read, the log on
// disk holds exactly its Unique total.

import { expect, test } from "bun:test";
import { logNumbers } from "../support/logs.ts";
import { connect } from "../support/peer.ts";
import { REPORT, reportsUntil } from "../support/reports.ts";
import { serverPool } from "../support/servers.ts";

const servers = serverPool();
/** Report lines the test reads. */
const LINES = 8;

// Serial: the gaps between lines are measured when they are read.
test.serial("--report-interval 0.2: a line per tick that adds up, each already on disk when read", async () => {
  // With the flush tick 30 s away, only a report writes the log, so the log cannot grow
  // between a report and the next one: it must hold exactly the total just reported.
  const server = await servers.start(["--report-interval", "0.2", "--flush-interval", "30"]);
  // The grid of reports is set before the readiness line is printed, so at or before this.
  const readyAt = performance.now();
  const seen: { at: number; total: number; logged: number; running: boolean }[] = [];
  const stdout = {
    async next() {
      const line = await server.stdout.next();
      seen.push({
        at: performance.now(),
        total: Number(REPORT.exec(line ?? "")?.[3]),
        logged: logNumbers(server.log).length,
        running: server.proc.exitCode === null,
      });
      return line;
    },
  };
  const peer = await connect(server.port);
  // 3 unique numbers and 2 duplicates.
  peer.write("000000001\n000000002\n000000001\n000000003\n000000002\n");
  const sums = await reportsUntil(stdout, (s) => seen.length >= LINES && s.unique + s.duplicates >= 5);
  expect(sums).toEqual({ unique: 3, duplicates: 2, total: 3 });
  expect(seen.map((s) => s.logged)).toEqual(seen.map((s) => s.total));
  expect(seen.every((s) => s.running)).toBe(true);
  // Timers never fire early; a lower bound is all that can be checked without flakiness, and
  // on the mean gap: each line is read some time after it is printed, so a line read late and
  // the next one on time make one short gap (147.6 ms once, in a parallel run on 2026-12-07).
  // Over seven gaps the first line may be read up to ~350 ms late; lines twice as often fail.
  expect((seen[seen.length - 1].at - seen[0].at) / (seen.length - 1)).toBeGreaterThan(150);
  // And an upper bound that a loaded machine cannot break: the lines keep to a grid set at
  // readiness (nextReportDue()), so a late one does not delay the next, and the eighth is due
  // 1.6 s after it. Lines every 0.3 s would bring it 0.8 s later.
  expect(seen[LINES - 1].at - readyAt).toBeLessThan(LINES * 200 + 600);
  peer.write("terminate\n");
  expect(await server.exited).toBe(0);
});
