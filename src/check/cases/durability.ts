// Durability under stop: the numbers a report has acknowledged are in the log after a
// SIGTERM, and a SIGTERM in the middle of a stream leaves whole lines only (nine digits and
// LF, each once, each one that was sent). Each case starts its own implementation.

import { existsSync, statSync } from "node:fs";
import { encodeLines } from "../../core/protocol.ts";
import { sendPayloads } from "../../client/sender.ts";
import { CONNECTIONS, workloadNumbers } from "../../client/workloads.ts";
import { Peer } from "../peer.ts";
import type { Target } from "../target.ts";
import { expectLog, fail, fresh, lines, pass, REPORT, reportSeconds, skip, type Case } from "../scenario.ts";
import { expectedSet, LogChecker } from "../verify.ts";

const WHY = "it signals the spawned process and reads its log";
/**
 * Waits for the exit after SIGTERM, sent at `signalled`: 3 x --timeout, since a stop writes out
 * what the implementation holds, which takes longer than other events on a loaded machine
 * (docs/experiments.md, 2026-12-07); past that for as long as it is still at work, up to 10 x
 * --timeout. One still running then ignores SIGTERM: `code` is null.
 */
async function exitAfterSigterm(target: Target, timeoutMs: number, signalled: number) {
  const { code, busy } = await target.exitAfterStop(3 * timeoutMs, 10 * timeoutMs);
  const ms = Math.round(performance.now() - signalled);
  if (code !== null) return { code, said: `exit ${code} after ${ms} ms` };
  return { code, said: `still running ${ms} ms after SIGTERM, ${busy ? "at work (using CPU time) all along" : "and idle"}: no stop to check` };
}
/** Numbers each connection streams, again and again until the SIGTERM. */
const STREAM = 200_000;

export const DURABILITY_CASES: Case[] = [
  {
    name: "durability/acknowledged-survive-sigterm",
    needs: "spawn",
    why: WHY,
    controls: true,
    async run(ctx) {
      const target = await ctx.start({ reportSeconds: 1 });
      const numbers = fresh(1000);
      const peer = await Peer.connect(target.host, target.port, ctx.timeoutMs);
      peer.write(lines(numbers));
      // Acknowledged: a report whose total covers every number sent.
      const limit = performance.now() + 3 * reportSeconds(ctx.config) * 1000 + ctx.timeoutMs;
      let total = 0;
      while (total < numbers.length && performance.now() < limit) {
        const line = await target.stdout.next(limit - performance.now());
        if (line === null) break;
        total = Number(REPORT.exec(line)?.[3] ?? total);
      }
      if (total < numbers.length) return fail(`sent ${numbers.length} numbers; no report acknowledged them (last total ${total})`);
      target.signal("SIGTERM");
      const { code, said: exit } = await exitAfterSigterm(target, ctx.timeoutMs, performance.now());
      peer.reset();
      // The job asks for no SIGTERM handling: one that ignores it has nothing to show here.
      if (code === null) return skip(exit);
      const v = expectLog(numbers)(target.readLog());
      return v.ok ? pass(exit) : fail(`a report acknowledged ${total} numbers, then SIGTERM (${exit}); ${v.evidence}`);
    },
  },
  {
    name: "durability/sigterm-whole-lines",
    needs: "spawn",
    why: WHY,
    controls: true,
    async run(ctx) {
      const target = await ctx.start();
      const payloads = Array.from({ length: CONNECTIONS }, (_, c) => encodeLines(workloadNumbers("seq", STREAM * CONNECTIONS, c)));
      const progress = { sentBytes: 0 };
      const cut = new AbortController();
      const sending = sendPayloads(target.host, target.port, payloads, progress, { seconds: 60, wholeFirst: true }, cut.signal);
      sending.catch(() => {});
      // Mid-stream: as soon as a good share of a pass is out and the log has its first bytes, so
      // that the stop lands while lines are being written (a stop before any write may rightly
      // drop what is still in the socket buffers, and proves nothing), or after --timeout: an
      // implementation may write its log only at the end. (A one-second cap sent the stop
      // before any write on a loaded CI machine, and a log of malformed lines passed, empty.)
      const until = performance.now() + ctx.timeoutMs;
      const logStarted = () => existsSync(target.logPath) && statSync(target.logPath).size > 0;
      while ((progress.sentBytes < 2_000_000 || !logStarted()) && performance.now() < until) await Bun.sleep(1);
      target.signal("SIGTERM");
      const signalled = performance.now();
      // The streams are reset with the signal: what is still unread is then dropped, so the
      // exit is not measured against a flood that goes on. (Left streaming, the test fixture
      // server, busy with its sockets, ran its SIGTERM handler seconds late on a loaded
      // machine, and the case said SKIP: docs/experiments.md, 2026-12-07.) The lines it had
      // read are still its to write.
      cut.abort(new Error("SIGTERM sent"));
      const { code, said: exit } = await exitAfterSigterm(target, ctx.timeoutMs, signalled);
      await target.stop(1000);
      await sending.catch(() => {});
      if (code === null) return skip(exit);
      const checker = new LogChecker(expectedSet("seq", STREAM * CONNECTIONS));
      checker.feed(target.readLog());
      // Numbers sent but not logged are no fault here (the stop may drop what it had not
      // taken): the evidence names only torn, foreign and doubled lines.
      const r = checker.finish(false);
      // An empty log has no line to tear: nothing to check (it passed, "0 whole lines", before).
      if (r.lines + r.malformed === 0) return skip(`the log is empty after SIGTERM (${exit}): no line was written to check`);
      if (r.malformed + r.extra + r.duplicates === 0) return pass(`${r.lines} whole lines, ${exit}`);
      return fail(`SIGTERM after ${progress.sentBytes} bytes (${exit}): ${r.malformed} torn or malformed, ${r.extra} never sent, ${r.duplicates} twice; ${r.examples.join("; ")}`);
    },
  },
];
