// The benchmark's load process, separate from the orchestrator so that neither its
// generating nor the orchestrator's checking shares a core with a measured send.
// It builds every connection's payload first, prints a `ready` JSON line, then for each
// `send HOST PORT` line on stdin streams all payloads at once (one connection each, see
// sendPayloads) and prints the timing as a JSON line. It exits at the end of stdin.
//
//   bun bench/driver.ts --workload random|seq|dup --count N

import { parseArgs } from "node:util";
import { encodeLines } from "../src/core/protocol.ts";
import { sendPayloads } from "../src/client/sender.ts";
import { CONNECTIONS, isWorkload, workloadNumbers } from "../src/client/workloads.ts";

export interface DriverReady {
  ready: true;
  bytes: number;
  generateMs: number;
}

export interface DriverSent {
  /** From the first byte written to the last connection closed by the server. */
  elapsedMs: number;
  sentBytes: number;
  /** Connections the server closed before they had sent everything. */
  cutShort: number;
  /** When the last connection was closed, in ms since the epoch (performance.timeOrigin + now): another process's clock can compare it. */
  lastCloseEpochMs: number;
}

export type DriverError = { error: string };

function emit(message: DriverReady | DriverSent | DriverError) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

/**
 * How long a send may go without a byte taken or a connection closed before it is given up:
 * a server that stops reading, or never closes, would otherwise hold the bench for good.
 */
export const STALL_MS = 10_000;

/** sendPayloads, given up (every connection reset) once it has made no progress for STALL_MS. */
export async function sendWatched(host: string, port: number, payloads: Uint8Array[], stallMs = STALL_MS) {
  const total = payloads.reduce((sum, p) => sum + p.length, 0);
  const progress = { sentBytes: 0, closed: 0 };
  const abort = new AbortController();
  let seen = -1;
  let since = performance.now();
  const watch = setInterval(() => {
    const now = progress.sentBytes + progress.closed;
    if (now !== seen) {
      seen = now;
      since = performance.now();
    } else if (performance.now() - since >= stallMs) {
      abort.abort(new Error(`the server made no progress for ${stallMs / 1000} s: ${progress.sentBytes} of ${total} bytes taken, ${progress.closed} of ${payloads.length} connections closed`));
    }
  }, Math.min(1000, stallMs / 4));
  try {
    return await sendPayloads(host, port, payloads, progress, undefined, abort.signal);
  } finally {
    clearInterval(watch);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { workload: { type: "string" }, count: { type: "string" } }, strict: true });
  const workload = values.workload ?? "";
  const count = Number(values.count);
  if (!isWorkload(workload) || !Number.isSafeInteger(count) || count < 0) {
    process.stderr.write(`driver: bad arguments: --workload ${workload} --count ${values.count}\n`);
    process.exit(2);
  }

  const started = performance.now();
  const payloads = Array.from({ length: CONNECTIONS }, (_, c) => encodeLines(workloadNumbers(workload, count, c)));
  // Collect the generator's garbage now rather than during a measured send.
  Bun.gc(true);
  const bytes = payloads.reduce((sum, p) => sum + p.length, 0);
  emit({ ready: true, bytes, generateMs: performance.now() - started });

  for await (const line of console) {
    if (line === "") continue;
    const m = /^send (\S+) (\d+)$/.exec(line);
    if (!m) {
      emit({ error: `unknown command ${JSON.stringify(line)}` });
      continue;
    }
    try {
      const r = await sendWatched(m[1], Number(m[2]), payloads);
      emit({ elapsedMs: r.lastCloseAt - r.firstByteAt, sentBytes: r.sentBytes, cutShort: r.cutShort, lastCloseEpochMs: performance.timeOrigin + r.lastCloseAt });
    } catch (err) {
      emit({ error: (err as Error).message });
    }
  }
}
