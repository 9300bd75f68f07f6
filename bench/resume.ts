// The benchmark's --resume measurement (the durability issue asks that --resume load 100
// million lines in seconds): a server started with --resume on the log a verified run left
// behind, timed from its spawn to its readiness line. Nothing is subtracted: the time
// includes the process start-up, and the log, just written, is read from the page cache.
// The run is checked too: the first report must count every line of the log as already
// there, and after `terminate` the log must be as long as before.

import { statSync } from "node:fs";
import { join } from "node:path";
import { LINE_BYTES } from "../src/core/protocol.ts";
import { formatReport } from "../src/server/report.ts";
import { BenchError, lines } from "./procs.ts";
import { startServer, stopServer } from "./server.ts";

export interface ResumeRun {
  lines: number;
  bytes: number;
  /** From the spawn to the readiness line. */
  ms: number;
  /** The --workers value the server was started with, if any. */
  workers?: number;
}

/** Resumes a server from `dir`/numbers.log, which a verified run left with `logLines` lines. */
export async function resumeRun(dir: string, logLines: number, workers: number | undefined): Promise<ResumeRun> {
  const log = join(dir, "numbers.log");
  const bytes = statSync(log).size;
  if (bytes !== logLines * LINE_BYTES) throw new BenchError(`numbers.log has ${bytes} bytes, not ${logLines} lines, before --resume`);
  // A short report interval, so that the first report (the check below waits for it) comes soon.
  const server = await startServer(dir, workers, ["--resume", "--report-interval", "0.1"], "pipe");
  try {
    const first = await lines(server.proc.stdout as ReadableStream<Uint8Array>).next();
    const want = formatReport({ unique: 0, duplicates: 0, total: logLines });
    if (first.value !== want) {
      throw new BenchError(`the resumed server's first report is ${JSON.stringify(first.value ?? "(none)")}, ` +
        `expected ${JSON.stringify(want)}\n${server.stderr()}`);
    }
    await stopServer(server);
    const after = statSync(log).size;
    if (after !== bytes) throw new BenchError(`--resume with no client sending changed numbers.log from ${bytes} to ${after} bytes`);
    return { lines: logLines, bytes, ms: server.readyMs, workers };
  } finally {
    server.proc.kill("SIGKILL");
  }
}

export function resumeText(r: ResumeRun): string {
  const s = r.ms / 1000;
  const flags = r.workers === undefined ? "" : ` --workers ${r.workers}`;
  return `resume: loaded ${r.lines} lines (${(r.bytes / 1e6).toFixed(1)} MB) in ${s.toFixed(3)} s ` +
    `(${(r.lines / s / 1e6).toFixed(1)} M lines/s): \`serve --resume${flags}\` from spawn to readiness line, ` +
    `process start-up included, last random run's log in the page cache`;
}
