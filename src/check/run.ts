// The check command's runner: picks the cases (-k, --throughput), runs them in order (with
// --spawn, each group on a fresh server stopped with `terminate`, then SIGTERM, then
// SIGKILL; its log checks run on the log it left), and prints one line per case and the
// summary, or the same as one JSON document (--json). Exit 0 only when nothing failed.

import { ALL_CASES } from "./cases/index.ts";
import type { CheckConfig } from "./checkconfig.ts";
import { UsageError } from "../options.ts";
import { address } from "../address.ts";
import { printResult } from "../output/print.ts";
import { canConnect, Peer } from "./peer.ts";
import { pass, quiet, REPORT_SECONDS, stopWithTerminate, type Case, type Context, type LogCheck, type Verdict } from "./scenario.ts";
import { StartError, Target } from "./target.ts";

export interface Result {
  name: string;
  status: "PASS" | "FAIL" | "SKIP";
  evidence: string;
}

/** The cases this run selects, in order. */
export function selectCases(config: CheckConfig): Case[] {
  return ALL_CASES.filter((c) => (c.optional ? c.optional(config) : true) && c.name.includes(config.only));
}

const live = new Set<Target>();

/** Ends every implementation still running (on a failure, or when the checker is stopped). */
async function disposeAll(grace: number) {
  await Promise.all([...live].map((t) => t.dispose(grace)));
  live.clear();
}

async function start(config: CheckConfig, options: Parameters<Context["start"]>[0] = {}): Promise<Target> {
  return Target.start(config, (target) => live.add(target), options.reportSeconds, options.prepare);
}

function context(config: CheckConfig, target?: Target): Context {
  const host = target?.host ?? config.host;
  const port = target?.port ?? config.port;
  return {
    config, host, port, target,
    timeoutMs: config.timeout * 1000,
    settleMs: config.settle * 1000,
    promptMs: config.prompt * 1000,
    connect: () => Peer.connect(host, port, config.timeout * 1000),
    start: (options) => start(config, options),
  };
}

/**
 * Runs a case; a case that throws, or outlasts its budget (every wait in it is bounded), fails.
 * The budget leaves out the time its starts take: each has its own bound (--start-timeout),
 * which may be longer than the budget itself.
 */
export async function attempt(c: Case, ctx: Context, budget = Math.max(60_000, 20 * ctx.timeoutMs)): Promise<Verdict | LogCheck> {
  const began = performance.now();
  let starting = 0; // ms spent in starts that have ended
  let startingSince: number | undefined; // when the start under way began
  const spent = () => performance.now() - began - starting - (startingSince === undefined ? 0 : performance.now() - startingSince);
  const timed: Context = {
    ...ctx,
    start: async (options) => {
      startingSince = performance.now();
      try {
        return await ctx.start(options);
      } finally {
        starting += performance.now() - startingSince;
        startingSince = undefined;
      }
    },
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overdue = new Promise<Verdict>((r) => {
    const check = () => {
      const left = budget - spent();
      if (left > 0) timer = setTimeout(check, Math.max(left, 50)); // not a spin while a start goes on
      else r({ ok: false, evidence: `the case had not finished after ${budget} ms (its starts not counted)` });
    };
    timer = setTimeout(check, budget);
  });
  try {
    return await Promise.race([c.run(timed), overdue]);
  } catch (err) {
    // An implementation that does not start fails the run as a whole (runCheck), whichever
    // case started it.
    if (err instanceof StartError) throw err;
    return { ok: false, evidence: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const asResult = (c: Case, v: Verdict): Result => ({ name: c.name, status: v.skipped ? "SKIP" : v.ok ? "PASS" : "FAIL", evidence: v.evidence });

/** Runs `group` (cases sharing one server, or one case that controls its own). */
async function runGroup(group: Case[], config: CheckConfig, emit: (r: Result) => void): Promise<void> {
  const spawn = config.spawn !== "";
  let target: Target | undefined;
  if (spawn && !group[0].controls) target = await start(config, { reportSeconds: group[0].shortReports ? REPORT_SECONDS : undefined });
  const pending: [Case, Verdict | LogCheck][] = [];
  for (const c of group) {
    pending.push([c, await attempt(c, context(config, target))]);
    if (!spawn) await quiet(100); // lets an external server see the last case's clients go
  }
  let log = new Uint8Array();
  let stdout: readonly string[] = [];
  let stopNote = "";
  if (target) {
    stopNote = await stopWithTerminate(target, config.timeout * 1000);
    log = target.readLog();
    stdout = await target.stdout.all(config.timeout * 1000);
  }
  await disposeAll(2000);
  for (const [c, v] of pending) {
    if (typeof v !== "function") emit(asResult(c, v));
    else if (!spawn) emit(asResult(c, pass("log not checked: no --spawn")));
    else {
      const checked = v(log, stdout);
      emit(asResult(c, checked.ok || stopNote === "" ? checked : { ok: false, evidence: `${checked.evidence} (${stopNote})` }));
    }
  }
}

/** Consecutive cases of one group; a case that controls its server, or has no group, is alone. */
function groups(cases: Case[]): Case[][] {
  const out: Case[][] = [];
  for (const c of cases) {
    const last = out.at(-1);
    if (last && c.group && !c.controls && last[0].group === c.group && !last[0].controls) last.push(c);
    else out.push([c]);
  }
  return out;
}

/** `FAIL  name  evidence`, or `PASS  name  (note)`. */
function line(r: Result): string {
  if (r.evidence === "") return `${r.status}  ${r.name}\n`;
  return `${r.status}  ${r.name}  ${r.status === "FAIL" ? r.evidence : `(${r.evidence})`}\n`;
}

export async function runCheck(config: CheckConfig): Promise<number> {
  const cases = selectCases(config);
  // The cases -k matches (config.ts) may all be ones that only --throughput turns on.
  if (cases.length === 0) throw new UsageError(`-k '${config.only}' matches only cases that --throughput turns on`);
  if (config.list) {
    // With --json, the list as one JSON document too: a script that asked for JSON got text.
    if (config.json) printResult(`${JSON.stringify({ cases: cases.map((c) => ({ name: c.name, needs: c.needs })) }, null, 2)}\n`);
    else for (const c of cases) printResult(`${c.name}  [${c.needs}]\n`);
    return 0;
  }
  // Each implementation runs in a process group of its own, which the terminal's signals do
  // not reach: the checker stops them before it goes (a closed terminal's SIGHUP too).
  const stopChecker = (code: number) => () => void disposeAll(500).then(() => process.exit(code));
  process.on("SIGINT", stopChecker(130));
  process.on("SIGTERM", stopChecker(143));
  process.on("SIGHUP", stopChecker(129));
  const spawn = config.spawn !== "";
  const results: Result[] = [];
  const emit = (r: Result) => {
    results.push(r);
    if (!config.json) printResult(line(r));
  };
  // A server that is not there would fail every socket case the same way: say it once.
  if (!spawn && !(await canConnect(config.host, config.port, config.timeout * 1000, config.timeout * 1000))) {
    throw new Error(`nothing accepts connections on ${address(config.host, config.port)} (start the server, or give --spawn CMD)`);
  }
  let started = false;
  for (const group of groups(cases)) {
    const runnable = spawn ? group : group.filter((c) => c.needs === "socket");
    for (const c of group) if (!runnable.includes(c)) emit({ name: c.name, status: "SKIP", evidence: c.why ?? "needs --spawn" });
    if (runnable.length === 0) continue;
    try {
      await runGroup(runnable, config, emit);
      started = true;
    } catch (err) {
      await disposeAll(2000);
      // An implementation that never starts would fail every case the same way: say it once.
      if (err instanceof StartError && !started) throw err;
      for (const c of runnable) emit({ name: c.name, status: "FAIL", evidence: (err as Error).message });
    }
  }
  const count = (s: Result["status"]) => results.filter((r) => r.status === s).length;
  const summary = { passed: count("PASS"), failed: count("FAIL"), skipped: count("SKIP") };
  if (config.json) {
    const target = spawn ? { spawn: config.spawn } : { host: config.host, port: config.port };
    printResult(`${JSON.stringify({ target, ...summary, cases: results }, null, 2)}\n`);
  } else printResult(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped\n`);
  return summary.failed === 0 ? 0 : 1;
}
