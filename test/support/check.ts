// Running the check command in tests: the real executable (source, or NUMBERS_SERVER_BIN),
// its JSON scorecard parsed, and the spawn commands of the fixture server and of ours.

import { resolve } from "node:path";
import { Lines, serverCommand } from "./server.ts";

export const FIXTURE = resolve(import.meta.dir, "../fixtures/server.ts");

/** A --spawn command for the fixture server with `defect` ("" = none). */
export function fixtureCommand(defect: string): string {
  return `${process.execPath} ${FIXTURE} --port {PORT}${defect ? ` --defect ${defect}` : ""}`;
}

/** A --spawn command for our own server (source or binary) with `args`. */
export function ourCommand(args: string): string {
  return `${serverCommand().join(" ")} serve --port {PORT} ${args}`;
}

export interface Scorecard {
  passed: number;
  failed: number;
  skipped: number;
  cases: { name: string; status: "PASS" | "FAIL" | "SKIP"; evidence: string }[];
}

export interface CheckRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `numbers-server check <args>` to its end. */
export async function check(args: string[], env: Record<string, string> = {}): Promise<CheckRun> {
  const proc = Bun.spawn([...serverCommand(), "check", ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  // Through Lines, which ends a child's output once it has exited: Bun now and then never
  // reports the end of an output that closed with nothing queued (docs/testing.md), and a
  // check that printed nothing on stdout then left its test waiting to its timeout (CI, and a
  // review, each once on 2026-12-07).
  const whole = async (lines: Lines) => {
    while ((await lines.next()) !== null);
    return lines.text;
  };
  const [stdout, stderr, code] = await Promise.all([whole(new Lines(proc.stdout, proc.exited)), whole(new Lines(proc.stderr, proc.exited)), proc.exited]);
  return { code, stdout, stderr };
}

/** Runs check --json with `args`; returns the scorecard and the names of the failed cases. */
export async function scorecard(args: string[]): Promise<Scorecard & { code: number; failedNames: string[] }> {
  const run = await check(["--json", ...args]);
  let card: Scorecard;
  try {
    card = JSON.parse(run.stdout);
  } catch {
    throw new Error(`check printed no JSON (exit ${run.code}): ${run.stdout} ${run.stderr}`);
  }
  return { ...card, code: run.code, failedNames: card.cases.filter((c) => c.status === "FAIL").map((c) => c.name) };
}
