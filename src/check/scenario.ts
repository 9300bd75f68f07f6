// What a case is and what it may use: its name, whether it needs nothing but the socket or
// a spawned implementation, the server it runs on (a group of cases shares one fresh server;
// a case that controls the server starts its own), and the helpers cases share: fresh
// numbers, a log's lines, and the verdict with its evidence.

import type { CheckConfig } from "./checkconfig.ts";
import { Peer } from "./peer.ts";
import type { Target } from "./target.ts";

export interface Verdict {
  ok: boolean;
  /** The case could not test what it is about (ok: it is not a failure). */
  skipped?: true;
  /** For a failure: what was sent and what was seen. For a pass: an optional note. For a skip: why. */
  evidence: string;
}

export const pass = (note = ""): Verdict => ({ ok: true, evidence: note });
export const fail = (evidence: string): Verdict => ({ ok: false, evidence });
export const skip = (why: string): Verdict => ({ ok: true, skipped: true, evidence: why });

/**
 * A check once the case's server has stopped (only with --spawn): of its log, and of every
 * line it wrote on stdout, to its exit.
 */
export type LogCheck = (log: Uint8Array, stdout: readonly string[]) => Verdict;

export interface Context {
  config: CheckConfig;
  host: string;
  port: number;
  /** The spawned implementation the case runs on (shared cases, with --spawn). */
  target?: Target;
  timeoutMs: number;
  settleMs: number;
  /** What the job asks "at once" or "as fast as possible" comes within this (--prompt). */
  promptMs: number;
  connect(): Promise<Peer>;
  /** Starts a fresh implementation (cases with `controls`); the runner stops it after the case. */
  start(options?: { reportSeconds?: number; prepare?: (dir: string, log: string) => void }): Promise<Target>;
}

export interface Case {
  /** area/what, e.g. lines/invalid/crlf. */
  name: string;
  /** "socket" runs against any server; "spawn" needs the log, stdout or the process. */
  needs: "socket" | "spawn";
  /** Why a "spawn" case cannot run without --spawn. */
  why?: string;
  /** Cases of one group share one fresh server (spawn); a connection case has its own. */
  group?: string;
  /** The case starts and stops its servers itself through ctx.start(). */
  controls?: true;
  /** Its group's server is started with --spawn-report-interval (reports every REPORT_SECONDS). */
  shortReports?: true;
  /** Runs only when asked for (--throughput). */
  optional?: (config: CheckConfig) => boolean;
  /** A verdict now, or a check of the log once the group's server has stopped. */
  run(ctx: Context): Promise<Verdict | LogCheck>;
}

/** The report cadence the checker asks for when the implementation can be told (--spawn-report-interval). */
export const REPORT_SECONDS = 1;
/** The job's cadence, which an implementation that cannot be told keeps. */
export const JOB_REPORT_SECONDS = 10;

export const reportSeconds = (config: CheckConfig) => (config.spawnReportInterval !== "" ? REPORT_SECONDS : JOB_REPORT_SECONDS);

export const REPORT = /^Received (\d+) unique numbers, (\d+) duplicates\. Unique total: (\d+)$/;

let next = 100_000_000 + Math.floor(Math.random() * 100_000_000);

/** `n` numbers no other case of this run sends, as 9-digit strings (100000000 and up). */
export function fresh(n: number): string[] {
  return Array.from({ length: n }, () => String(next++ % 900_000_000 + 100_000_000));
}

export const lines = (numbers: string[]) => numbers.map((n) => `${n}\n`).join("");

/** A log's lines split at LF; `rest` is bytes after the last LF (a torn line). */
export function logLines(log: Uint8Array): { lines: string[]; rest: string } {
  const text = Buffer.from(log).toString("latin1");
  const parts = text.split("\n");
  const rest = parts.pop()!;
  return { lines: parts, rest };
}

/** The log holds each of `present` exactly once and none of `absent`. */
export function expectLog(present: string[], absent: string[] = []): LogCheck {
  return (log) => {
    const counts = new Map<string, number>();
    for (const l of logLines(log).lines) counts.set(l, (counts.get(l) ?? 0) + 1);
    const missing = present.filter((n) => !counts.has(n));
    const twice = present.filter((n) => (counts.get(n) ?? 0) > 1);
    const extra = absent.filter((n) => counts.has(n));
    const problems = [
      missing.length ? `missing from the log: ${show(missing)}` : "",
      twice.length ? `logged more than once: ${show(twice)}` : "",
      extra.length ? `in the log but must not count: ${show(extra)}` : "",
    ].filter((s) => s !== "");
    return problems.length === 0 ? pass() : fail(problems.join("; "));
  };
}

export function show(items: string[], max = 3): string {
  const head = items.slice(0, max).join(", ");
  return items.length > max ? `${head} and ${items.length - max} more` : head;
}

/** Bytes as a short JSON string for the evidence. */
export function quote(bytes: string, max = 40): string {
  const s = JSON.stringify(bytes.length > max ? bytes.slice(0, max) : bytes);
  return bytes.length > max ? `${s}... (${bytes.length} bytes)` : s;
}

/** Waits `ms`: only where silence is the thing observed (a client kept open), or between writes that must arrive apart. */
export const quiet = (ms: number) => Bun.sleep(ms);

/** How a peer ended, for the evidence. */
export const how = (p: Peer) => (p.ending ? `closed (${p.ending.how})` : "still open");

/**
 * Stops a server the way any client may, with a whole `terminate` line, then makes sure it
 * is gone (SIGTERM, SIGKILL). Returns "" or what went wrong, for the evidence.
 *
 * A case's last clients may still hold the server's slots when it ends (the server learns
 * of a reset on its own schedule), so the terminate client can be refused as a sixth: while
 * the server runs and the terminate client was closed, it tries again until `timeoutMs`.
 */
export async function stopWithTerminate(target: Target, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let note = "";
  for (;;) {
    const left = deadline - performance.now();
    const sent = await sendTerminate(target, Math.max(1, left));
    if (sent.exited) break;
    if (performance.now() >= deadline) {
      note = sent.error ? `terminate could not connect: ${sent.error}` : `it had not exited ${timeoutMs} ms after terminate`;
      break;
    }
  }
  await target.stop(2000);
  return note;
}

/** One try: connects, sends `terminate`, and waits until the server exits or drops this client. */
async function sendTerminate(target: Target, ms: number): Promise<{ exited: boolean; error?: string }> {
  let peer: Peer;
  try {
    peer = await Peer.connect(target.host, target.port, ms);
  } catch (err) {
    // Refused: the server may be gone already, or between slots; wait for either a little.
    const exited = (await target.exit(Math.min(ms, 50))) !== null;
    return { exited, error: (err as Error).message };
  }
  peer.write("terminate\n");
  await Promise.race([target.exit(ms), peer.closedWithin(ms)]);
  // A server that exits closes this client first: give its exit a moment before trying again.
  const exited = (await target.exit(peer.ending && target.running ? Math.min(ms, 200) : 0)) !== null;
  peer.reset();
  return { exited };
}
