// The benchmark's verifier must catch every way a log can be wrong, and the benchmark
// itself must run end to end against the real server.

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createBitmap, testAndSet } from "../../src/core/bitmap.ts";
import { BenchError, nextWithin } from "../../bench/procs.ts";
import { sendWatched } from "../../bench/driver.ts";
import { logComplete } from "../../bench/run.ts";
import { resumeRun, resumeText } from "../../bench/resume.ts";
import { LogChecker, expectedSet, type NumberSet } from "../../src/check/verify.ts";
import { buildReference, startReference } from "../../bench/reference.ts";
import { cpuSince, threadTimes } from "../../bench/cpu.ts";
import { cpuMarkdownTable, markdownTable } from "../../bench/table.ts";
import { serveThreads } from "../../src/server/config.ts";
import { CONNECTIONS, workloadNumbers } from "../../src/client/workloads.ts";
import { encodeLines } from "../../src/core/protocol.ts";
import { parseAbConfig } from "../../bench/options.ts";
import { UsageError } from "../../src/options.ts";
import { serverCommand, tempDir } from "../support/server.ts";
import { connect } from "../support/peer.ts";
import { sendAll } from "../support/client.ts";

function setOf(values: number[]): NumberSet {
  const bits = createBitmap();
  let size = 0;
  for (const v of values) if (testAndSet(bits, v)) size++;
  return { bits, size };
}

/**
 * The expected sets, each built once: a set is a 125 MB bitmap, dear to allocate, and a
 * LogChecker only reads it.
 */
const sets = new Map<string, NumberSet>();

/** Checks `log` against the expected values, fed in chunks of `chunk` bytes. */
function check(values: number[], log: string, chunk = 4096, nameMissing = true) {
  const key = values.join(",");
  if (!sets.has(key)) sets.set(key, setOf(values));
  const checker = new LogChecker(sets.get(key)!);
  const bytes = new TextEncoder().encode(log);
  for (let i = 0; i < bytes.length; i += chunk) checker.feed(bytes.subarray(i, i + chunk));
  return checker.finish(nameMissing);
}

const hasCC = Bun.which("cc") !== null;

const VALUES = [0, 7, 123456789, 999999999];
const LOG = "000000000\n123456789\n000000007\n999999999\n";

// First in the file: the test files under test/bench run their tests concurrently
// (bunfig.toml), so this one, which waits on the benchmark's processes, runs while the
// LogChecker tests below take this process's CPU.
// A whole bench (a sink, our server and the C yardstick per workload, a --resume start) takes
// ~4 s alone on the 2-core box and more on a loaded one: a minute, not the 5 s default.
test("bun run bench runs end to end, verifies every log and draws the chart", async () => {
  const dir = tempDir();
  const svg = join(dir, "chart.svg");
  const main = resolve(import.meta.dir, "../../bench/main.ts");
  const proc = Bun.spawn([process.execPath, main, "--count", "20000", "--runs", "1", "--svg", svg], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  const chart = readFileSync(svg, "utf8");
  rmSync(dir, { recursive: true, force: true });
  expect(chart).toStartWith("<svg ");
  // One bar each for ours, the C yardstick and the sink, per workload.
  expect(chart.match(/<rect x="[\d.]+" y="[\d.]+" width="44"/g)).toHaveLength(hasCC ? 9 : 6);
  for (const workload of ["random", "seq", "dup"]) expect(chart).toContain(`>${workload}</text>`);
  // The goals' dashed lines: of the sink on seq and dup; of C on every workload when C ran.
  // Within a group they are drawn highest first, an order the run's figures decide.
  const goals = [...chart.matchAll(/<title>(\w+): goal ([\d.]+(x C|% of sink)),/g)].map((g) => `${g[1]} ${g[2]}`);
  expect(goals.toSorted()).toEqual([...(hasCC ? ["dup 1.6x C"] : []), "dup 55% of sink", ...(hasCC ? ["random 4x C", "seq 1.8x C"] : []), "seq 30% of sink"]);
  for (const workload of ["random", "seq", "dup"]) expect(out).toMatch(new RegExp(`^\\| ${workload} \\| [\\d.]+ \\|`, "m"));
  // Ours and the C yardstick, each workload.
  expect(err.match(/server: .* log verified/g)).toHaveLength(3);
  expect(err.match(/C yardstick: .* log verified/g) ?? []).toHaveLength(hasCC ? 3 : 0);
  if (hasCC) for (const workload of ["random", "seq", "dup"]) expect(out).toMatch(new RegExp(`^\\| ${workload} \\| .* \\| [\\d.]+x \\|`, "m"));
  // After the text table and after the Markdown one.
  expect(out.match(/^resume: loaded \d+ lines \([\d.]+ MB\) in [\d.]+ s/gm)).toHaveLength(2);
  // The CPU table, as text and as Markdown: the server's threads were busy during each run.
  expect(out.match(/^CPU seconds per run/gm)).toHaveLength(2);
  for (const workload of ["random", "seq", "dup"]) {
    const row = new RegExp(`^\\| ${workload} \\| ([\\d.]+) \\| ([\\d.]+) \\| [\\d.]+ \\| [\\d.]+ \\| ([\\d.]+) \\|`, "m").exec(out.split("CPU seconds per run").at(-1)!);
    expect(row).not.toBeNull();
    expect(Number(row![1])).toBeGreaterThan(0);
    expect(Number(row![3])).toBeGreaterThanOrEqual(Number(row![1]));
    // The driver's CPU, the machine's idle share and the sink's CPU close each row (20,000
    // numbers take well under the millisecond the table shows, so only their form is checked).
    const tail = new RegExp(`^\\| ${workload} \\|.* \\| ([\\d.]+) \\| (\\d+)% \\| ([\\d.]+) \\|$`, "m").exec(out.split("CPU seconds per run").at(-1)!);
    expect(tail).not.toBeNull();
    expect(Number(tail![2])).toBeLessThanOrEqual(100);
  }
}, 60_000);

describe("LogChecker", () => {
  test("accepts exactly the expected numbers in any order, however the bytes are chunked", () => {
    for (const chunk of [1, 3, 10, 7, 4096]) {
      const r = check(VALUES, LOG, chunk);
      expect(r).toMatchObject({ ok: true, lines: 4, expected: 4, missing: 0, extra: 0, duplicates: 0, malformed: 0 });
    }
  });

  test("detects a missing number", () => {
    const r = check(VALUES, "000000000\n123456789\n999999999\n");
    expect(r).toMatchObject({ ok: false, missing: 1, extra: 0 });
    expect(r.examples).toContain("000000007 is missing");
    // For a log a stop cut short (durability/sigterm-whole-lines), where a missing number is
    // no fault: counted, not named among the examples, which name the torn line.
    const cut = check(VALUES, "000000000\n123456789\n9999", 4096, false);
    expect(cut).toMatchObject({ ok: false, missing: 2, malformed: 1 });
    expect(cut.examples).toEqual(['line 3: "9999" has no LF at the end of the file']);
  });

  test("detects a number that was never sent", () => {
    const r = check(VALUES, LOG + "000000042\n");
    expect(r).toMatchObject({ ok: false, missing: 0, extra: 1 });
    expect(r.examples).toContain("000000042 was never sent");
  });

  test("detects a duplicate line", () => {
    const r = check(VALUES, LOG + "123456789\n", 3);
    expect(r).toMatchObject({ ok: false, lines: 5, duplicates: 1, missing: 0, extra: 0 });
    expect(r.examples).toContain("line 5: 123456789 is a duplicate");
  });

  test("detects malformed lines of every kind", () => {
    const bad = ["12345678", "1234567890", "12345678a", "123456789\r", "", " 23456789", "0000000000000000000000000"];
    for (const line of bad) {
      for (const chunk of [1, 4096]) {
        const r = check(VALUES, LOG + line + "\n", chunk);
        expect(r).toMatchObject({ ok: false, lines: 5, malformed: 1, missing: 0, extra: 0 });
      }
    }
    expect(check(VALUES, LOG + "0000000000000000000000000\n").examples[0]).toBe(
      'line 5: "0000000000000000"... (25 bytes) is not nine digits',
    );
  });

  test("detects a last line without its LF", () => {
    const r = check(VALUES, LOG.slice(0, -1));
    expect(r).toMatchObject({ ok: false, malformed: 1, missing: 1 });
    expect(r.examples[0]).toBe('line 4: "999999999" has no LF at the end of the file');
  });

  test("an empty log matches only an empty set", () => {
    expect(check([], "").ok).toBe(true);
    expect(check(VALUES, "")).toMatchObject({ ok: false, missing: 4 });
  });
});

describe("workloads", () => {
  test("seq gives each connection a contiguous range", () => {
    const seq = Array.from({ length: CONNECTIONS }, (_, c) => [...workloadNumbers("seq", 12, c)]);
    expect(seq.map((s) => s.length)).toEqual([3, 3, 2, 2, 2]);
    expect(seq.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test("the expected set counts unique numbers only", () => {
    expect(expectedSet("seq", 1000).size).toBe(1000);
    const dup = expectedSet("dup", 20000);
    expect(dup.size).toBeLessThanOrEqual(1000);
    expect(dup.size).toBeGreaterThan(990);
  });
});

describe("resume measurement", () => {
  const LINES = 5000;
  const log = encodeLines(Uint32Array.from({ length: LINES }, (_, i) => (i * 7919) % 1_000_000_000));

  test("times a --resume start on a log and leaves the log as it was", async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, "numbers.log"), log);
      const r = await resumeRun(dir, LINES, 2);
      expect(r).toMatchObject({ lines: LINES, bytes: LINES * 10, workers: 2 });
      expect(r.ms).toBeGreaterThan(0);
      expect(readFileSync(join(dir, "numbers.log")).equals(log)).toBe(true);
      expect(resumeText({ lines: 1_000_000, bytes: 10_000_000, ms: 500, workers: 2 })).toStartWith(
        "resume: loaded 1000000 lines (10.0 MB) in 0.500 s (2.0 M lines/s): `serve --resume --workers 2` from spawn to readiness line",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("refuses a log whose length is not the run's line count", async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, "numbers.log"), log);
      await expect(resumeRun(dir, LINES - 1, undefined)).rejects.toThrow(
        new BenchError(`numbers.log has ${LINES * 10} bytes, not ${LINES - 1} lines, before --resume`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("fails with the server's message when it cannot resume", async () => {
    const dir = tempDir();
    try {
      const damaged = log.slice();
      damaged[10 * 100 + 3] = 0x78;
      writeFileSync(join(dir, "numbers.log"), damaged);
      const failure = await resumeRun(dir, LINES, undefined).catch((err: Error) => err);
      expect(failure).toBeInstanceOf(BenchError);
      expect((failure as Error).message).toContain("line 101 is not nine digits");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Before, a server that stopped reading held the bench for good, and one that closed its
// clients before it wrote their numbers was timed to the close, as if it were done.
describe("a run that never ends, or ends before its log does", () => {
  test("a send to a server that takes the bytes but never closes is given up once nothing moves", async () => {
    // Half-open kept: the client's FIN gets no close back.
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, allowHalfOpen: true, socket: { data() {}, end() {} } });
    try {
      const payloads = [encodeLines(Uint32Array.from([1, 2, 3]))];
      await expect(sendWatched("127.0.0.1", listener.port, payloads, 300)).rejects.toThrow(
        "the server made no progress for 0.3 s: 30 of 30 bytes taken, 0 of 1 connections closed",
      );
    } finally {
      listener.stop(true);
    }
  });

  test("the run's time goes on until the log is complete, counted from the last close; a log that stays short is a BenchError", async () => {
    const path = join(tempDir(), "numbers.log");
    const epochNow = () => performance.timeOrigin + performance.now();
    writeFileSync(path, "000000001\n");
    expect(await logComplete(path, 10, "ours", epochNow() - 50)).toBe(0);
    // Not complete at the first look: timed from the close (50 ms before the call), not from the look.
    const waiting = logComplete(path, 20, "ours", epochNow() - 50, 5_000);
    writeFileSync(path, "000000002\n", { flag: "a" });
    expect(await waiting).toBeGreaterThanOrEqual(50);
    await expect(logComplete(path, 30, "C", epochNow(), 50)).rejects.toThrow("C's log holds 20 of 30 bytes 0.05 s after the last close: numbers are missing");
  });
});

// Before, a target that never printed its readiness line hung the bench for good, and a
// signal left its temp dirs (a run's ~200 MB log) behind (a review).
describe("a bench's children and temp dirs", () => {
  test("a target silent past the bound is a BenchError naming it", async () => {
    async function* silent(): AsyncGenerator<string> {
      await new Promise(() => {});
    }
    await expect(nextWithin(silent(), "the server", 50)).rejects.toThrow(new BenchError("the server printed nothing within 0.05 s of its start"));
  });

  test("SIGTERM removes every temp dir the bench made and exits 143", async () => {
    const script = join(tempDir(), "bench-like.ts");
    writeFileSync(script, `import { exitOnSignals, makeDir } from ${JSON.stringify(resolve(import.meta.dir, "../../bench/procs.ts"))};\n` +
      `exitOnSignals();\nconsole.log(makeDir("numbers-bench-test-"));\nsetInterval(() => {}, 1000);\n`);
    const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) out += new TextDecoder().decode((await reader.read()).value);
    const dir = out.trim();
    expect(existsSync(dir)).toBe(true);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
    expect(existsSync(dir)).toBe(false);
  });
});

test("bad options are usage errors", async () => {
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../bench/main.ts"), "--workloads", "random,nope"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("--workloads takes a comma list of random, seq, dup; got 'nope'");
});

test.skipIf(!hasCC)("the C yardstick keeps the rules: bad line resets, sixth client refused, half-close, terminate", async () => {
  const ref = buildReference();
  if ("skipped" in ref) throw new Error(ref.skipped);
  const dir = tempDir();
  try {
    const target = await startReference(ref, dir, []);
    const [bystander, peer, a, b, c] = await Promise.all([0, 1, 2, 3, 4].map(() => connect(target.port)));
    // A line cut across writes, a duplicate, then a bad line: the lines before it count.
    peer.write("00000");
    peer.write("0007\n123456789\n000000007\n12a");
    await peer.closed;
    expect(bystander.isClosed).toBe(false);
    // Its slot is free again; the five now connected hold every slot, so a sixth is closed.
    const fifth = await connect(target.port);
    const sixth = await connect(target.port);
    await sixth.closed;
    expect([a, b, c, fifth, bystander].some((p) => p.isClosed)).toBe(false);
    await sendAll(a, "999999999\n000000042\n");
    // A client's close says its numbers are in the log, as ours does: the bench times both
    // to a complete log.
    const sorted = () => readFileSync(join(dir, "numbers.log"), "latin1").split("\n").toSorted();
    expect(sorted()).toEqual(["", "000000007", "000000042", "123456789", "999999999"]);
    bystander.write("555555555\nterminate\n");
    expect(await target.proc.exited).toBe(0);
    await Promise.all([bystander.closed, b.closed, c.closed, fifth.closed]);
    expect(sorted()).toEqual(["", "000000007", "000000042", "123456789", "555555555", "999999999"]);
  } finally {
    ref.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the table gives the median rate and RSS, the highest RSS of the runs against its bound, and two threads over one against its goal", () => {
  const row = (workers: number, rates: number[], rssMiB: number[]) =>
    ({ workload: "random", workers, threads: workers, rates, sinkRates: [200e6, 100e6, 300e6], bytesPerNumber: 10, rssKiB: rssMiB.map((m) => m * 1024) });
  // The bounds and the scaling goal are bench/goals.ts's (RSS_MIB, SCALING).
  expect(markdownTable([row(1, [30e6, 10e6, 20e6], [170, 180, 160]), row(2, [32e6, 28e6, 30e6], [185, 190])]).split("\n")).toEqual([
    "| workload | workers | M numbers/s | MB/s | min-max M/s | sink M/s | of sink | sink goal | over 1 thread | threads goal | peak RSS MiB | max RSS MiB | RSS goal |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    "| random | 1 | 20.0 | 200 | 10.0-30.0 | 200.0 | 10% | - | - | - | 170.0 | 180.0 | ≤175 over |",
    "| random | 2 | 30.0 | 300 | 28.0-32.0 | 200.0 | 15% | - | 1.50x | ≥1.50x met | 187.5 | 190.0 | ≤190 met |",
  ]);
  // A run of one thread count alone has no ratio to show.
  expect(markdownTable([row(2, [32e6], [150])]).split("\n")[0]).not.toContain("over 1 thread");
});

test("with the C yardstick, the table gives its median, our median's ratio to it, and each ratio against its goal", () => {
  const row = (workload: string, rates: number[], sink: number) =>
    ({ workload, rates, sinkRates: [sink], cRates: [16e6, 8e6, 40e6], bytesPerNumber: 10, rssKiB: [170 * 1024] });
  // seq: goals 1.8x C and 30% of the sink; dup: 1.6x and 55%.
  expect(markdownTable([row("seq", [30e6, 10e6, 20e6], 200e6), row("dup", [30e6, 29e6], 50e6)]).split("\n")).toEqual([
    "| workload | M numbers/s | MB/s | min-max M/s | C M/s | of C | C goal | sink M/s | of sink | sink goal | peak RSS MiB | max RSS MiB | RSS goal |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    "| seq | 20.0 | 200 | 10.0-30.0 | 16.0 | 1.25x | ≥1.80x short | 200.0 | 10% | ≥30% short | 170.0 | 170.0 | - |",
    "| dup | 29.5 | 295 | 29.0-30.0 | 16.0 | 1.84x | ≥1.60x met | 50.0 | 59% | ≥55% met | 170.0 | 170.0 | - |",
  ]);
});

// The speed goals are issue 19's for the default settings: before, a --workers 1 row was
// called short of two threads' goal.
test("the speed goals stand beside the rows of the default thread count alone", () => {
  const auto = serveThreads("auto");
  const row = (threads: number) => ({ workload: "seq", workers: threads, threads, rates: [20e6], sinkRates: [200e6], cRates: [10e6], bytesPerNumber: 10, rssKiB: [150 * 1024] });
  const goalCells = (threads: number) => {
    const [head, , line] = markdownTable([row(threads)]).split("\n").map((l) => l.split(" | "));
    return [head.indexOf("C goal"), head.indexOf("sink goal")].map((k) => line[k]);
  };
  expect(goalCells(auto)).toEqual(["≥1.80x met", "≥30% short"]);
  expect(goalCells(auto + 1)).toEqual(["-", "-"]);
});

test("the CPU table gives each kind of thread's median seconds, their total, C's, the driver's, the idle share and the sink's", () => {
  const split = (main: number, workers: number, jit: number, other: number) => ({ main, workers, jit, other });
  const row = {
    workload: "dup",
    workers: 2,
    rates: [1e8],
    sinkRates: [2e8],
    bytesPerNumber: 10,
    rssKiB: [180 * 1024],
    cpu: [split(0.15, 0.1, 0.01, 0.002), split(0.17, 0.09, 0.02, 0), split(0.12, 0.11, 0.005, 0.001)],
    cCpu: [0.2, 0.18, 0.22],
    driverCpu: [0.05, 0.04, 0.06],
    idle: [0.02, 0.1, 0.04],
    sinkCpu: [0.03, 0.045, 0.04],
  };
  expect(cpuMarkdownTable([row]).split("\n")).toEqual([
    "| workload | workers | main s | workers s | JIT s | other s | total s | C s | driver s | idle | sink s |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    "| dup | 2 | 0.150 | 0.100 | 0.010 | 0.001 | 0.262 | 0.200 | 0.050 | 4% | 0.040 |",
  ]);
});

test("cpuSince() charges a busy main thread to `main` and a busy Worker to `workers`", async () => {
  const before = threadTimes(process.pid);
  // Each thread spins until it has run 100 ms of CPU by its own count (schedstat of the
  // thread), however loaded the machine; the worker stays alive after its answer (until
  // terminate()): a thread that has ended is no longer in /proc for cpuSince to read.
  const spin = `const ran = () => Number(require("node:fs").readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e9;
    const from = ran(); while (ran() - from < 0.1);`;
  const worker = new Worker(URL.createObjectURL(new Blob([`${spin} postMessage('done'); setInterval(() => {}, 1000);`])));
  const done = new Promise((resolve) => (worker.onmessage = resolve));
  new Function("require", spin)(require);
  await done;
  const cpu = cpuSince(process.pid, before);
  worker.terminate();
  expect(cpu.main).toBeGreaterThanOrEqual(0.1);
  expect(cpu.workers).toBeGreaterThanOrEqual(0.1);
  expect(cpu.main).toBeLessThan(5);
});

// Two fresh servers and their sinks: ~2 s alone, more on a loaded machine.
test("bun run bench:ab runs each variant in turn, verifies every log, and gives a line per variant", async () => {
  const ab = resolve(import.meta.dir, "../../bench/ab.ts");
  const serve = `${serverCommand().join(" ")} serve --warmup 0`;
  const proc = Bun.spawn([process.execPath, ab, "--count", "20000", "--runs", "1", "--workloads", "dup", "--", `one=${serve} --workers 1`, `two=${serve} --workers 2`], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err }).toEqual({ code: 0, err: "" });
  const rows = out.trim().split("\n").slice(1);
  expect(rows.map((r) => r.split(/\s+/).slice(0, 2))).toEqual([["dup", "one"], ["dup", "two"]]);
  for (const row of rows) expect(row).toMatch(/ [\d.]+ M\/s \([\d.]+-[\d.]+\)  CPU [\d.]+ s \(JIT [\d.]+\)  machine idle \d+%$/);
  const usage = Bun.spawnSync([process.execPath, ab, "--runs", "0", "--", "x=true"]);
  expect({ code: usage.exitCode, err: usage.stderr.toString() }).toEqual({ code: 2, err: "bench:ab: --runs must be a whole number from 1 to 1000, got '0' (see --help)\n" });
}, 30_000);

describe("bench:ab's command line", () => {
  const config = (argv: string[], env: Record<string, string> = {}) => {
    const parsed = parseAbConfig(argv, env, "/here");
    if (parsed.help) throw new Error("unexpected help");
    return parsed.config;
  };

  test("variants are LABEL=COMMAND, a relative first word taken from the directory it runs in", () => {
    expect(config(["--", "old=/tmp/old serve", "new=dist/numbers-server serve --workers 1"])).toEqual({
      count: 20_000_000, runs: 5, workloads: ["random", "seq", "dup"],
      variants: [
        { label: "old", cmd: ["/tmp/old", "serve"] },
        { label: "new", cmd: ["/here/dist/numbers-server", "serve", "--workers", "1"] },
      ],
    });
    expect(config(["--runs", "7", "a=x"], { NUMBERS_AB_WORKLOADS: "dup", NUMBERS_AB_RUNS: "3" })).toMatchObject({ runs: 7, workloads: ["dup"] });
  });

  test("--help, and a bad value, a variant without a label or command, or none at all are usage errors", () => {
    expect(parseAbConfig(["--help"], {}, "/here")).toEqual({ help: true });
    for (const [argv, message] of [
      [["--runs", "1e3", "a=x"], "--runs must be a whole number from 1 to 1000, got '1e3'"],
      [["--count", "2000000000", "a=x"], "--count must be a whole number from 1 to 1000000000, got '2000000000'"],
      [["--", "ab"], "a variant is LABEL=COMMAND (e.g. 'new=dist/numbers-server serve'), got 'ab'"],
      [["--", "=cmd"], "a variant is LABEL=COMMAND (e.g. 'new=dist/numbers-server serve'), got '=cmd'"],
      [["--", "a= "], "a variant is LABEL=COMMAND (e.g. 'new=dist/numbers-server serve'), got 'a= '"],
      [[], "name at least one variant: LABEL=COMMAND (after --)"],
    ] as const) {
      expect(() => parseAbConfig([...argv], {}, "/here")).toThrow(new UsageError(message));
    }
  });
});
