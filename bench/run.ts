// One verified run on a fresh server, for the bench (main.ts) and its A/B (ab.ts): the
// driver's payloads sent once, timed from the first byte to the last close and a complete
// log, the server's CPU and peak RSS taken, the server stopped with `terminate`, and its log
// checked against the exact expected set; any shortfall or wrong log throws a BenchError.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describeReport, verifyLog, type NumberSet } from "../src/check/verify.ts";
import { LINE_BYTES } from "../src/core/protocol.ts";
import { cpuSince, threadTimes, totalSince, type CpuSplit } from "./cpu.ts";
import type { DriverSent } from "./driver.ts";
import { BenchError, makeDir, removeDir, type Driver, type Target } from "./procs.ts";
import { stopServer } from "./server.ts";

/** The peak resident set of a live process, in KiB (Linux). */
function peakRssKiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new BenchError(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * Sends the driver's payloads to a target and checks that every byte went through; returns
 * the milliseconds and the target's CPU seconds over the send.
 */
export async function timedSend(driver: Driver, target: Target, what: string): Promise<{ ms: number; cpu: number }> {
  const before = threadTimes(target.proc.pid);
  const sent = await driver.send(target.host, target.port);
  const cpu = totalSince(target.proc.pid, before);
  return { ms: checkedMs(sent, driver, target, what), cpu };
}

/** The run's milliseconds, once every byte is known to have gone through. */
function checkedMs(sent: DriverSent, driver: Driver, target: Target, what: string): number {
  if (sent.cutShort > 0 || sent.sentBytes !== driver.ready.bytes) {
    const state = target.proc.exitCode === null ? "" : ` and exited with code ${target.proc.exitCode}`;
    throw new BenchError(`${what} closed ${sent.cutShort} connection(s) early${state}: ` +
      `${sent.sentBytes} of ${driver.ready.bytes} bytes sent\n${target.stderr()}`);
  }
  return sent.elapsedMs;
}

export interface ServerRun {
  ms: number;
  rssKiB: number;
  /** CPU time of the server's threads from just before the first byte to the last close. */
  cpu: CpuSplit;
  /** The driver's CPU seconds over the same span: the load, on the same cores. */
  driverCpu: number;
  /** The share of the whole machine's CPU time that stood idle during the send. */
  idle: number;
}

export const REPORT_ARGS = ["--report-interval", "3600"];

/**
 * One run on a fresh server (ours, or the C yardstick: `what` names it) in a fresh
 * directory; throws unless its log is exactly right. With `then`, the verified log's
 * directory is handed to it before it is removed. With `around`, it is called as the send
 * begins, and what it returns once the log is complete, before the server is stopped (the
 * metrics bench scrapes meanwhile, then checks the counters against the run).
 */
export async function serverRun(
  driver: Driver,
  expected: NumberSet,
  what: string,
  start: (dir: string) => Promise<Target>,
  then?: (dir: string) => Promise<void>,
  around?: (server: Target) => () => Promise<void>,
): Promise<ServerRun> {
  const dir = makeDir("numbers-bench-");
  try {
    const server = await start(dir);
    try {
      const before = threadTimes(server.proc.pid);
      const driverBefore = threadTimes(driver.pid);
      const ticks = machineTicks();
      const finish = around?.(server);
      const sent = await driver.send(server.host, server.port);
      const logPath = join(dir, "numbers.log");
      const waitedMs = await logComplete(logPath, expected.size * LINE_BYTES, what, sent.lastCloseEpochMs);
      const cpu = cpuSince(server.proc.pid, before);
      const driverCpu = totalSince(driver.pid, driverBefore);
      const after = machineTicks();
      const idle = (after.idle - ticks.idle) / Math.max(1, after.total - ticks.total);
      const ms = checkedMs(sent, driver, server, what) + waitedMs;
      if (server.proc.exitCode !== null) {
        throw new BenchError(`${what} exited with code ${server.proc.exitCode} during the run:\n${server.stderr()}`);
      }
      const rssKiB = peakRssKiB(server.proc.pid);
      // What the log held when the clock stopped (untimed) must be what is verified after the
      // stop: a log of the right size then but rewritten later would otherwise be timed as done.
      const atClock = Bun.hash(readFileSync(logPath));
      await finish?.();
      await stopServer(server);
      const report = verifyLog(logPath, expected);
      if (!report.ok) throw new BenchError(`WRONG OUTPUT from ${what}: ${describeReport(report)}`);
      if (Bun.hash(readFileSync(logPath)) !== atClock) throw new BenchError(`WRONG OUTPUT from ${what}: its log changed after the clock stopped (the run is timed to a complete log)`);
      await then?.(dir);
      return { ms, rssKiB, cpu, driverCpu, idle };
    } finally {
      server.proc.kill("SIGKILL");
    }
  } finally {
    removeDir(dir);
  }
}

/** How long the bench waits for a log to be complete after the last close (run.ts). */
const LOG_WAIT_MS = 10_000;

/**
 * Waits until the log at `path` holds `bytes` (every expected number), checking each
 * millisecond; returns how long that took after the last close (`lastCloseEpochMs`, the
 * driver's clock), which the run's time then includes: a server that closes its clients
 * before their numbers are written is timed to its complete log, not to the close. Counted
 * from the last close itself, not from this look, which comes a message from the driver
 * later (before, a log completed in that hop was timed as done at the close); 0 when the
 * first look finds it complete, which both servers measured do unless one regresses. Past
 * LOG_WAIT_MS it is a BenchError.
 */
export async function logComplete(path: string, bytes: number, what: string, lastCloseEpochMs: number, waitMs = LOG_WAIT_MS): Promise<number> {
  const start = performance.now();
  for (let first = true; ; first = false) {
    const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    if (size >= bytes) return first ? 0 : Math.max(0, performance.timeOrigin + performance.now() - lastCloseEpochMs);
    if (performance.now() - start > waitMs) {
      throw new BenchError(`${what}'s log holds ${size} of ${bytes} bytes ${waitMs / 1000} s after the last close: numbers are missing`);
    }
    await Bun.sleep(1);
  }
}

/** Idle and total ticks of the whole machine so far (/proc/stat's first line). */
function machineTicks(): { idle: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}
