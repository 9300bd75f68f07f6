// Log cases: emptied at start; each number once however often it is sent, by one client or
// by five at the same moment; and the whole log exactly the set the generator sent,
// verified as the benchmark verifies it (src/check/verify.ts). The exact set uses the seq
// workload (each connection its own range): the cross-client duplicates have a case of their
// own, so a server that loses that race fails there and only there.

import { writeFileSync } from "node:fs";
import { encodeLines } from "../../core/protocol.ts";
import { sendPayloads } from "../../client/sender.ts";
import { CONNECTIONS, workloadNumbers, type WorkloadName } from "../../client/workloads.ts";
import { describeReport, expectedSet, LogChecker } from "../verify.ts";
import { Peer } from "../peer.ts";
import { expectLog, fail, fresh, lines, logLines, pass, quiet, quote, show, stopWithTerminate, type Case, type LogCheck } from "../scenario.ts";

const LOG_ONLY = "the log is read only with --spawn";

/** Sends the bench's `workload` of `count` numbers from five connections; checks the log holds exactly its set. */
export async function sendWorkload(host: string, port: number, workload: WorkloadName, count: number) {
  const payloads = Array.from({ length: CONNECTIONS }, (_, c) => encodeLines(workloadNumbers(workload, count, c)));
  const result = await sendPayloads(host, port, payloads);
  const check: LogCheck = (log) => {
    const checker = new LogChecker(expectedSet(workload, count));
    checker.feed(log);
    const report = checker.finish();
    return report.ok ? pass(`${report.lines} unique of ${count} sent`) : fail(describeReport(report).replaceAll("\n  ", "; "));
  };
  return { result, check };
}

export const LOG_CASES: Case[] = [
  {
    name: "log/emptied-at-start",
    needs: "spawn",
    why: LOG_ONLY,
    controls: true,
    async run(ctx) {
      const stale = ["999999999", "999999998", "000000001"];
      const target = await ctx.start({ prepare: (_dir, log) => writeFileSync(log, lines(stale)) });
      // Emptied at the start, not when the first number comes: before, a server that opened
      // (and emptied) its log only then passed, and a start with no input kept the old log.
      await quiet(ctx.settleMs);
      const early = logLines(target.readLog()).lines;
      if (early.some((l) => stale.includes(l))) {
        await stopWithTerminate(target, ctx.timeoutMs);
        return fail(`the log held ${quote(lines(stale))} before the start, and still held ${show(early)} once it was ready, before any number was sent`);
      }
      const numbers = fresh(2);
      const peer = await Peer.connect(target.host, target.port, ctx.timeoutMs);
      peer.write(lines(numbers));
      peer.end();
      await peer.closedWithin(ctx.timeoutMs);
      const note = await stopWithTerminate(target, ctx.timeoutMs);
      const log = target.readLog();
      const v = expectLog(numbers, stale)(log);
      const all = logLines(log).lines;
      const evidence = `the log held ${quote(lines(stale))} before the start; ${numbers.length} numbers sent`;
      if (!v.ok) return fail(`${evidence}; ${v.evidence}${note ? ` (${note})` : ""}`);
      if (all.length !== numbers.length) return fail(`${evidence}; the log has ${all.length} lines: ${show(all)}`);
      return pass();
    },
  },
  {
    name: "log/each-number-once",
    needs: "spawn",
    why: LOG_ONLY,
    group: "log/once",
    async run(ctx) {
      const [a, b, c] = fresh(3);
      const peer = await ctx.connect();
      peer.write(lines([a, b, a, c, b, a]));
      peer.end();
      await peer.closedWithin(ctx.timeoutMs);
      const again = await ctx.connect();
      again.write(lines([c, a]));
      again.end();
      await again.closedWithin(ctx.timeoutMs);
      return expectLog([a, b, c]);
    },
  },
  {
    name: "log/duplicates-across-clients-once",
    needs: "spawn",
    why: LOG_ONLY,
    group: "log/race",
    async run(ctx) {
      const numbers = fresh(20_000);
      const payload = lines(numbers);
      const peers = [];
      for (let i = 0; i < 5; i++) peers.push(await ctx.connect());
      // All five write the same numbers at the same moment.
      for (const p of peers) p.write(payload);
      for (const p of peers) p.end();
      await Promise.all(peers.map((p) => p.closedWithin(ctx.timeoutMs)));
      return (log) => {
        const counts = new Map<string, number>();
        for (const l of logLines(log).lines) counts.set(l, (counts.get(l) ?? 0) + 1);
        const twice = numbers.filter((n) => (counts.get(n) ?? 0) > 1);
        const missing = numbers.filter((n) => !counts.has(n));
        if (twice.length) return fail(`5 clients sent the same ${numbers.length} numbers at once; ${twice.length} logged more than once: ${show(twice)}`);
        if (missing.length) return fail(`5 clients sent the same ${numbers.length} numbers; ${missing.length} missing: ${show(missing)}`);
        return pass();
      };
    },
  },
  {
    name: "log/exact-set-from-generator",
    needs: "spawn",
    why: LOG_ONLY,
    group: "log/exact",
    async run(ctx) {
      const { result, check } = await sendWorkload(ctx.host, ctx.port, "seq", 200_000);
      if (result.cutShort > 0) return fail(`the server closed ${result.cutShort} of 5 connections before all their numbers were sent`);
      return check;
    },
  },
];
