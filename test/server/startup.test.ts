// Starting the real server and its refusals to start: the readiness line, the log emptied
// or named by --log and its environment twin, usage errors (exit 2), --help, a port in
// use and an unusable log (exit 1). A refusal is one line on stderr and touches no log.

import { expect, test } from "bun:test";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { SERVER_OPTIONS } from "../../src/server/config.ts";
import { connectUntilAdmitted, expectLogged, sendAll } from "../support/client.ts";
import { connect } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { tempDir, type Server } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();
const OLD_LOG = "000000001\n000000002\n";

/** A fresh directory whose numbers.log already holds two numbers. */
function dirWithOldLog(): string {
  const dir = tempDir();
  writeFileSync(join(dir, "numbers.log"), OLD_LOG);
  return dir;
}

/** Shuts the server down with terminate from a new client and returns how it ended. */
async function terminate(server: Server) {
  (await connect(server.port)).write("terminate\n");
  return outcome(server);
}

test("readiness line on stderr, nothing on stdout, and an existing numbers.log emptied", async () => {
  const server = await servers.start([], { dir: dirWithOldLog() });
  expect(server.port).toBeGreaterThan(0);
  expect(readFileSync(server.log, "latin1")).toBe("");
  await sendAll(await connect(server.port), "000000003\n");
  expect(await terminate(server)).toEqual({ code: 0, stdout: [], stderr: [`listening on 127.0.0.1:${server.port}`] });
  expectLogged(server.log, [3]);
});

test("--log elsewhere: that file is emptied and written, numbers.log in the cwd untouched", async () => {
  const dir = dirWithOldLog();
  const other = join(tempDir(), "other.log");
  writeFileSync(other, OLD_LOG);
  const server = await servers.start(["--log", other], { dir });
  await sendAll(await connect(server.port), "000000003\n");
  expect((await terminate(server)).code).toBe(0);
  expectLogged(other, [3]);
  expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
});

test("environment twins: NUMBERS_PORT, NUMBERS_LOG, NUMBERS_REPORT_INTERVAL, NUMBERS_MAX_CLIENTS", async () => {
  const dir = dirWithOldLog();
  const log = join(tempDir(), "env.log");
  const server = servers.spawn(["serve"], {
    cwd: dir,
    env: { NUMBERS_PORT: "0", NUMBERS_LOG: log, NUMBERS_REPORT_INTERVAL: "0.1", NUMBERS_MAX_CLIENTS: "1" },
  });
  const ready = /^listening on 127\.0\.0\.1:(\d+)$/.exec((await server.stderr.next()) ?? "");
  expect(ready).not.toBeNull();
  const port = Number(ready![1]);
  expect(port).toBeGreaterThan(0);
  const readyAt = performance.now();
  const counted = reportsUntil(server.stdout, (sums) => sums.unique >= 1);
  const first = await connectUntilAdmitted(port, "000000003\n", counted);
  // Reported within 0.1 s or so: at the default interval the first report would take 10 s.
  expect(performance.now() - readyAt).toBeLessThan(5000);
  // The one slot is taken: the next client is closed at once, its number ignored.
  const second = await connect(port);
  await second.closed;
  first.write("terminate\n");
  expect(await server.exited).toBe(0);
  expectLogged(log, [3]);
  expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
});

test("a flag beats its environment twin: --log over NUMBERS_LOG", async () => {
  const twin = join(tempDir(), "twin.log");
  writeFileSync(twin, OLD_LOG);
  const flag = join(tempDir(), "flag.log");
  const server = await servers.start(["--log", flag], { env: { NUMBERS_LOG: twin } });
  await sendAll(await connect(server.port), "000000003\n");
  expect((await terminate(server)).code).toBe(0);
  expectLogged(flag, [3]);
  expect(readFileSync(twin, "latin1")).toBe(OLD_LOG);
});

// One spawn proves the way out of a usage error; what each bad value's line names is
// checked in-process, case by case, in test/unit/usage.test.ts.
test("a usage error (--bogus): exit 2, one line naming it on stderr, nothing on stdout, the log untouched", async () => {
  const dir = dirWithOldLog();
  const result = await outcome(servers.spawn(["--bogus"], { cwd: dir }));
  expect(result.code).toBe(2);
  expect(result.stdout).toEqual([]);
  expect(result.stderr).toHaveLength(1);
  expect(result.stderr[0]).toStartWith("numbers-server: ");
  expect(result.stderr[0]).toContain("--bogus");
  expect(result.stderr[0]).toEndWith(" (see --help)");
  expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
});

// -h asks for the same help (test/unit/config.test.ts), which test/unit/usage.test.ts also
// checks for every command; this spawn proves the executable prints it and exits 0.
test("--help: exit 0, every flag and environment twin on stdout", async () => {
  const dir = dirWithOldLog();
  const result = await outcome(servers.spawn(["--help"], { cwd: dir }));
  expect(result.code).toBe(0);
  expect(result.stderr).toEqual([]);
  const help = result.stdout.join("\n");
  for (const spec of Object.values(SERVER_OPTIONS)) {
    expect(help).toContain(spec.switch ? `--[no-]${spec.flag}` : `--${spec.flag} <v>`);
    expect(help).toContain(spec.env);
  }
  expect(help).toContain("--help");
  expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
});

// Every command's --help lists --version; `client --version` used to be an unknown option.
test.each(["", "serve", "client", "terminate", "check"])("'%s --version': exit 0, the version alone on stdout", async (command) => {
  const result = await outcome(servers.spawn([...(command ? [command] : []), "--version"], { cwd: tempDir() }));
  expect(result).toEqual({ code: 0, stdout: [pkg.version], stderr: [] });
});

// One thread and two on either side: only the main thread listens, so neither may share
// the port with a server already on it.
test.each([
  ["1", "1"],
  ["1", "2"],
  ["2", "1"],
  ["2", "2"],
])("port in use: --workers %s, then a second server with --workers %s exits 1 naming the port, both logs untouched", async (firstWorkers, workers) => {
  const first = await servers.start(["--workers", firstWorkers, "--report-interval", "0.1"]);
  const peer = await connect(first.port);
  const counted = reportsUntil(first.stdout, (sums) => sums.unique >= 1);
  peer.write("000000007\n");
  // Once a report counts it, the number is on disk.
  await counted;
  for (const dir of [dirWithOldLog(), first.dir]) {
    const before = readFileSync(join(dir, "numbers.log"), "latin1");
    const second = servers.spawn(["serve", "--port", String(first.port), "--workers", workers], { cwd: dir });
    // Its first line already tells (a readiness line would mean it shares the port).
    const refusal = `numbers-server: cannot listen on 127.0.0.1:${first.port}: the port is in use`;
    expect(await second.stderr.next()).toBe(refusal);
    expect(await outcome(second)).toEqual({ code: 1, stdout: [], stderr: [refusal] });
    expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(before);
  }
  // The first server still takes numbers and shuts down cleanly.
  peer.write("000000008\nterminate\n");
  expect(await first.exited).toBe(0);
  expectLogged(first.log, [7, 8]);
});

test.each([
  ["a missing directory", (dir: string) => join(dir, "missing", "x.log"), "its directory does not exist"],
  ["a symbolic link into a missing directory", (dir: string) => (symlinkSync("missing/x.log", join(dir, "link.log")), join(dir, "link.log")), "it is a symbolic link to 'missing/x.log', whose directory does not exist"],
  ["a chain of symbolic links into a missing directory", (dir: string) => (symlinkSync("/nonexistent-dir/y.log", join(dir, "end.log")), symlinkSync("end.log", join(dir, "chain.log")), join(dir, "chain.log")), "it is a symbolic link (through 1 more) to '/nonexistent-dir/y.log', whose directory does not exist"],
  ["a directory", (dir: string) => dir, "it is a directory"],
  ["a path under a regular file", (dir: string) => join(dir, "numbers.log", "x.log"), "a parent is not a directory"],
  // Root may write a chmod 444 file, but nobody may create files in sysfs.
  ["a file nobody may create", () => "/sys/x.log", "permission denied"],
])("--log in %s: exit 1, one line naming the path, the cwd's log untouched", async (_, path, reason) => {
  const dir = dirWithOldLog();
  const log = path(dir);
  const result = await outcome(servers.spawn(["serve", "--port", "0", "--log", log], { cwd: dir }));
  expect(result.code).toBe(1);
  expect(result.stdout).toEqual([]);
  expect(result.stderr).toEqual([`numbers-server: cannot open log file '${log}': ${reason}`]);
  expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe(OLD_LOG);
});
