// The checker's runner in-process (src/check/run.ts): a case's time budget, with made-up cases
// and starts, so that a budget of milliseconds stands for the real one of a minute or more.

import { expect, test } from "bun:test";
import { attempt } from "../../src/check/run.ts";
import { pass, type Case, type Context } from "../../src/check/scenario.ts";
import type { Target } from "../../src/check/target.ts";

/** A context whose start takes `startMs` (a slow implementation, within its --start-timeout). */
function context(startMs: number): Context {
  return {
    config: {} as Context["config"], host: "127.0.0.1", port: 1, timeoutMs: 1000, settleMs: 100, promptMs: 1000,
    connect: () => Promise.reject(new Error("no server")),
    start: () => new Promise<Target>((r) => setTimeout(() => r({} as Target), startMs)),
  };
}

const spawnCase = (run: Case["run"]): Case => ({ name: "made/up", needs: "spawn", controls: true, run });

// Before, the budget counted the starts too: with a --start-timeout longer than the budget, an
// implementation that took that long to start failed its cases as hung.
test("a case's budget leaves out its starts; a case that hangs, before or after a start, still fails", async () => {
  const started = spawnCase(async (ctx) => {
    await ctx.start();
    await ctx.start();
    return pass("ran");
  });
  // Two starts of 150 ms each, against a budget of 100 ms.
  expect(await attempt(started, context(150), 100)).toEqual({ ok: true, evidence: "ran" });
  const hung = spawnCase(() => new Promise(() => {}));
  const t0 = performance.now();
  expect(await attempt(hung, context(150), 100)).toEqual({ ok: false, evidence: "the case had not finished after 100 ms (its starts not counted)" });
  expect(performance.now() - t0).toBeLessThan(1000);
  const hungAfterStart = spawnCase(async (ctx) => {
    await ctx.start();
    return new Promise(() => {});
  });
  const t1 = performance.now();
  expect(await attempt(hungAfterStart, context(150), 100)).toMatchObject({ ok: false });
  expect(performance.now() - t1).toBeGreaterThanOrEqual(240);
});
