// The server with --resume (or NUMBERS_RESUME=1) continuing an existing log without a
// duplicate, and refusing a log it cannot resume from. loadLog itself is in
// test/unit/resume.test.ts.

import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeLines } from "../../src/core/protocol.ts";
import { logNumbers, sorted } from "../support/logs.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { tempDir } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const lines = (values: number[]) => text(encodeLines(Uint32Array.from(values)));

/** Whether this user on this file system may set a file append-only (root, on ext4 or tmpfs). */
function canChattr(): boolean {
  const probe = join(tempDir(), "probe");
  writeFileSync(probe, "");
  const set = Bun.spawnSync(["chattr", "+a", probe], { stderr: "ignore" }).exitCode === 0;
  if (set) Bun.spawnSync(["chattr", "-a", probe]);
  return set;
}

describe("serve --resume", () => {
  const servers = serverPool();

  test("continues a log with a torn tail: old numbers are duplicates, new ones appended, the tail cut", async () => {
    const dir = tempDir();
    const old = Array.from({ length: 100 }, (_, i) => 1000 * i + 7);
    const kept = lines(old);
    writeFileSync(join(dir, "numbers.log"), kept + "12345");
    // Three threads, so the loaded numbers must be seen by the worker threads too.
    const server = await servers.start(["--resume", "--workers", "3", "--report-interval", "0.2"], { dir });
    // The torn tail is cut before the server takes its first client.
    expect(readFileSync(server.log, "latin1")).toBe(kept);

    // Each of 5 clients sends 50 old numbers and 101 new ones (one of them what the torn
    // tail would have said), the new ones twice; all that 14 times in one write of 35 KB,
    // more than HANDOFF_BYTES (src/server/dispatch.ts), so the workers count lines too.
    const fresh = [...Array.from({ length: 100 }, (_, i) => 1000 * i + 8), 123_450_000];
    const peers = await Promise.all([1, 2, 3, 4, 5].map(() => connect(server.port)));
    for (const peer of peers) {
      peer.write(lines([...old.slice(0, 50), ...fresh, ...fresh]).repeat(14));
      peer.end();
    }
    await Promise.all(peers.map((peer) => peer.closed));
    const sent = 5 * 14 * (50 + 2 * fresh.length);
    // Reports may split the lines between them; they are read until they account for all.
    const sums = await reportsUntil(server.stdout, (s) => s.unique + s.duplicates >= sent, old.length);
    expect(sums).toEqual({ unique: fresh.length, duplicates: sent - fresh.length, total: old.length + fresh.length });

    const stopper = await connect(server.port);
    stopper.write("terminate\n");
    expect(await server.exited).toBe(0);
    const log = logNumbers(server.log);
    expect(log.subarray(0, old.length)).toEqual(Uint32Array.from(old));
    expect(sorted(log.subarray(old.length))).toEqual(sorted(fresh));
  });

  test("with no log yet, --resume starts from nothing and creates it", async () => {
    const server = await servers.start(["--resume"]);
    expect(readFileSync(server.log, "latin1")).toBe("");
    const peer = await connect(server.port);
    peer.write(lines([3]) + "terminate\n");
    expect(await server.exited).toBe(0);
    expect(logNumbers(server.log)).toEqual(Uint32Array.from([3]));
  });

  test("NUMBERS_RESUME=1 does the same as --resume", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "numbers.log"), lines([5, 6]));
    const server = await servers.start([], { dir, env: { NUMBERS_RESUME: "1" } });
    expect(readFileSync(server.log, "latin1")).toBe(lines([5, 6]));
    const peer = await connect(server.port);
    peer.write(lines([6, 7]) + "terminate\n");
    expect(await server.exited).toBe(0);
    expect(sorted(logNumbers(server.log))).toEqual(Uint32Array.from([5, 6, 7]));
  });

  // The log is opened (and locked) before it is read, so the open is what fails.
  test("a log that is a directory: exits 1 saying it cannot open the log", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "numbers.log"));
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--resume"], { cwd: dir }));
    expect(result.code).toBe(1);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toBe("numbers-server: cannot open log file 'numbers.log': it is a directory");
  });

  // Before, --resume always cut the file to what it loaded, even to its own length: an
  // append-only file refused that, and the start failed as if the file could not be opened.
  test.skipIf(!canChattr())("an append-only log (chattr +a): --resume loads and appends to it; without --resume, or with a torn tail, one line saying it cannot be emptied or cut, the file as it was", async () => {
    const dir = tempDir();
    const path = join(dir, "numbers.log");
    writeFileSync(path, lines([5, 6]));
    expect(Bun.spawnSync(["chattr", "+a", path]).exitCode).toBe(0);
    try {
      const refused = await outcome(servers.spawn(["serve", "--port", "0"], { cwd: dir }));
      expect(refused).toEqual({
        code: 1,
        stdout: [],
        stderr: ["numbers-server: cannot empty log file 'numbers.log': operation not permitted (is it append-only or immutable? lsattr shows it)"],
      });
      expect(readFileSync(path, "latin1")).toBe(lines([5, 6]));
      const server = await servers.start(["--resume"], { dir });
      const peer = await connect(server.port);
      peer.write(lines([6, 7]) + "terminate\n");
      expect(await server.exited).toBe(0);
      expect(readFileSync(path, "latin1")).toBe(lines([5, 6, 7]));
      // A torn tail must be cut, which the file refuses.
      expect(Bun.spawnSync(["chattr", "-a", path]).exitCode).toBe(0);
      writeFileSync(path, lines([5, 6]) + "0000");
      expect(Bun.spawnSync(["chattr", "+a", path]).exitCode).toBe(0);
      const torn = await outcome(servers.spawn(["serve", "--port", "0", "--resume"], { cwd: dir }));
      expect(torn).toEqual({
        code: 1,
        stdout: [],
        stderr: ["numbers-server: cannot cut log file 'numbers.log' back to its last whole line: operation not permitted (is it append-only or immutable? lsattr shows it)"],
      });
      expect(readFileSync(path, "latin1")).toBe(lines([5, 6]) + "0000");
    } finally {
      Bun.spawnSync(["chattr", "-a", path]);
    }
  });

  test.each([
    ["a malformed line", lines([1, 2]) + "12345678x\n" + lines([4]), "line 3 is not nine digits and a newline"],
    ["a repeated number", lines([1, 2, 1]), "line 3 repeats an earlier number"],
  ])("%s: exits 1 with one error line naming it, the log untouched", async (_, content, what) => {
    const dir = tempDir();
    const path = join(dir, "numbers.log");
    writeFileSync(path, content);
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--resume"], { cwd: dir }));
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([`numbers-server: cannot resume from 'numbers.log': ${what}; the file was left as it was`]);
    expect(readFileSync(path, "latin1")).toBe(content);
  });
});
