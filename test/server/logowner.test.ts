// One owner per log (docs/log.md): a second instance on another port, with or without
// --resume, is refused naming the running one and leaves its log byte for byte as it was;
// the lock goes with its owner (a clean exit, kill -9); different --log paths in one
// directory do not get in each other's way.

import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectLogged, sendAll } from "../support/client.ts";
import { metricsBase, METRICS_ON, readyPort } from "../support/metrics.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { Lines, tempDir, type Server } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();

/** Sends `line` and resolves once a report counts it: then it is on disk. */
async function logOne(server: Server, line: string, loaded = 0): Promise<void> {
  const counted = reportsUntil(server.stdout, (sums) => sums.unique >= 1, loaded);
  await sendAll(await connect(server.port), line);
  await counted;
}

async function terminate(server: Server): Promise<number> {
  (await connect(server.port)).write("terminate\n");
  return server.exited;
}

// Before, the ports were listed by number without saying which was which: the metrics port
// came first at times, and `terminate` sent there reached the wrong server.
test("the owner with a metrics port: named by its numbers port, then its metrics port", async () => {
  const dir = tempDir();
  const first = servers.spawn(["serve", "--port", "0", ...METRICS_ON], { cwd: dir });
  const metricsPort = Number(new URL(await metricsBase(first)).port);
  const port = await readyPort(first);
  const second = await outcome(servers.spawn(["serve", "--port", "0"], { cwd: dir }));
  expect(second).toEqual({
    code: 1,
    stdout: [],
    stderr: [`numbers-server: cannot use log file 'numbers.log': another server writes it (pid ${first.proc.pid}, port ${port}, metrics port ${metricsPort}); stop it first, or pick another --log`],
  });
  first.proc.kill("SIGTERM");
  expect((await outcome(first)).code).toBe(0);
});

describe.each(["1", "2"])("--workers %s", (workers) => {
  test("a second instance on another port, without and with --resume, is refused naming the owner; the log unchanged", async () => {
    const first = await servers.start(["--workers", workers, "--report-interval", "0.05"]);
    await logOne(first, "000000007\n");
    const before = readFileSync(first.log);
    expect(before.toString("latin1")).toBe("000000007\n");
    for (const resume of [[], ["--resume"]]) {
      const second = servers.spawn(["serve", "--port", "0", "--workers", workers, ...resume], { cwd: first.dir });
      const result = await outcome(second);
      expect(result.code).toBe(1);
      expect(result.stdout).toEqual([]);
      expect(result.stderr).toEqual([
        `numbers-server: cannot use log file 'numbers.log': another server writes it (pid ${first.proc.pid}, port ${first.port}); stop it first, or pick another --log`,
      ]);
      expect(readFileSync(first.log).equals(before)).toBe(true);
    }
    // The owner never noticed: it goes on logging and shuts down cleanly.
    await sendAll(await connect(first.port), "000000008\n");
    expect(await terminate(first)).toBe(0);
    expectLogged(first.log, [7, 8]);
  });

  test("the lock goes with its owner: after a clean exit, and after kill -9 (with and without --resume)", async () => {
    const dir = tempDir();
    const first = await servers.start(["--workers", workers, "--report-interval", "0.05"], { dir });
    await logOne(first, "000000001\n");
    expect(await terminate(first)).toBe(0);
    const resumed = await servers.start(["--workers", workers, "--report-interval", "0.05", "--resume"], { dir });
    await logOne(resumed, "000000002\n", 1);
    resumed.proc.kill(9);
    await resumed.exited;
    expectLogged(resumed.log, [1, 2]);
    const again = await servers.start(["--workers", workers, "--resume"], { dir });
    again.proc.kill(9);
    await again.exited;
    expectLogged(again.log, [1, 2]);
    const fresh = await servers.start(["--workers", workers], { dir });
    expect(readFileSync(fresh.log, "latin1")).toBe("");
    expect(await terminate(fresh)).toBe(0);
  });

  test("a log deleted while serving: exit 1 with one line, at the stop, or at the next report", async () => {
    const server = await servers.start(["--workers", workers]);
    await sendAll(await connect(server.port), "000000001\n");
    rmSync(server.log);
    const peer = await connect(server.port);
    peer.write("terminate\n");
    const result = await outcome(server);
    const line = "numbers-server: cannot keep log file 'numbers.log': it was deleted while the server ran, and the numbers in it with it";
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr.slice(1) }).toEqual({ code: 1, stdout: [], stderr: [line] });
    await peer.closed;
    const reporting = await servers.start(["--workers", workers, "--report-interval", "0.05"]);
    rmSync(reporting.log);
    const stopped = await outcome(reporting);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr.slice(1)).toEqual([line]);
  });

  test("two instances with different --log paths in one directory both run", async () => {
    const dir = tempDir();
    const a = await servers.start(["--workers", workers, "--log", "a.log"], { dir });
    const b = await servers.start(["--workers", workers, "--log", "b.log"], { dir });
    await sendAll(await connect(a.port), "000000001\n");
    await sendAll(await connect(b.port), "000000002\n");
    expect(await Promise.all([terminate(a), terminate(b)])).toEqual([0, 0]);
    expectLogged(join(dir, "a.log"), [1]);
    expectLogged(join(dir, "b.log"), [2]);
  });
});

// Before, only flock locks were seen: a program holding a lockf() or fcntl() lock on the log
// (another implementation of the job, say) had it emptied under it.
test("a log another program holds a lockf/fcntl lock on is refused naming it, the log unchanged; a running server's lock is seen by lockf", async () => {
  const dir = tempDir();
  const log = join(dir, "numbers.log");
  writeFileSync(log, "123456789\n");
  // F_SETLK (6) with a write lock on the whole file, as lockf(F_TLOCK) takes it; it says
  // "locked" (or the errno that refused it) and holds it until its standard input closes.
  const holder = (path: string) => {
    const proc = Bun.spawn([process.execPath, "-e", LOCKER, path], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    return { proc, said: new Lines(proc.stdout).next() };
  };
  const other = holder(log);
  try {
    expect(await other.said).toBe("locked");
    const server = servers.spawn(["serve", "--port", "0"], { cwd: dir });
    const result = await outcome(server);
    expect(result).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot use log file 'numbers.log': another process holds a lock on it (pid ${other.proc.pid}, a lockf or fcntl lock); stop it first, or pick another --log`],
    });
    expect(readFileSync(log, "latin1")).toBe("123456789\n");
  } finally {
    other.proc.stdin.end();
    await other.proc.exited;
  }
  // The other way round: while a server owns the log, a lockf() on it is refused.
  const server = await servers.start([], { dir });
  const late = holder(log);
  expect(await late.said).toBe("errno 11");
  await late.proc.exited;
  expect(await terminate(server)).toBe(0);
});

/** A Bun script for `bun -e`: takes a POSIX record lock on the file named last on its command line (see its use). */
const LOCKER = `
const { dlopen, FFIType, read } = require("bun:ffi");
const { symbols } = dlopen("libc.so.6", { fcntl: { args: ["i32", "i32", "ptr"], returns: "i32" }, __errno_location: { args: [], returns: "ptr" } });
const fd = require("node:fs").openSync(process.argv.at(-1), "a");
const record = new Uint8Array(32);
new DataView(record.buffer).setInt16(0, 1, true);
const ok = symbols.fcntl(fd, 6, record) === 0;
console.log(ok ? "locked" : "errno " + read.i32(symbols.__errno_location(), 0));
if (ok) for await (const _ of Bun.stdin.stream());
`;
