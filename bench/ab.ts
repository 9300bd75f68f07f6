#!/usr/bin/env bun
// A/B of server builds or settings in one invocation (`bun run bench:ab`), for the entries of
// docs/experiments.md: each variant is a label and a command that serves (the bench adds
// `--port 0 --report-interval 3600`); the variants take turns on a fresh server per run, in
// an order reversed every other run, every log verified. It prints the medians per variant
// and workload: M numbers/s, the server's CPU seconds (JIT threads apart) and how much of
// the whole machine stood idle during the sends (a share near 0 says that the two cores,
// shared with the load process, were the limit).
//
//   bun run bench:ab --runs 7 --workloads seq,dup -- "old=/tmp/old serve" "new=dist/numbers-server serve"
//
// A command's first word, when it is a relative path, is taken from the current directory.

import { loadavg } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { expectedSet, type NumberSet } from "../src/check/verify.ts";
import { isWorkload, type WorkloadName } from "../src/client/workloads.ts";
import { cpuTotal } from "./cpu.ts";
import { BenchError, Driver, killAll, startTarget } from "./procs.ts";
import { REPORT_ARGS, serverRun } from "./run.ts";
import { median } from "./table.ts";

interface Variant {
  label: string;
  cmd: string[];
}

interface Sample {
  rate: number;
  cpu: number;
  jit: number;
  idle: number;
}

/** One run of `variant` (see run.ts): its rate, the server's CPU, and the machine's idle share. */
async function run(variant: Variant, driver: Driver, expected: NumberSet, count: number): Promise<Sample> {
  const start = (dir: string) => startTarget([...variant.cmd, "--port", "0", ...REPORT_ARGS], dir);
  const { ms, cpu, idle } = await serverRun(driver, expected, variant.label, start);
  return { rate: count / (ms / 1000), cpu: cpuTotal(cpu), jit: cpu.jit, idle };
}

async function workload(name: WorkloadName, variants: Variant[], runs: number, count: number): Promise<string[]> {
  const driver = await Driver.start(name, count);
  const expected = expectedSet(name, count);
  const samples = variants.map(() => [] as Sample[]);
  try {
    for (let r = 0; r < runs; r++) {
      const order = variants.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const v of order) samples[v].push(await run(variants[v], driver, expected, count));
    }
  } finally {
    await driver.close();
  }
  return variants.map((variant, v) => {
    const of = (key: keyof Sample) => median(samples[v].map((s) => s[key]));
    const rates = samples[v].map((s) => s.rate / 1e6);
    return `${name.padEnd(6)}  ${variant.label.padEnd(12)}  ${(of("rate") / 1e6).toFixed(1).padStart(6)} M/s ` +
      `(${Math.min(...rates).toFixed(1)}-${Math.max(...rates).toFixed(1)})  CPU ${of("cpu").toFixed(3)} s ` +
      `(JIT ${of("jit").toFixed(3)})  machine idle ${(of("idle") * 100).toFixed(0)}%`;
  });
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: { runs: { type: "string", default: "5" }, workloads: { type: "string", default: "random,seq,dup" }, count: { type: "string", default: "20000000" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`bench:ab: ${(err as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const runs = Number(values.runs);
  const count = Number(values.count);
  const names = values.workloads!.split(",");
  const variants = positionals.map((p) => {
    const cmd = p.slice(p.indexOf("=") + 1).split(" ").filter((s) => s);
    // Each server runs in a temp directory: a relative path is taken from here.
    if (cmd[0]?.includes("/")) cmd[0] = resolve(cmd[0]);
    return { label: p.slice(0, p.indexOf("=")), cmd };
  });
  const bad = !Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(count) || count < 1 || !names.every(isWorkload) ||
    variants.length === 0 || variants.some((v) => v.label === "" || v.cmd.length === 0);
  if (bad) {
    process.stderr.write("bench:ab: usage: bun run bench:ab [--runs N] [--count N] [--workloads random,seq,dup] -- LABEL=COMMAND...\n");
    return 2;
  }
  process.stdout.write(`load average ${loadavg()[0].toFixed(2)}; ${count} numbers per run, ${runs} runs per variant, taking turns\n`);
  try {
    for (const name of names as WorkloadName[]) process.stdout.write((await workload(name, variants, runs, count)).join("\n") + "\n");
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`bench:ab: FAILED: ${err instanceof BenchError ? e.message : (e.stack ?? String(err))}\n`);
    return 1;
  } finally {
    killAll();
  }
  return 0;
}

process.exit(await main());
