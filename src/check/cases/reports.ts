// Report cases: every stdout line is a report line in the job's exact format; they arrive
// on the cadence (10 s, or REPORT_SECONDS when --spawn-report-interval can tell the
// implementation so); their unique and duplicate counts add up to what was sent; the total
// they state is what the log holds. One server with the short cadence for all of them.

import { REPORT, fail, fresh, lines, logLines, pass, quote, reportSeconds, type Case, type Context } from "../scenario.ts";

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
      const peer = await ctx.connect();
      peer.write(lines([...numbers, ...dups]));
      peer.end();
      await peer.closedWithin(ctx.timeoutMs);
      let unique = 0;
      let duplicates = 0;
      let last: number | undefined;
      const limit = performance.now() + 3 * reportSeconds(ctx.config) * 1000 + ctx.timeoutMs;
      while (unique + duplicates < 50 && performance.now() < limit) {
        const r = await nextReport(ctx);
        if (last !== undefined && r.total !== last + r.unique) {
          return fail(`a report's total ${r.total} is not the last total ${last} plus its ${r.unique} unique`);
        }
        last = r.total;
        unique += r.unique;
        duplicates += r.duplicates;
      }
      const what = `sent 30 new numbers and 20 repeats; the reports counted ${unique} unique, ${duplicates} duplicates`;
      return unique === 30 && duplicates === 20 ? pass() : fail(what);
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
];
