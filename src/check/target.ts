// The implementation under test when the checker starts it (--spawn): `/bin/sh -c CMD` in
// its own process group, in a fresh temp directory (or --cwd), on a free port when CMD says
// {PORT}; ready once the port accepts a connection and /proc shows the listener is a process of
// that group (a port it was given can be someone else's by then: it starts again on another,
// or fails naming the other process). Its stdout is kept line by line (the
// report lines), the end of its stderr for the evidence, and stopping it always ends every
// process of the group: SIGTERM, then SIGKILL after a grace period.

import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { listeningSockets, socketInodes } from "../procnet.ts";
import { address } from "../address.ts";
import type { CheckConfig } from "./checkconfig.ts";
import { canConnect, within } from "./peer.ts";

/** Lines of a stream as they arrive; `next` waits for the next one. */
class LineReader {
  readonly lines: string[] = [];
  private read = 0;
  private waiters: (() => void)[] = [];
  ended = false;
  tail = "";

  constructor(stream: ReadableStream<Uint8Array>, keep: boolean) {
    void this.pump(stream, keep);
  }

  private async pump(stream: ReadableStream<Uint8Array>, keep: boolean) {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      // A reader, not `for await` over the stream: in the tests, that stopped delivering a
      // spawned process's output now and then (docs/testing.md, 2026-12-07).
      const reader = stream.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        const s = decoder.decode(r.value, { stream: true });
        this.tail = (this.tail + s).slice(-2000);
        if (!keep) continue;
        rest += s;
        let nl;
        while ((nl = rest.indexOf("\n")) >= 0) {
          this.lines.push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
          this.wake();
        }
      }
    } catch {
      // A stream cut by the process's death ends like EOF.
    }
    // A last line without its LF is a line too (and no report line).
    if (rest !== "") this.lines.push(rest);
    this.ended = true;
    this.wake();
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Every line, taken or not, once the stream has ended (or `ms` has passed). */
  async all(ms: number): Promise<readonly string[]> {
    const deadline = performance.now() + ms;
    while (!this.ended && performance.now() < deadline) {
      await within(new Promise<void>((r) => this.waiters.push(r)), deadline - performance.now());
    }
    return this.lines;
  }

  /** The next line not yet taken, or null at EOF or after `ms`. */
  async next(ms: number): Promise<string | null> {
    const deadline = performance.now() + ms;
    while (this.read >= this.lines.length) {
      if (this.ended) return null;
      const left = deadline - performance.now();
      if (left <= 0) return null;
      const arrived = new Promise<void>((r) => this.waiters.push(r));
      await within(arrived, left);
    }
    return this.lines[this.read++];
  }
}

/** A port nobody listens on right now (the kernel picks it; the listener is closed at once). */
function freePort(host: string): number {
  const probe = Bun.listen({ hostname: host, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** A process as /proc/PID/stat shows it: its pid, and the fields after its command name (state, ppid, pgrp, ...). */
interface ProcStat {
  pid: string;
  fields: string[];
}

/** The processes of group `pgid` that are not zombies (null where there is no /proc). */
function groupStats(pgid: number): ProcStat[] | null {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  return pids.flatMap((pid) => {
    try {
      // "pid (comm) state ppid pgrp ...": comm may hold spaces, so read after its last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const [state, , pgrp] = fields;
      return Number(pgrp) === pgid && state !== "Z" && state !== "X" ? [{ pid, fields }] : [];
    } catch {
      return []; // Gone meanwhile.
    }
  });
}

/** The pids of the processes in group `pgid` that are not zombies (null where there is no /proc). */
function groupPids(pgid: number): string[] | null {
  return groupStats(pgid)?.map((p) => p.pid) ?? null;
}

/** The CPU time, in clock ticks, each living process of group `pgid` has used so far (null where there is no /proc). */
function groupCpuTicks(pgid: number): Map<string, number> | null {
  // utime and stime, fields 14 and 15 of the line: 11 and 12 after the command name.
  const stats = groupStats(pgid);
  return stats === null ? null : new Map(stats.map((p) => [p.pid, Number(p.fields[11]) + Number(p.fields[12])]));
}

/**
 * The CPU time the processes of `after` used since `before`. Per process: one that ended
 * meanwhile drops out, and takes its ticks with it (summed over the group, they would make
 * a busy rest look idle).
 */
function ticksSince(before: Map<string, number>, after: Map<string, number>): number {
  let sum = 0;
  for (const [pid, ticks] of after) sum += ticks - (before.get(pid) ?? 0);
  return sum;
}

/** Whether `path` is a directory (following links). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether some socket holds `port` on `host` now (a listen there fails with EADDRINUSE). */
function portTaken(host: string, port: number): boolean {
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === "EADDRINUSE";
  }
}

/** Whether /proc shows a process of group `pgid` that is not a zombie (true where there is no /proc). */
export function livingInGroup(pgid: number): boolean {
  const pids = groupPids(pgid);
  return pids === null || pids.length > 0;
}

/**
 * Whose listener is on `port`, as /proc shows it: a process of group `pgid` ("ours"),
 * someone else ("foreign"), nobody ("none"), or "unknown" (no /proc, or a process of the
 * group whose descriptors cannot be read). A port the checker picked can be taken between
 * its pick and the implementation's bind (by another checker, say), and a connection can
 * reach someone else's listener of a moment (a checker probing whether the port is free
 * listens on it briefly): the cases must then not run against that other process, nor
 * against a port nobody serves.
 */
function listenerOwner(port: number, pgid: number): "ours" | "foreign" | "none" | "unknown" {
  if (!existsSync("/proc/net/tcp")) return "unknown";
  const inodes = new Set(listeningSockets().filter((s) => s.port === port).map((s) => s.inode));
  if (inodes.size === 0) return "none";
  const held = groupPids(pgid)?.map((pid) => socketInodes(pid)?.some((inode) => inodes.has(inode)));
  if (held === undefined) return "unknown";
  return held.includes(true) ? "ours" : held.includes(undefined) ? "unknown" : "foreign";
}

/** A shell variable assignment (`NAME=value`), as a command's first words may be. */
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** The POSIX shell's builtins and keywords: a command whose program is one is run as it is. */
const SHELL_BUILTINS = new Set([
  ".", ":", "[", "alias", "bg", "break", "case", "cd", "command", "continue", "eval", "exec", "exit", "export",
  "false", "fg", "for", "getopts", "hash", "if", "jobs", "read", "readonly", "return", "set", "shift", "test",
  "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait", "while", "until", "{", "!",
]);

/**
 * CPU time, in clock ticks (1/100 s on Linux), that shows a process at work in a second: an
 * idle server uses next to none; one writing out a backlog with an eighth of a core (16
 * processes on 2 cores) uses about 12.
 */
const BUSY_TICKS = 3;

/** What an implementation says on stderr when the port it listens on is taken, in C, Bun, Node, Python, Go, Rust... */
const IN_USE = /EADDRINUSE|address already in use|address in use/i;

export class StartError extends Error {}
/** The port was someone else's before the implementation could listen on it. */
class PortTaken extends StartError {}

export class Target {
  readonly stdout: LineReader;
  private readonly stderr: LineReader;
  private stopped?: Promise<void>;
  /** When the group was first sent SIGTERM (performance.now()), by a case or by stop(). */
  private firstSigterm: number | null = null;

  private constructor(
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    readonly command: string,
    readonly dir: string,
    readonly host: string,
    readonly port: number,
    readonly logPath: string,
    private readonly ownDir: boolean,
  ) {
    this.stdout = new LineReader(proc.stdout, true);
    this.stderr = new LineReader(proc.stderr, false);
  }

  /**
   * Starts the implementation; `reportSeconds` adds --spawn-report-interval with {S} set.
   * `prepare` runs in its directory before the start (a stale log to be emptied). On a port
   * the checker picked ({PORT}) and someone else took before the implementation could bind it,
   * it starts again on another port, up to three times.
   */
  static async start(config: CheckConfig, spawned: (t: Target) => void, reportSeconds?: number, prepare?: (dir: string, log: string) => void): Promise<Target> {
    const picked = config.spawn.includes("{PORT}");
    for (let attempt = 1; ; attempt++) {
      try {
        return await Target.startOn(picked ? freePort(config.host) : config.port, config, spawned, reportSeconds, prepare);
      } catch (e) {
        if (!(e instanceof PortTaken) || !picked || attempt === 3) throw e;
      }
    }
  }

  private static async startOn(port: number, config: CheckConfig, spawned: (t: Target) => void, reportSeconds?: number, prepare?: (dir: string, log: string) => void): Promise<Target> {
    await Target.awaitFreePort(config, port);
    const target = Target.launch(port, config, reportSeconds, prepare);
    // Known to the checker from now on: stopping it (Ctrl-C) stops this one too, even while
    // it is still starting.
    spawned(target);
    await target.accepting(config);
    return target;
  }

  /**
   * A port someone listens on already is theirs: nothing is prepared (a stale log written
   * into --cwd would replace that server's log) and nothing is started. The last group's
   * implementation, stopped a moment ago, is given a second to let go of it.
   */
  private static async awaitFreePort(config: CheckConfig, port: number): Promise<void> {
    for (const until = performance.now() + 1000; portTaken(config.host, port); await Bun.sleep(25)) {
      if (performance.now() > until) throw new PortTaken(`\`${config.spawn}\` was not started: ${address(config.host, port)} is held by another process`);
    }
  }

  /** Prepares its directory and spawns the command there, in a process group of its own. */
  private static launch(port: number, config: CheckConfig, reportSeconds?: number, prepare?: (dir: string, log: string) => void): Target {
    const ownDir = config.cwd === "";
    const dir = ownDir ? mkdtempSync(join(tmpdir(), "numbers-check-")) : resolve(config.cwd);
    let command = config.spawn.replaceAll("{PORT}", String(port));
    if (reportSeconds !== undefined && config.spawnReportInterval !== "") {
      command += ` ${config.spawnReportInterval.replaceAll("{S}", String(reportSeconds))}`;
    }
    // Before, a --cwd that was missing or a file failed every case alone, each blaming /bin/sh.
    if (!ownDir && !isDirectory(dir)) throw new StartError(`\`${config.spawn}\` was not started: --cwd ${dir} is not a directory`);
    const logPath = resolve(dir, config.log);
    prepare?.(dir, logPath);
    // Its own process group, so that stopping it reaches whatever the shell started. A simple
    // command replaces the shell (exec), so its exit code and signals are its own: through
    // env where it starts with assignments (`VAR=1 cmd`), which exec would take for the
    // program; one whose program is a shell builtin (`exit 3`, `VAR=1 exec cmd`) is left to
    // the shell.
    const words = command.trim().split(/\s+/);
    const assignments = words.findIndex((w) => !ASSIGNMENT.test(w));
    const program = assignments < 0 ? undefined : words[assignments];
    const simple = !/[;&|()<>`\n]/.test(command) && program !== undefined && !SHELL_BUILTINS.has(program);
    const script = !simple ? command : assignments > 0 ? `exec env ${command}` : `exec ${command}`;
    let proc: Subprocess<"ignore", "pipe", "pipe">;
    try {
      proc = Bun.spawn(["/bin/sh", "-c", script], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
    } catch (e) {
      // The directory refused (no search permission), or no /bin/sh: one line for the run.
      throw new StartError(`\`${command}\` was not started in ${dir}: ${(e as Error).message}`);
    }
    return new Target(proc, command, dir, config.host, port, logPath, ownDir);
  }

  /**
   * Resolves once the implementation accepts connections on its port; disposes of it and
   * throws (PortTaken where the port was someone else's) if it ends or --start-timeout passes
   * first. Its own bound, not --timeout: a start costs what the machine makes it cost (a
   * runtime to load, other processes on the cores), which a short --timeout for the cases'
   * events does not foresee (on a loaded CI machine starts outlasted the quick tests'
   * --timeout 1).
   */
  private async accepting(config: CheckConfig): Promise<void> {
    const { proc, port, command } = this;
    const where = address(this.host, port);
    const began = performance.now();
    const deadline = began + config.startTimeout * 1000;
    for (;;) {
      // Ready only when the listener is the implementation's: another process on the port
      // would take the cases meant for it. Where /proc shows that other process, it is not
      // even probed: a probe would be a client of someone else's server.
      // A connection that succeeded counts only with the listener still the implementation's
      // (before, one that had reached a listener of a moment, gone by the look at /proc,
      // counted as the start).
      let owner = listenerOwner(port, proc.pid);
      const answered = owner !== "foreign" && (await canConnect(this.host, port, 250, config.startTimeout * 1000));
      if (answered) owner = listenerOwner(port, proc.pid);
      if (answered && (owner === "ours" || owner === "unknown")) return;
      const foreign = owner === "foreign";
      // Ended once every process of its group has: a shell that put the server in the
      // background (`cmd &`) exits at once, and the server it started is the implementation.
      const ended = (proc.exitCode !== null || proc.signalCode !== null) && !livingInGroup(proc.pid);
      if (ended || performance.now() > deadline) {
        // Held now, or held when it tried to listen: the port the checker picked can be taken
        // for a moment (another process's outgoing connection given it as its local port)
        // and free again by the time it is looked at here.
        const held = ended && portTaken(this.host, port);
        const found = ended && !held && IN_USE.test(this.stderr.tail);
        const taken = foreign || held || found;
        const why = ended
          ? `exited (${proc.signalCode ?? `code ${proc.exitCode}`}) before it accepted connections${held ? `; ${where} is held by another process` : found ? `; it found ${where} in use` : ""}`
          : foreign
            ? `did not take ${where} within ${config.startTimeout} s (--start-timeout): a process it did not start listens there`
            : `did not accept connections on ${where} within ${config.startTimeout} s (--start-timeout)`;
        await this.dispose(1000);
        // 127 is the shell's "command not found": most often a relative path, since the
        // command runs in a fresh directory.
        const hint = this.ownDir && proc.exitCode === 127 ? " (it runs in a fresh temp directory: give absolute paths, or --cwd DIR)" : "";
        const message = `\`${command}\` ${why}${this.stderrTail()}${hint}`;
        throw taken ? new PortTaken(message) : new StartError(message);
      }
      // Often at first, when most starts end; then less, since each look reads /proc and
      // takes CPU time from the start it waits for (a review saw it take a share of a core).
      await Bun.sleep(performance.now() - began < 1000 ? 25 : 100);
    }
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The log's bytes now (empty when there is no log). */
  readLog(): Uint8Array {
    return existsSync(this.logPath) ? readFileSync(this.logPath) : new Uint8Array();
  }

  /** The last lines the implementation wrote on stderr, for a message. */
  stderrTail(): string {
    const t = this.stderr.tail.trim();
    return t === "" ? "" : `; its stderr ends: ${JSON.stringify(t.slice(-300))}`;
  }

  /**
   * Resolves with the exit code (or the signal's name) once the implementation has ended, or
   * null after `ms`. Ended means every process of its group: where the shell was not replaced
   * (a command with shell syntax), the shell may end before the server it started has written
   * its log, and the code is then the shell's.
   */
  async exit(ms: number): Promise<number | string | null> {
    const deadline = performance.now() + ms;
    if (!(await within(this.proc.exited, ms))) return null;
    while (this.groupAlive()) {
      if (performance.now() >= deadline) return null;
      await Bun.sleep(20);
    }
    return this.proc.signalCode ?? this.proc.exitCode;
  }

  /**
   * exit(), for the exit after a stop signal: it waits `ms`, and past that for as long as the
   * implementation still works, up to `capMs` in all. Working is using CPU time: BUSY_TICKS a
   * second or more through the last second waited (or the whole wait, when shorter). One that
   * ignores the signal idles and is given up on after `ms`; one still busy with what it
   * holds, on a loaded machine, is not taken for it. (Where there is no /proc, `ms` is the
   * bound.) `busy`: it was still at work when `capMs` ran out.
   */
  async exitAfterStop(ms: number, capMs: number): Promise<{ code: number | string | null; busy: boolean }> {
    const started = performance.now();
    const slice = Math.min(1000, ms);
    let code = await this.exit(ms - slice);
    let ticks = groupCpuTicks(this.proc.pid);
    while (code === null) {
      const left = capMs - (performance.now() - started);
      if (left <= 0) return { code, busy: true };
      const waited = Math.min(slice, left);
      code = await this.exit(waited);
      const now = groupCpuTicks(this.proc.pid);
      if (code !== null || ticks === null || now === null || ticksSince(ticks, now) < (BUSY_TICKS * waited) / 1000) break;
      ticks = now;
    }
    return { code, busy: false };
  }

  /** Sends a signal to the whole process group (false once the group is gone). */
  signal(sig: NodeJS.Signals): boolean {
    try {
      process.kill(-this.proc.pid, sig);
      if (sig === "SIGTERM") this.firstSigterm ??= performance.now();
      return true;
    } catch {
      return false;
    }
  }

  /** Whether any process of the group is left running (a zombie waiting for init is not). */
  private groupAlive(): boolean {
    try {
      process.kill(-this.proc.pid, 0);
    } catch {
      return false;
    }
    return livingInGroup(this.proc.pid);
  }

  /**
   * Ends every process of the group: SIGTERM, then SIGKILL `grace` ms after the first SIGTERM
   * it was sent. A case that sent one and waited already has given a server that ignores it
   * its grace: it is not waited for twice.
   */
  stop(grace: number): Promise<void> {
    this.stopped ??= (async () => {
      if (this.signal("SIGTERM")) {
        const deadline = (this.firstSigterm ?? performance.now()) + grace;
        while (this.groupAlive() && performance.now() < deadline) await Bun.sleep(20);
        this.signal("SIGKILL");
      }
      await this.proc.exited;
    })();
    return this.stopped;
  }

  /** Stops it and removes the temp directory it ran in (never a --cwd). */
  async dispose(grace: number): Promise<void> {
    await this.stop(grace);
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
