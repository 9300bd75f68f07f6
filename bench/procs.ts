// The benchmark's child processes: targets (the server or the sink) started until their
// readiness line, and the driver spoken to over stdin/stdout. Every child and every temp
// directory is registered, so that a failure anywhere, or a signal, kills whatever is still
// running and removes what was made.

import type { Subprocess } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolve } from "node:path";
import type { DriverError, DriverReady, DriverSent } from "./driver.ts";
import type { WorkloadName } from "../src/client/workloads.ts";

export class BenchError extends Error {}

/** The machine measured on: its CPU model, its cores, and the Bun that runs the bench. */
export function machineName(): string {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown CPU";
  return `${cpu}, ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}`;
}

const running = new Set<Subprocess>();

/** Registers a child, to be killed by killAll(). */
export function track<P extends Subprocess>(proc: P): P {
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return proc;
}

/** Kills every child that has not exited yet (for failure paths). */
export function killAll(): void {
  for (const proc of running) proc.kill("SIGKILL");
}

const made = new Set<string>();

/** A fresh temp directory named `prefix`XXXXXX; removeDir() removes it, and a signal does (exitOnSignals). */
export function makeDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  made.delete(dir);
}

/**
 * SIGINT and SIGTERM kill every child and remove every temp directory before the exit
 * (130, 143). Before, only `bun run bench` killed its children, and none removed its
 * directories: a run's log (~200 MB) stayed behind, and a server of bench:ab or
 * bench:metrics went on running, its parent gone (a review; a terminal's Ctrl-C reaches the
 * whole group, but `timeout`, CI or a supervisor signal the bench alone).
 */
export function exitOnSignals(): void {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      killAll();
      for (const dir of made) removeDir(dir);
      process.exit(code);
    });
  }
}

/**
 * How long a target may take to print its readiness line: the server's warm-up takes about a
 * second here; one that never prints it hung the bench for good (a review).
 */
const READY_MS = 60_000;

/** The next line of `lines`, or a BenchError past `ms` (READY_MS: for a start). */
export async function nextWithin<T>(lines: AsyncGenerator<T>, what: string, ms = READY_MS): Promise<IteratorResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchError(`${what} printed nothing within ${ms / 1000} s of its start`)), ms);
  });
  try {
    return await Promise.race([lines.next(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a byte stream as text lines, without their LF. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  // A reader, not `for await` over the stream, as the tests and the checker read a spawned
  // process's output (docs/testing.md, 2026-12-07).
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += decoder.decode(r.value, { stream: true });
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest;
}

export interface Target {
  proc: Subprocess<"ignore", "ignore" | "pipe", "pipe">;
  host: string;
  port: number;
  /** Milliseconds from the spawn to the readiness line: process start-up included. */
  readyMs: number;
  /** Everything the target wrote to stderr after its readiness line, so far. */
  stderr(): string;
}

/**
 * Spawns `cmd` in `cwd` and resolves once it prints `listening on HOST:PORT` on stderr.
 * Its stdout is piped only when asked for: nobody reads it otherwise.
 */
export async function startTarget(cmd: string[], cwd: string, stdout: "ignore" | "pipe" = "ignore"): Promise<Target> {
  const spawnedAt = performance.now();
  const proc = track(Bun.spawn(cmd, { cwd, stdin: "ignore", stdout, stderr: "pipe" }));
  const errLines = lines(proc.stderr);
  let first: IteratorResult<string>;
  try {
    first = await nextWithin(errLines, cmd.join(" "));
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
  const readyMs = performance.now() - spawnedAt;
  const m = !first.done && /^listening on (.+):(\d+)$/.exec(first.value);
  let text = "";
  // Keep reading so a chatty target never blocks on a full pipe.
  const drained = (async () => {
    for await (const line of errLines) text += line + "\n";
  })();
  if (!m) {
    proc.kill("SIGKILL");
    await drained;
    throw new BenchError(`${cmd.join(" ")} did not start: ${first.value ?? "(no output)"}\n${text}`);
  }
  return { proc, host: m[1], port: Number(m[2]), readyMs, stderr: () => text };
}

const DRIVER = resolve(import.meta.dir, "driver.ts");

/** The load process for one workload; its payloads are built once and sent on each `send`. */
export class Driver {
  private constructor(
    private readonly proc: Subprocess<"pipe", "pipe", "inherit">,
    private readonly out: AsyncGenerator<string>,
    readonly ready: DriverReady,
  ) {}

  /** The driver's process, whose CPU a run charges to the load (run.ts). */
  get pid(): number {
    return this.proc.pid;
  }

  /** Spawns the driver and resolves once it has generated all payloads. */
  static async start(workload: WorkloadName, count: number): Promise<Driver> {
    const cmd = [process.execPath, DRIVER, "--workload", workload, "--count", String(count)];
    const proc = track(Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "inherit" }));
    const out = lines(proc.stdout);
    return new Driver(proc, out, (await Driver.reply(out)) as DriverReady);
  }

  /** Sends every payload to host:port and returns the driver's timing. */
  async send(host: string, port: number): Promise<DriverSent> {
    this.proc.stdin.write(`send ${host} ${port}\n`);
    this.proc.stdin.flush();
    return (await Driver.reply(this.out)) as DriverSent;
  }

  async close(): Promise<void> {
    this.proc.stdin.end();
    await this.proc.exited;
  }

  private static async reply(out: AsyncGenerator<string>): Promise<DriverReady | DriverSent> {
    const line = await out.next();
    if (line.done) throw new BenchError("the driver exited unexpectedly");
    const message = JSON.parse(line.value) as DriverReady | DriverSent | DriverError;
    if ("error" in message) throw new BenchError(`driver: ${message.error}`);
    return message;
  }
}
