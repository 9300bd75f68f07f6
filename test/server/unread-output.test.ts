// A stdout or stderr that nobody reads never stalls the server: it keeps reading, logging
// and shutting down; it drops the oldest reports once (and says so once); and a reader that
// catches up gets whole report lines whose Unique total is true.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { expectLogged } from "../support/client.ts";
import { StuckPipe } from "../support/fifo.ts";
import { waitForSize } from "../support/logs.ts";
import { connect } from "../support/peer.ts";
import { REPORT } from "../support/reports.ts";
import { Lines, serverCommand, tempDir } from "../support/server.ts";

const DROPPING =
  "numbers-server: standard output is not being read; dropping the oldest reports (each report printed still carries the true total)";
/**
 * The pipes are shrunk to 4 KiB: what is tested is a full pipe, not a large one, and 4 KiB
 * of pipe and the 16 KiB backlog fill at a report per millisecond in well under a second
 * (64 KiB took a few seconds).
 */
const PIPE_BYTES = 4096;
/** Still generous, for a loaded machine. */
const SLOW = 60_000;

/** Spawns `numbers-server serve --port 0 <args>` with stdout and stderr as given. */
function spawn(args: string[], stdout: number | "pipe", stderr: number | "pipe") {
  const dir = tempDir();
  const proc = Bun.spawn([...serverCommand(), "serve", "--port", "0", ...args], { cwd: dir, stdin: "ignore", stdout, stderr });
  return { proc, log: join(dir, "numbers.log") };
}

const portOf = (line: string | null) => Number(/^listening on 127\.0\.0\.1:(\d+)$/.exec(line ?? "")?.[1]);

/** Starts a server whose stdout nobody reads, and waits until it says it is dropping reports. */
async function startUnread() {
  const out = new StuckPipe(undefined, PIPE_BYTES);
  const { proc, log } = spawn(["--report-interval", "0.001"], out.writeEnd, "pipe");
  out.closeWriteEnd();
  const stderr = new Lines(proc.stderr as ReadableStream<Uint8Array>);
  const ready = await stderr.next();
  const port = portOf(ready);
  expect(port).toBeGreaterThan(0);
  expect(await stderr.next()).toBe(DROPPING);
  // Numbers sent now are read and logged (a report flushes the log) although stdout is stuck.
  const peer = await connect(port);
  peer.write("123456789\n987654321\n123456789\n");
  await waitForSize(log, 20, 10_000);
  return { out, proc, log, stderr, ready, peer };
}

test("stdout never read: numbers are logged, and a late reader gets whole reports with the true total", async () => {
  const { out, proc, log, stderr, ready, peer } = await startUnread();
  try {
    const stdout = out.reader();
    let previous = 0;
    for (;;) {
      const line = await stdout.next();
      const m = REPORT.exec(line ?? "");
      if (!m) throw new Error(`expected a report line, got ${JSON.stringify(line)}`);
      const total = Number(m[3]);
      expect(total).toBeGreaterThanOrEqual(previous);
      previous = total;
      // Reports about 0.1 ms apart were dropped in between, but the total is never wrong.
      if (total === 2) break;
      expect(total).toBe(0);
    }
    peer.write("terminate\n");
    expect(await proc.exited).toBe(0);
    expect(await stderr.next()).toBeNull();
    expect(stderr.all).toEqual([ready, DROPPING]);
    expectLogged(log, [123456789, 987654321]);
  } finally {
    proc.kill();
  }
}, SLOW);

test.each(["terminate", "SIGTERM"] as const)("stdout never read: %s still ends the server with exit 0", async (how) => {
  const { out, proc, log, stderr, ready, peer } = await startUnread();
  try {
    if (how === "terminate") peer.write("terminate\n");
    else proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await stderr.next()).toBeNull();
    expect(stderr.all).toEqual([ready, DROPPING]);
    expectLogged(log, [123456789, 987654321]);
  } finally {
    out.closeHeldEnd();
    proc.kill();
  }
}, SLOW);

test("stderr never read: the server runs without its readiness line, which comes once stderr is read", async () => {
  const err = new StuckPipe(undefined, PIPE_BYTES);
  err.fill("filler\n");
  const { proc, log } = spawn(["--report-interval", "0.05"], "pipe", err.writeEnd);
  err.closeWriteEnd();
  try {
    // Reports come although the readiness line before them could not be written.
    const stdout = new Lines(proc.stdout as ReadableStream<Uint8Array>);
    for (let i = 0; i < 2; i++) expect(await stdout.next()).toMatch(REPORT);
    const stderr = err.reader();
    let line;
    while ((line = await stderr.next()) === "filler");
    const port = portOf(line);
    expect(port).toBeGreaterThan(0);
    const peer = await connect(port);
    peer.write("000000007\nterminate\n");
    expect(await proc.exited).toBe(0);
    expect(await stderr.next()).toBeNull();
    expectLogged(log, [7]);
  } finally {
    err.closeHeldEnd();
    proc.kill();
  }
}, SLOW);
