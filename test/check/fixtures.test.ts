// The checker's own tests: the fixture server (test/fixtures/server.ts) with each defect
// fails exactly the cases that name that defect, and with none it passes them. By default
// each defect runs only the cases its name selects (-k), next to the defect-free control;
// NUMBERS_CHECK_FULL=1 runs every case against every defect, against our own server (source
// or NUMBERS_SERVER_BIN, 1 and 2 workers) and against the C yardstick (bench/reference.c).

import { expect, test } from "bun:test";
import { join } from "node:path";
import { fixtureCommand, ourCommand, scorecard, type Scorecard } from "../support/check.ts";
import { tempDir } from "../support/server.ts";

const FULL = process.env.NUMBERS_CHECK_FULL === "1";
const REPORTS = ["--spawn-report-interval", "--report-interval {S}"];

/**
 * Each defect, the -k that selects its cases quickly, every case it must fail, every case it
 * must skip, and the quick run's --timeout when not 2 s: shorter where the defect makes its
 * case wait out the timeout (a close, a report or an exit that never comes), since the file
 * takes as long as its slowest scorecard. (The start has its own bound, --start-timeout's 10 s:
 * with every scorecard of the file starting at once on a loaded CI machine, a fixture took
 * over 1 s to listen.)
 */
const DEFECTS: Record<string, { k: string; fails: string[]; skips?: string[]; timeout?: string; fullTimeout?: string }> = {
  // The generator's seq numbers start at 000000000, so the exact set and the stream see it too.
  zeros: { k: "leading-zeros", fails: ["lines/leading-zeros-kept", "log/exact-set-from-generator", "durability/sigterm-whole-lines"] },
  crlf: { k: "crlf", fails: ["lines/invalid/crlf", "terminate/crlf-is-not-terminate"], timeout: "1" },
  "hold-sixth": { k: "sixth", fails: ["connections/sixth-closed-not-counted"], timeout: "1" },
  "sixth-frees-slot": { k: "sixth", fails: ["connections/sixth-closed-not-counted"], timeout: "1" },
  "leak-on-reset": { k: "freed-by-resets", fails: ["connections/slots-freed-by-resets"], timeout: "1" },
  // Its log is empty after SIGTERM: no line to tear, so the whole-lines case has nothing to check.
  "log-at-exit": { k: "acknowledged", fails: ["reports/total-matches-log", "durability/acknowledged-survive-sigterm"], skips: ["durability/sigterm-whole-lines"] },
  race: { k: "across-clients", fails: ["log/duplicates-across-clients-once"] },
  "split-terminate": { k: "split-across", fails: ["terminate/split-across-writes"], timeout: "1" },
  // Its lines are judged only at their LF, or past 20 bytes: one that cannot become valid waits.
  "suffix-terminate": { k: "leading-bytes", fails: ["lines/invalid-without-newline", "terminate/leading-bytes-is-not-terminate"], timeout: "1" },
  "eof-line": { k: "half-close-counts", fails: ["lines/half-close-counts"] },
  "eof-terminate": { k: "without-newline-at-half-close", fails: ["terminate/without-newline-at-half-close-is-not-terminate"], timeout: "1" },
  // ` terminate` stripped is a terminate too.
  lstrip: { k: "then-nine", fails: ["lines/invalid/space-then-nine", "lines/invalid/tab-then-nine", "terminate/leading-bytes-is-not-terminate"], timeout: "1" },
  "lazy-truncate": { k: "emptied", fails: ["log/emptied-at-start"] },
  singular: { k: "count-of-one", fails: ["reports/count-of-one-same-words"] },
  "dup-per-client": { k: "counts-add-up", fails: ["reports/counts-add-up"] },
  // 2.5 s late: past the default --prompt (2 s), within a --timeout of 6 s, which every other
  // case then waits out as it waits for any close or exit.
  "slow-refuse": { k: "sixth-closed", fails: ["connections/sixth-closed-not-counted"], timeout: "6", fullTimeout: "6" },
  "slow-invalid": { k: "invalid-is-reset", fails: ["lines/invalid-is-reset"], timeout: "6", fullTimeout: "6" },
  "slow-terminate": { k: "whole-line-stops", fails: ["terminate/whole-line-stops", "terminate/split-across-writes"], timeout: "6", fullTimeout: "6" },
  "no-truncate": { k: "emptied", fails: ["log/emptied-at-start"] },
  "fin-on-invalid": { k: "invalid-is-reset", fails: ["lines/invalid-is-reset"] },
  "no-reports": {
    k: "reports/format",
    fails: [
      "reports/format",
      "reports/cadence",
      "reports/counts-add-up",
      "reports/repeat-after-report-not-logged",
      "reports/count-of-one-same-words",
      "reports/total-matches-log",
      "reports/only-reports-through-events",
      "durability/acknowledged-survive-sigterm",
    ],
    timeout: "1",
  },
  "stdout-junk": { k: "reports/format", fails: ["reports/format", "reports/only-reports-through-events"] },
  "junk-on-refusal": { k: "through-events", fails: ["reports/only-reports-through-events"] },
  cumulative: { k: "counts-add-up", fails: ["reports/counts-add-up"] },
  "forget-at-report": { k: "repeat-after-report", fails: ["reports/repeat-after-report-not-logged"] },
  // Its -k selects one of the two cases: each waits out 3 x --timeout for an exit that never
  // comes, so its quick run waits 1.8 s, not 6 (the defect-free control keeps 2 s: its exit is
  // slow when the other scorecards load the machine).
  "ignore-sigterm": {
    k: "acknowledged-survive",
    fails: [],
    skips: ["durability/acknowledged-survive-sigterm", "durability/sigterm-whole-lines"],
    timeout: "0.6",
  },
};

/** The cases of `card` with `status`. */
const named = (card: Scorecard, status: "FAIL" | "SKIP") => card.cases.filter((c) => c.status === status).map((c) => c.name);

/** What each case that did not pass said, for the message of a mismatch. */
const evidence = (card: Scorecard) =>
  card.cases.filter((c) => c.status !== "PASS").map((c) => `${c.status} ${c.name}: ${c.evidence}`).join("\n");

const quick = (timeout = "2") => ["--timeout", timeout, "--settle", "0.3", ...REPORTS];

test.skipIf(FULL)("each defect fails its own case; the defect-free fixture passes the same case", async () => {
  // Concurrently: the cases wait on sockets and timers, not on the CPU.
  const runs = Object.entries(DEFECTS).flatMap(([defect, { k, timeout }]) => [
    scorecard(["-k", k, "--spawn", fixtureCommand(defect), ...quick(timeout)]).then((card) => ({ defect, k, card })),
    scorecard(["-k", k, "--spawn", fixtureCommand(""), ...quick()]).then((card) => ({ defect: "", k, card })),
  ]);
  for (const { defect, k, card } of await Promise.all(runs)) {
    const selected = card.cases.map((c) => c.name);
    expect(selected.length).toBeGreaterThan(0);
    const want = defect ? DEFECTS[defect].fails.filter((n) => selected.includes(n)) : [];
    const skips = defect ? (DEFECTS[defect].skips ?? []).filter((n) => selected.includes(n)) : [];
    expect({ defect, k, failed: card.failedNames, skipped: named(card, "SKIP") }, evidence(card)).toEqual({ defect, k, failed: want, skipped: skips });
    expect(want.length + skips.length > 0 || defect === "").toBe(true);
    expect(card.code).toBe(want.length > 0 ? 1 : 0);
  }
}, 60_000);

// Concurrently: a case waits on sockets and timers far more than on the CPU, so scorecards run
// side by side (NUMBERS_TEST_CONCURRENCY, eight in CI) take about as long as the slowest.
const full = test.concurrent.skipIf(!FULL);

for (const defect of ["", ...Object.keys(DEFECTS)]) {
  full(`every case against the fixture with defect ${defect || "(none)"}: it fails exactly its own`, async () => {
    const card = await scorecard(["--spawn", fixtureCommand(defect), "--timeout", (defect && DEFECTS[defect].fullTimeout) || "3", ...REPORTS]);
    expect(card.failedNames, evidence(card)).toEqual(defect ? DEFECTS[defect].fails : []);
    expect(named(card, "SKIP"), evidence(card)).toEqual(defect ? (DEFECTS[defect].skips ?? []) : []);
  }, 180_000);
}

for (const workers of [1, 2]) {
  full(`every case passes against our own server, --workers ${workers}`, async () => {
    const card = await scorecard(["--spawn", ourCommand(`--workers ${workers}`), ...REPORTS]);
    expect(card.cases.filter((c) => c.status !== "PASS")).toEqual([]);
  }, 180_000);
}

// The yardstick dies of SIGTERM; when the signal lands during its write of the log buffer, the
// kernel cuts that write short and the log ends in a torn line (docs/check.md). That one case
// may fail, and only with a torn line as its evidence.
full("the C yardstick (bench/reference.c) passes every case but, at times, whole lines after SIGTERM", async () => {
  const cc = Bun.which("cc");
  if (cc === null) throw new Error("no C compiler (cc) on the PATH");
  const binary = join(tempDir(), "reference");
  const built = Bun.spawnSync([cc, "-O2", "-o", binary, join(import.meta.dir, "../../bench/reference.c")]);
  expect(built.exitCode).toBe(0);
  const card = await scorecard(["--spawn", `${binary} --port {PORT}`, ...REPORTS]);
  const failed = card.cases.filter((c) => c.status !== "PASS");
  expect(failed.map((c) => c.name)).toEqual(failed.length === 0 ? [] : ["durability/sigterm-whole-lines"]);
  for (const c of failed) expect(c.evidence).toMatch(/exit SIGTERM after \d+ ms\): 1 torn or malformed, 0 never sent, 0 twice; .* has no LF at the end of the file/);
}, 180_000);
