// A disk that fills mid-run, on a real 1 MiB tmpfs: the server exits 1 with one line naming
// the cause and leaves only whole lines in the log, however the last write was cut; once
// there is room again, --resume continues the same log without a repeat.

import { describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { encodeLines } from "../../src/core/protocol.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { logNumbers, sorted } from "../support/logs.ts";
import { connect } from "../support/peer.ts";
import { indexOf, sequence } from "../support/sequence.ts";
import { outcome, serverPool } from "../support/servers.ts";
import { Lines, serverCommand } from "../support/server.ts";
import { canMount, cannotMountReason, mountTmpfs, resizeTmpfs, unmount } from "../support/tmpfs.ts";

const MiB = 1 << 20;
/** Five clients send 50,000 distinct numbers each: 2.5 MB, well over the 1 MiB that fits. */
const CLIENTS = 5;
const PER_CLIENT = 50_000;
const FIRST_RUN = CLIENTS * PER_CLIENT;
/** After the restart each client sends its numbers again and 10,000 new ones. */
const NEW_PER_CLIENT = 10_000;
const ALL = FIRST_RUN + CLIENTS * NEW_PER_CLIENT;

/** Each client's lines: consecutive slices of the sequence from `first` on. */
function payloads(first: number, perClient: number): Uint8Array[] {
  return Array.from({ length: CLIENTS }, (_, c) => encodeLines(sequence(first + c * perClient, perClient)));
}

/** Expects the log to be whole lines of distinct numbers, each one of the first `sent` of the sequence. */
function expectWholeDistinctLines(path: string, sent: number): Uint32Array {
  expect(statSync(path).size % 10).toBe(0);
  const values = logNumbers(path);
  const indices = sorted(Array.from(values, indexOf));
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] >= sent) throw new Error(`${path} holds ${values[i]}, a number never sent`);
    if (i > 0 && indices[i] === indices[i - 1]) throw new Error(`${path} holds a number twice`);
  }
  return values;
}

describe.skipIf(!canMount)(`a log on a 1 MiB tmpfs (${canMount ? "mounted as root" : cannotMountReason})`, () => {
  const servers = serverPool();

  /** Fills the 1 MiB tmpfs at `dir` with one server, then resumes on it with room again. */
  async function fillAndResume(dir: string, workers: number) {
    const log = join(dir, "numbers.log");
    const server = await servers.start(["--workers", String(workers)], { dir });
    await sendPayloads("127.0.0.1", server.port, payloads(0, PER_CLIENT));
    const result = await outcome(server);
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([`listening on 127.0.0.1:${server.port}`, "numbers-server: cannot write log file 'numbers.log': no space left on device"]);
    // The disk was really filled: less than a page of it is left.
    expect(statSync(log).size).toBeGreaterThan(MiB - 4096);
    expectWholeDistinctLines(log, FIRST_RUN);
    const kept = readFileSync(log);

    // Room again: the numbers lost with the failure are sent again, among all the old
    // ones, and new ones after them. The log must then hold each number sent exactly once.
    resizeTmpfs(dir, "4m");
    const resumed = await servers.start(["--workers", String(workers), "--resume"], { dir });
    const fresh = payloads(FIRST_RUN, NEW_PER_CLIENT);
    await sendPayloads("127.0.0.1", resumed.port, payloads(0, PER_CLIENT).map((old, c) => Buffer.concat([old, fresh[c]])));
    (await connect(resumed.port)).write("terminate\n");
    const final = await outcome(resumed);
    expect(final.code).toBe(0);
    expect(final.stderr).toEqual([`listening on 127.0.0.1:${resumed.port}`]);
    expect(expectWholeDistinctLines(log, ALL).length).toBe(ALL);
    // The lines kept from the first run are untouched, in their place.
    expect(readFileSync(log).subarray(0, kept.length).equals(kept)).toBe(true);
  }

  // The report lines (2 KiB a second here) put the numbers off the 10-byte grid: before
  // 2026-12-07 the cut after the failed write went by that grid and left part of a line.
  test("standard output appended to the log itself: the disk fills, exit 1, the log ends in a whole line", async () => {
    const dir = mountTmpfs("1m");
    try {
      const shell = 'exec "$@" >> numbers.log';
      const proc = Bun.spawn(["sh", "-c", shell, "sh", ...serverCommand(), "serve", "--port", "0", "--workers", "1", "--report-interval", "0.005"], {
        cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "pipe",
      });
      const stderr = new Lines(proc.stderr);
      const port = Number(/:(\d+)$/.exec((await stderr.next())!)![1]);
      await sendPayloads("127.0.0.1", port, payloads(0, PER_CLIENT)).catch(() => {});
      expect(await proc.exited).toBe(1);
      while ((await stderr.next()) !== null);
      // A report line that meets the full disk first closes standard output, which is said too.
      const said = stderr.all.slice(1).filter((l) => !l.startsWith("numbers-server: cannot write to standard output (ENOSPC)"));
      expect(said).toEqual([
        "warning: standard output is the log 'numbers.log' itself: report lines land between its numbers",
        "numbers-server: cannot write log file 'numbers.log': no space left on device",
      ]);
      const text = readFileSync(join(dir, "numbers.log"), "latin1");
      expect(text.length).toBeGreaterThan(MiB - 4096);
      expect(text.endsWith("\n")).toBe(true);
      const lines = text.slice(0, -1).split("\n");
      const bad = lines.filter((l) => !/^\d{9}$/.test(l) && !/^Received \d+ unique numbers, \d+ duplicates\. Unique total: \d+$/.test(l));
      expect(bad).toEqual([]);
      expect(lines.some((l) => l.startsWith("Received"))).toBe(true);
    } finally {
      unmount(dir);
    }
  }, 30_000);

  test.each([1, 2])(
    "--workers %d: the disk fills, exit 1 with one error line, whole lines only; --resume continues after space is freed",
    async (workers) => {
      const dir = mountTmpfs("1m");
      // Unmounted by the test itself: the two run at once (bunfig.toml), and an afterEach
      // hook, which cannot tell which test ended, could unmount the other's disk.
      try {
        await fillAndResume(dir, workers);
      } finally {
        unmount(dir);
      }
    },
    30_000,
  );
});
