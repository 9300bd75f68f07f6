// Report cases: every stdout line is a report line in the job's exact format; they arrive
// on the cadence (10 s, or REPORT_SECONDS when --spawn-report-interval can tell the
// implementation so); their unique and duplicate counts add up to what was sent; the total
// they state is what the log holds. One server with the short cadence for all of them.

import { Peer } from "../peer.ts";
import { REPORT, expectLog, fail, fresh, lines, logLines, pass, quote, reportSeconds, stopWithTerminate, type Case, type Context } from "../scenario.ts";

const GROUP = "reports";
const WHY = "report lines are read from the spawned implementation's stdout";

/** Reads the next stdout line; throws with the evidence when it is missing or not a report. */
async function nextReport(ctx: Context): Promise<{ unique: number; duplicates: number; total: number; at: number }> {
  const wait = reportSeconds(ctx.config) * 1000 + ctx.timeoutMs;
  const line = await ctx.target!.stdout.next(wait);
  if (line === null) throw new Error(`no line on stdout within ${wait} ms${ctx.target!.running ? "" : " (the process has exited)"}`);
  const m = REPORT.exec(line);
  if (!m) throw new Error(`stdout line ${quote(line, 80)} is not "Received N unique numbers, N duplicates. Unique total: N"`);
  return { unique: Number(m[1]), duplicates: Number(m[2]), total: Number(m[3]), at: performance.now() };
}

/**
 * Reads reports until they have counted `unique` new numbers, or three intervals and
 * --timeout have gone by; returns how many they counted.
 */
async function countUnique(ctx: Context, unique: number): Promise<number> {
  const limit = performance.now() + 3 * reportSeconds(ctx.config) * 1000 + ctx.timeoutMs;
  let counted = 0;
  while (counted < unique && performance.now() < limit) counted += (await nextReport(ctx)).unique;
  return counted;
}

const shared = { needs: "spawn", why: WHY, group: GROUP, shortReports: true } as const;

export const REPORT_CASES: Case[] = [
  {
    ...shared,
    name: "reports/format",
    async run(ctx) {
      const r = await nextReport(ctx);
      const first = `first: unique ${r.unique}, duplicates ${r.duplicates}, total ${r.total}`;
      // Then every line the implementation writes on stdout until it exits, once the group's
      // cases are done and it is stopped.
      return (_log, stdout) => {
        const bad = stdout.findIndex((l) => !REPORT.test(l));
        if (bad >= 0) return fail(`stdout line ${bad + 1} of ${stdout.length}, ${quote(stdout[bad], 80)}, is not a report line`);
        return pass(`${first}; ${stdout.length} lines, all reports`);
      };
    },
  },
  {
    ...shared,
    name: "reports/cadence",
    async run(ctx) {
      const s = reportSeconds(ctx.config);
      const a = await nextReport(ctx);
      const b = await nextReport(ctx);
      const c = await nextReport(ctx);
      const gaps = [b.at - a.at, c.at - b.at].map((g) => g / 1000);
      // A timer is never early; lateness is load. Bounds generous both ways, the shape exact.
      const ok = gaps.every((g) => g >= s * 0.75 && g <= s * 1.5 + 0.5);
      const shown = gaps.map((g) => `${g.toFixed(2)} s`).join(", ");
      return ok ? pass(`every ${shown} for ${s} s`) : fail(`expected a report every ${s} s; gaps were ${shown}`);
    },
  },
  {
    ...shared,
    name: "reports/counts-add-up",
    async run(ctx) {
      const numbers = fresh(30);
      const dups = numbers.slice(0, 20);
      // Half the repeats from the client that first sent them, half from another: before, a
      // server that counted as duplicates only a client's own repeats passed.
      for (const batch of [[...numbers, ...dups.slice(0, 10)], dups.slice(10)]) {
        const peer = await ctx.connect();
        peer.write(lines(batch));
        peer.end();
        await peer.closedWithin(ctx.timeoutMs);
      }
      let unique = 0;
      let duplicates = 0;
      const limit = performance.now() + 3 * reportSeconds(ctx.config) * 1000 + ctx.timeoutMs;
      while (unique + duplicates < 50 && performance.now() < limit) {
        const r = await nextReport(ctx);
        unique += r.unique;
        duplicates += r.duplicates;
      }
      const what = `sent 30 new numbers and 20 repeats; the reports counted ${unique} unique, ${duplicates} duplicates`;
      if (unique !== 30 || duplicates !== 20) return fail(what);
      // Counts since the last report: the next one, with nothing sent since, counts nothing.
      const next = await nextReport(ctx);
      if (next.unique !== 0 || next.duplicates !== 0) {
        return fail(`${what}; the next report, with nothing sent since, counted ${next.unique} unique, ${next.duplicates} duplicates`);
      }
      // Then every report to the exit, those read above among them: each total is the last
      // one plus its unique count. (Checked only over the reports read above, a single one at
      // times, counts kept since the start, not since the last report, passed.)
      return (_log, stdout) => {
        let last: number | undefined;
        for (const [i, line] of stdout.entries()) {
          const m = REPORT.exec(line);
          if (!m) continue; // reports/format's to tell
          const [unique, total] = [Number(m[1]), Number(m[3])];
          if (last !== undefined && total !== last + unique) {
            return fail(`stdout line ${i + 1}, ${quote(line, 80)}: total ${total} is not the last total ${last} plus its ${unique} unique`);
          }
          last = total;
        }
        return pass();
      };
    },
  },
  {
    ...shared,
    // A server of its own, so that every report it prints counts only these numbers (the
    // group's server has reports the other cases left unread).
    group: "reports/repeat",
    // Before, a server that forgot the numbers it had seen at each report (told them apart
    // within an interval only) passed every case: none sent a number again after a report.
    name: "reports/repeat-after-report-not-logged",
    async run(ctx) {
      const numbers = fresh(3);
      const send = async (batch: string[]) => {
        const peer = await ctx.connect();
        peer.write(lines(batch));
        peer.end();
        await peer.closedWithin(ctx.timeoutMs);
      };
      await send(numbers);
      // The report that counts the last of them is printed after they were counted: it lies
      // between the two sends.
      const counted = await countUnique(ctx, numbers.length);
      if (counted < numbers.length) return fail(`the reports counted ${counted} unique of the ${numbers.length} numbers sent`);
      await send([...numbers].reverse());
      return expectLog(numbers);
    },
  },
  {
    ...shared,
    group: "reports/repeat",
    // Before, a server that wrote "1 unique number, 1 duplicate." passed: no case made sure
    // a report counted exactly one. This one new number is alone in the report that counts it.
    name: "reports/count-of-one-same-words",
    async run(ctx) {
      const [one] = fresh(1);
      const peer = await ctx.connect();
      peer.write(lines([one, one]));
      peer.end();
      await peer.closedWithin(ctx.timeoutMs);
      // A line not in the job's words fails in nextReport().
      const counted = await countUnique(ctx, 1);
      // More than one is counts-add-up's or repeat-after-report's to tell.
      return counted >= 1 ? pass() : fail(`sent one new number and its repeat; the reports counted ${counted} unique`);
    },
  },
  {
    ...shared,
    name: "reports/total-matches-log",
    async run(ctx) {
      const numbers = fresh(25);
      const peer = await ctx.connect();
      peer.write(lines(numbers));
      peer.end();
      await peer.closedWithin(ctx.timeoutMs);
      // The first report after the numbers are in; nothing is sent after them.
      let r = await nextReport(ctx);
      const limit = performance.now() + 3 * reportSeconds(ctx.config) * 1000 + ctx.timeoutMs;
      while (r.unique === 0 && performance.now() < limit) r = await nextReport(ctx);
      const logged = logLines(ctx.target!.readLog()).lines.length;
      return logged === r.total ? pass(`${r.total}`) : fail(`a report said "Unique total: ${r.total}"; the log held ${logged} lines when it was read`);
    },
  },
  {
    // reports/format reads the stdout of a server that only counts numbers: this one's sees a
    // sixth client refused, an invalid line, a reset and the terminate, where an
    // implementation may print what it should not (a server of its own).
    name: "reports/only-reports-through-events",
    needs: "spawn",
    why: WHY,
    controls: true,
    async run(ctx) {
      const target = await ctx.start({ reportSeconds: reportSeconds(ctx.config) });
      const connect = () => Peer.connect(target.host, target.port, ctx.timeoutMs);
      const numbers = fresh(7);
      const five = [];
      for (const n of numbers.slice(0, 5)) {
        const peer = await connect();
        peer.write(lines([n]));
        five.push(peer);
      }
      const sixth = await connect().catch(() => undefined);
      sixth?.write(lines([numbers[5]]));
      await sixth?.closedWithin(ctx.timeoutMs);
      five[0].write("12345\n");
      await five[0].closedWithin(ctx.timeoutMs);
      five[1].write(numbers[6].slice(0, 4));
      five[1].reset();
      // A report after them (stdout is read to the exit below: a line that is none counts too).
      await target.stdout.next(reportSeconds(ctx.config) * 1000 + ctx.timeoutMs);
      for (const p of five.slice(2)) p.end();
      const note = await stopWithTerminate(target, ctx.timeoutMs);
      const stdout = await target.stdout.all(ctx.timeoutMs);
      const bad = stdout.findIndex((l) => !REPORT.test(l));
      if (bad >= 0) return fail(`stdout line ${bad + 1} of ${stdout.length}, ${quote(stdout[bad], 80)}, is not a report line`);
      if (stdout.length === 0) return fail(`no report line on stdout${note ? ` (${note})` : ""}`);
      return pass(`${stdout.length} lines, all reports`);
    },
  },
];
