// The check command as a user meets it: --list, -k, the plain scorecard and --json, the exit
// code, socket cases only (and the rest skipped, with why) against a server it did not
// start, a --spawn that never listens (one clear line, exit 1, no process left behind), and
// a --spawn whose port another process holds (never probed; a picked port means a new start);
// a -k that matches nothing and a server that is not there are one line each, never a pass.

import { expect, test } from "bun:test";
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { check, fixtureCommand, ourCommand, scorecard } from "../support/check.ts";
import { canConnect } from "../../src/check/peer.ts";
import { serverCommand, tempDir } from "../support/server.ts";

test("--list names every case with what it needs; -k narrows it", async () => {
  const all = await check(["--list"]);
  expect(all.code).toBe(0);
  const rows = all.stdout.trim().split("\n");
  expect(rows.length).toBeGreaterThanOrEqual(40);
  for (const row of rows) expect(row).toMatch(/^[a-z]+\/[a-z0-9/-]+ {2}\[(socket|spawn)\]$/);
  const some = await check(["--list", "-k", "terminate/"]);
  expect(some.stdout.trim().split("\n").map((r) => r.split(" ")[0])).toEqual(rows.map((r) => r.split(" ")[0]).filter((n) => n.includes("terminate/")));
  // With --json, the same list as one document (before, the text above).
  const json = await check(["--list", "--json"]);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ cases: rows.map((r) => ({ name: r.split(" ")[0], needs: /\[(\w+)\]/.exec(r)![1] })) });
});

test("a -k that matches no case is a usage error, not an empty pass", async () => {
  const run = await check(["-k", "no-such-case"]);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  expect(run.stderr.trim()).toBe("numbers-server: -k 'no-such-case' matches no case (--list lists them) (see --help)");
});

test("a -k that only --throughput's cases match says so", async () => {
  const run = await check(["-k", "throughput/"]);
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: "" });
  expect(run.stderr.trim()).toBe("numbers-server: -k 'throughput/' matches only cases that --throughput turns on (see --help)");
});

test("stdout that nobody reads (--list | head -1): the command ends quietly, as SIGPIPE would end it", () => {
  // A FIFO whose only reader is gone before the command starts: its first write fails with
  // EPIPE, every time (with `| head -1` that depends on who is first).
  const fifo = join(tempDir(), "out");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  closeSync(reader);
  try {
    for (const args of [["check", "--list"], ["check", "--help"], ["--version"]]) {
      const run = Bun.spawnSync([...serverCommand(), ...args], { stdout: writer, stderr: "pipe" });
      expect({ args, code: run.exitCode, stderr: run.stderr.toString() }).toEqual({ args, code: 141, stderr: "" });
    }
  } finally {
    closeSync(writer);
  }
});

test("without --spawn, a port nobody listens on: one clear line, exit 1, no case run", async () => {
  const nobody = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = nobody.port;
  nobody.stop(true);
  const run = await check(["--port", String(port), "--timeout", "1"]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe("");
  expect(run.stderr.trim()).toBe(`numbers-server: nothing accepts connections on 127.0.0.1:${port} (start the server, or give --spawn CMD)`);
});

test("plain output: one line per case, the summary line, exit 0 when nothing failed", async () => {
  const run = await check(["-k", "lines/invalid/crlf", "--spawn", fixtureCommand("")]);
  expect(run.stdout).toMatch(/^PASS {2}lines\/invalid\/crlf {2}\(closed \(reset\)\)\n1 passed, 0 failed, 0 skipped\n$/);
  expect(run.code).toBe(0);
});

test("a failure: its evidence on the line, exit 1; --json carries the same", async () => {
  const args = ["-k", "lines/invalid/crlf", "--timeout", "1", "--spawn", fixtureCommand("crlf")];
  // Side by side: each waits out its --timeout.
  const [run, card] = await Promise.all([check(args), scorecard(args)]);
  expect(run.code).toBe(1);
  expect(run.stdout).toContain('FAIL  lines/invalid/crlf  sent "');
  expect(run.stdout).toContain("\\r\\n");
  expect(run.stdout).toContain("still open after 1000 ms");
  expect(run.stdout.trim().split("\n").at(-1)).toBe("0 passed, 1 failed, 0 skipped");
  expect(card).toMatchObject({ code: 1, passed: 0, failed: 1, skipped: 0, failedNames: ["lines/invalid/crlf"] });
  expect(card.cases[0].evidence).toContain("still open after 1000 ms");
});

test("without --spawn: socket cases run against the given server, the others are skipped with why", async () => {
  const dir = tempDir();
  // Our own server on a free port (its readiness line names it), as someone else would run it.
  const server = Bun.spawn(ourCommand("--workers 1 --warmup 0").replace("{PORT}", "0").split(" "), { cwd: dir, stderr: "pipe", stdout: "ignore" });
  const reader = server.stderr.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  const port = /listening on .+:(\d+)/.exec(first)?.[1];
  expect(port).toBeDefined();
  try {
    const card = await scorecard(["--port", port!, "-k", "crlf"]);
    expect(card.cases.map((c) => [c.name, c.status])).toEqual([
      ["lines/invalid/crlf", "PASS"],
      ["terminate/crlf-is-not-terminate", "SKIP"],
    ]);
    expect(card.cases[0].evidence).toBe("log not checked: no --spawn");
    expect(card.cases[1].evidence).toContain("needs --spawn");
    expect(card.code).toBe(0);
    expect(server.exitCode).toBeNull();
  } finally {
    server.kill();
    await server.exited;
  }
});

test("a --spawn that never listens: one clear line after --start-timeout, exit 1, and nothing of it left running", async () => {
  const dir = tempDir();
  // The shell starts a child that listens nowhere and writes the child's pid. --timeout, the
  // bound of the cases' events, is not the start's.
  const run = await check(["--spawn", "sleep 60 & echo $! > pid; wait", "--cwd", dir, "--port", "1", "--start-timeout", "1", "--timeout", "30"]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe("");
  expect(run.stderr.trim()).toBe("numbers-server: `sleep 60 & echo $! > pid; wait` did not accept connections on 127.0.0.1:1 within 1 s (--start-timeout)");
  const child = Number(readFileSync(join(dir, "pid"), "utf8"));
  expect(child).toBeGreaterThan(1);
  // Dead: gone, or a zombie that init has yet to reap.
  const stat = existsSync(`/proc/${child}/stat`) ? readFileSync(`/proc/${child}/stat`, "latin1") : "";
  expect(stat === "" || /\) [ZX] /.test(stat)).toBe(true);
});

test("a --spawn that exits at once says so with its exit code and stderr", async () => {
  const run = await check(["--spawn", "echo cannot bind >&2; exit 3", "--port", "1"]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain("exited (code 3) before it accepted connections");
  expect(run.stderr).toContain("cannot bind");
});

// Such a case starts its own server inside the case; its start failure was a FAIL line.
// A command that starts with a builtin is not exec'd (`exec exit 3` reported code 127).
test("a --spawn that exits at once, first started by a case that starts its own: the same one line", async () => {
  const run = await check(["-k", "log/emptied-at-start", "--spawn", "exit 3", "--port", "1"]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe("");
  expect(run.stderr.trim()).toBe("numbers-server: `exit 3` exited (code 3) before it accepted connections");
});

// Before, every case failed alone, each saying "ENOENT: no such file or directory, posix_spawn '/bin/sh'".
test("a --cwd that is missing or a file: one line naming it, exit 1, no case run", async () => {
  const file = join(tempDir(), "a-file");
  writeFileSync(file, "");
  const missing = join(tempDir(), "missing");
  const runs = await Promise.all([missing, file].map((dir) => check(["--cwd", dir, "--spawn", "exit 3", "--port", "1"])));
  expect(runs.map(({ code, stdout, stderr }) => ({ code, stdout, stderr: stderr.trim() }))).toEqual(
    [missing, file].map((dir) => ({ code: 1, stdout: "", stderr: `numbers-server: \`exit 3\` was not started: --cwd ${dir} is not a directory` })),
  );
});

// Through exec env, these were taken for the program env runs (code 127), or for an
// assignment (a path holding '=': env printed the environment, code 0).
test("a --spawn whose program is a builtin after assignments, or whose path holds '=', exits with its own code", async () => {
  const builtin = await check(["--spawn", "FOO=1 exit 3", "--port", "1"]);
  expect(builtin.stderr.trim()).toBe("numbers-server: `FOO=1 exit 3` exited (code 3) before it accepted connections");
  const dir = join(tempDir(), "a=b");
  mkdirSync(dir);
  writeFileSync(join(dir, "run.sh"), "#!/bin/sh\nexit 5\n", { mode: 0o755 });
  const path = await check(["--spawn", join(dir, "run.sh"), "--port", "1"]);
  expect(path.stderr.trim()).toBe(`numbers-server: \`${join(dir, "run.sh")}\` exited (code 5) before it accepted connections`);
});

// `exec VAR=1 cmd` could not run; through env the server is the process, its exit code its own.
test("a --spawn command that starts with an assignment runs with it, and its exit code is the server's", async () => {
  const run = await check(["-k", "terminate/whole-line-stops", "--spawn", `NUMBERS_WORKERS=1 ${ourCommand("--warmup 0")}`]);
  expect(run.stdout).toMatch(/^PASS {2}terminate\/whole-line-stops {2}\(exit 0 in [\d.]+ s\)\n1 passed, 0 failed, 0 skipped\n$/);
  expect(run.code).toBe(0);
});

// Before, the start went ahead: a case's stale log was written into --cwd first, replacing the
// log of the server that held the port.
test("a --spawn on a port another process listens on: one clear line naming it, exit 1, nothing started or written, not one connection to that process", async () => {
  let connections = 0;
  const other = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void connections++, data() {} } });
  const dir = tempDir();
  writeFileSync(join(dir, "numbers.log"), "123456789\n");
  try {
    const run = await check(["-k", "log/emptied-at-start", "--cwd", dir, "--spawn", fixtureCommand("").replace("{PORT}", String(other.port)), "--port", String(other.port)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(`was not started: 127.0.0.1:${other.port} is held by another process`);
    expect(connections).toBe(0);
    expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe("123456789\n");
  } finally {
    other.stop(true);
  }
});

test("a picked port ({PORT}) taken before the implementation binds it: started again on another port, the cases run against it", async () => {
  // The first start's shell has a process of another session listen on the picked port (it
  // says its pid once it listens), then starts the fixture there, which cannot bind; every
  // later start runs the fixture alone. Run against that other process, the case would fail.
  const dir = tempDir();
  writeFileSync(join(dir, "holder.ts"), `Bun.listen({ hostname: "127.0.0.1", port: Number(process.argv[2]), socket: { data() {} } });\nconsole.log(process.pid);\n`);
  const fixture = fixtureCommand("");
  const first = `touch held; mkfifo ready; setsid ${process.execPath} holder.ts {PORT} > ready & read pid < ready; echo "$pid {PORT}" > holder`;
  const spawn = `if [ ! -e held ]; then ${first}; fi; exec ${fixture}`;
  try {
    const card = await scorecard(["-k", "lines/invalid/crlf", "--cwd", dir, "--spawn", spawn]);
    expect(card.cases.map((c) => [c.name, c.status])).toEqual([["lines/invalid/crlf", "PASS"]]);
    expect(card.code).toBe(0);
  } finally {
    const [pid, port] = readFileSync(join(dir, "holder"), "utf8").trim().split(" ").map(Number);
    // The other process held the first port all along.
    expect(await canConnect("127.0.0.1", port, 1000)).toBe(true);
    process.kill(pid, "SIGKILL");
  }
});

test("a --spawn whose relative command is not found in its fresh directory says how to fix it", async () => {
  const run = await check(["--spawn", "./server-here --port {PORT}"]);
  expect(run.code).toBe(1);
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
  expect(run.stderr).toContain("exited (code 127) before it accepted connections");
  expect(run.stderr).toContain("give absolute paths, or --cwd DIR");
});

test("a case's last clients still hold the slots when it ends: the terminate is sent again until it is taken", async () => {
  // The fixture frees a closed client's slot 250 ms late, so the first terminate client is
  // refused as a sixth; a server that loses its log on SIGTERM shows whether one got through.
  const spawn = `${fixtureCommand("log-at-exit")} --release-after 250`;
  const card = await scorecard(["-k", "connections/sixth-closed-not-counted", "--timeout", "3", "--spawn", spawn]);
  expect(card.cases.map((c) => [c.name, c.status])).toEqual([["connections/sixth-closed-not-counted", "PASS"]]);
  // The case passes on a sixth closed at once, or reset before Bun reported it open.
  expect(card.cases[0].evidence).toMatch(/^sixth (closed \(|refused: )/);
});

// Before, slots-freed-by-resets took a client still open after --settle for kept, and failed a
// server that refuses a client over the limit later than that ("missing from the log").
test("a server that frees a reset client's slot late and refuses a client over the limit later than --settle passes the slot cases", async () => {
  // --settle 0.2: the refusal comes between one --settle and two, the slot's release within one.
  const spawn = `${fixtureCommand("")} --release-after 120 --refuse-after 300`;
  const card = await scorecard(["-k", "connections/s", "--timeout", "3", "--settle", "0.2", "--spawn", spawn]);
  expect(card.cases.map((c) => [c.name, c.status])).toEqual([
    ["connections/sixth-closed-not-counted", "PASS"],
    ["connections/slot-reused", "PASS"],
    ["connections/slots-freed-by-resets", "PASS"],
  ]);
});

// Before, a start that failed on a port taken for a moment, and free again when the checker
// looked, was not started again: one `bun run test` failed so ("EADDRINUSE").
test("a picked port ({PORT}) found in use by the implementation, though free when looked at: started again on another port", async () => {
  const dir = tempDir();
  // The first start says what a taken port makes a server say, and exits 1; the next serves.
  writeFileSync(join(dir, "flaky.sh"), `if [ ! -e tried ]; then touch tried; echo "error: Failed to listen: EADDRINUSE" >&2; exit 1; fi\nexec ${fixtureCommand("").replace("{PORT}", '"$1"')}\n`);
  const card = await scorecard(["-k", "connections/accepts", "--cwd", dir, "--spawn", "sh flaky.sh {PORT}"]);
  expect(existsSync(join(dir, "tried"))).toBe(true);
  expect(card.cases.map((c) => [c.name, c.status])).toEqual([["connections/accepts", "PASS"]]);
  expect(card.code).toBe(0);
});

/** Whether process `pid` is gone (or a zombie nobody reaped). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

// Before, an implementation still starting was not yet known to the checker: a Ctrl-C left it
// running for good (its process group is its own, so the terminal's signal missed it), and
// SIGHUP (a closed terminal) was not handled at all.
test.each([["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const)("%s to the checker while the implementation is still starting stops it too; exit %d", async (signal, code) => {
  const dir = tempDir();
  const ready = join(dir, "ready");
  expect(Bun.spawnSync(["mkfifo", ready]).exitCode).toBe(0);
  // It says its pid, then never listens: the checker waits for it (--start-timeout 60).
  const proc = Bun.spawn([...serverCommand(), "check", "-k", "connections/accepts", "--cwd", dir, "--start-timeout", "60", "--spawn", `echo $$ > ready; exec sleep 60`], { stdout: "pipe", stderr: "pipe" });
  const pid = Number((await Bun.file(ready).text()).trim());
  try {
    expect(gone(pid)).toBe(false);
    proc.kill(signal);
    expect(await proc.exited).toBe(code);
    expect(gone(pid)).toBe(true);
  } finally {
    // A failed test leaves nothing behind.
    if (!gone(pid)) process.kill(pid, "SIGKILL");
  }
});

// Before, the start looked at the shell alone: one that put the server in the background exited
// at once, and the start was a failure though the server came up.
test("a --spawn whose shell puts the server in the background and exits: the server, in its group, is the implementation", async () => {
  const run = await check(["-k", "terminate/whole-line-stops", "--spawn", `${ourCommand("--warmup 0")} &`]);
  expect(run.stdout).toMatch(/^PASS {2}terminate\/whole-line-stops {2}\(exit 0 in [\d.]+ s\)\n1 passed, 0 failed, 0 skipped\n$/);
  expect(run.code).toBe(0);
});

// Before, an implementation that wrote no log passed: "0 whole lines".
test("durability/sigterm-whole-lines against an implementation that never writes its log: SKIP, not PASS", async () => {
  const dir = tempDir();
  // Takes every byte, writes nothing, ends on SIGTERM.
  writeFileSync(join(dir, "sink.ts"), `Bun.listen({ hostname: "127.0.0.1", port: Number(process.argv[2]), socket: { data() {} } });\n`);
  // --timeout 1.5: the case waits that long for a log that never comes (so the test takes
  // it); the sink starts in a tenth of that alone.
  const card = await scorecard(["-k", "sigterm-whole-lines", "--cwd", dir, "--timeout", "1.5", "--spawn", `${process.execPath} sink.ts {PORT}`]);
  expect(card.cases.map((c) => [c.name, c.status])).toEqual([["durability/sigterm-whole-lines", "SKIP"]]);
  expect(card.cases[0].evidence).toMatch(/^the log is empty after SIGTERM/);
  expect(card.code).toBe(0);
});

// Before, the exit after SIGTERM was waited for 3 x --timeout, busy or not: on a loaded CI
// machine a server still writing out its numbers was taken for one that ignores SIGTERM (SKIP).
test("after SIGTERM, an implementation still at work is waited for past 3 x --timeout; an idle one is not", async () => {
  const dir = tempDir();
  // Takes every byte; on SIGTERM, works for 2 s (busy) or waits as long (idle), then writes a
  // line of the case's stream (its numbers start at 000000000) and exits 0. Work is a quarter of
  // a core (10 ms of CPU in every 40), far over the checker's 3 ticks a second at much less CPU
  // than a spin. "handoff": it has spun 0.6 s before it listens; on SIGTERM it leaves the work to
  // a child of its group and exits after 0.5 s more, the child after 2.5 s. "spin": works for good.
  writeFileSync(
    join(dir, "slow.ts"),
    `import { writeFileSync } from "node:fs";
const [port, how] = process.argv.slice(2);
const spin = (ms: number) => { const until = performance.now() + ms; while (performance.now() < until); };
const work = (ms: number) => { const until = performance.now() + ms; while (performance.now() < until) { spin(10); Bun.sleepSync(30); } };
const done = () => { writeFileSync("numbers.log", "000000000\\n"); process.exit(0); };
if (how === "child") { work(2500); done(); }
if (how === "handoff") spin(600);
Bun.listen({ hostname: "127.0.0.1", port: Number(port), socket: { data() {} } });
process.on("SIGTERM", () => {
  if (how === "idle") return void setTimeout(done, 2000);
  if (how === "spin") work(Infinity);
  if (how === "handoff") {
    Bun.spawn([process.execPath, "slow.ts", "0", "child"], { stdio: ["ignore", "ignore", "ignore"] });
    work(500);
    process.exit(0);
  }
  work(2000);
  done();
});
`,
  );
  // --timeout 0.4: the wait is 1.2 s, and at most 4 s for one at work.
  const run = (how: string) => scorecard(["-k", "sigterm-whole-lines", "--cwd", dir, "--timeout", "0.4", "--spawn", `${process.execPath} slow.ts {PORT} ${how}`]);
  const [busy, idle, handoff, spin] = await Promise.all([run("busy"), run("idle"), run("handoff"), run("spin")]);
  // Its CPU time is counted per process: the parent's, gone with it, does not hide the child's work.
  expect(handoff.cases.map((c) => [c.status, c.evidence.replace(/\d+ ms/, "N ms")])).toEqual([["PASS", "1 whole lines, exit 0 after N ms"]]);
  expect(spin.cases.map((c) => [c.status, c.evidence.replace(/\d+ ms/, "N ms")])).toEqual([
    ["SKIP", "still running N ms after SIGTERM, at work (using CPU time) all along: no stop to check"],
  ]);
  expect(busy.cases.map((c) => [c.status, c.evidence.replace(/\d+ ms/, "N ms")])).toEqual([["PASS", "1 whole lines, exit 0 after N ms"]]);
  // Past the 1.2 s after which an idle one is given up on (about 2 s: the two processes' clocks
  // start the 2 s at slightly different moments).
  expect(Number(/after (\d+) ms/.exec(busy.cases[0].evidence)?.[1])).toBeGreaterThan(1200);
  expect(idle.cases.map((c) => [c.status, c.evidence.replace(/\d+ ms/, "N ms")])).toEqual([["SKIP", "still running N ms after SIGTERM, and idle: no stop to check"]]);
  expect(Number(/running (\d+) ms/.exec(idle.cases[0].evidence)?.[1])).toBeLessThan(2000);
});

// Before, the case's streams went on after the SIGTERM: a server that reads on until its
// clients have gone never got to its exit, and one busy with the flood ran its handler late.
test("durability/sigterm-whole-lines ends its streams as it sends SIGTERM: a server that stops once its clients have gone passes", async () => {
  const dir = tempDir();
  // On SIGTERM it stops once no client is left, writing a line of the case's stream.
  writeFileSync(
    join(dir, "drain.ts"),
    `import { writeFileSync } from "node:fs";
let clients = 0, stopping = false;
const done = () => { writeFileSync("numbers.log", "000000000\\n"); process.exit(0); };
Bun.listen({ hostname: "127.0.0.1", port: Number(process.argv[2]), socket: {
  open() { clients++; }, data() {}, close() { if (--clients === 0 && stopping) done(); }, error() {},
} });
process.on("SIGTERM", () => { stopping = true; if (clients === 0) done(); });
`,
  );
  const card = await scorecard(["-k", "sigterm-whole-lines", "--cwd", dir, "--timeout", "0.4", "--spawn", `${process.execPath} drain.ts {PORT}`]);
  expect(card.cases.map((c) => [c.status, c.evidence.replace(/\d+ ms/, "N ms")])).toEqual([["PASS", "1 whole lines, exit 0 after N ms"]]);
});
