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
import { expectedSet, type NumberSet } from "../src/check/verify.ts";
import type { WorkloadName } from "../src/client/workloads.ts";
import { cpuTotal } from "./cpu.ts";
import { BenchError, Driver, exitOnSignals, killAll, machineName, startTarget } from "./procs.ts";
import { serverCommand, stale } from "./server.ts";
import { REPORT_ARGS, serverRun } from "./run.ts";
import { median } from "./table.ts";
import { AB_OPTIONS, parseAbConfig, type AbConfig, type Variant } from "./options.ts";
import { describeOptions, UsageError } from "../src/options.ts";

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
  let config: AbConfig;
  try {
    const parsed = parseAbConfig(process.argv.slice(2), process.env, process.cwd());
    if (parsed.help) {
      process.stdout.write(
        "Usage: bun run bench:ab [options] -- LABEL=COMMAND...\n\n" +
          "Each variant is a label and a command that serves (e.g. 'new=dist/numbers-server serve').\n\n" +
          `Options (flag, environment variable, default):\n${describeOptions(AB_OPTIONS)}\n`,
      );
      return 0;
    }
    config = parsed.config;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench:ab: ${err.message} (see --help)\n`);
    return 2;
  }
  const { runs, count, workloads: names, variants } = config;
  if (stale && variants.some((v) => resolve(v.cmd[0]) === serverCommand[0])) {
    process.stderr.write("bench:ab: warning: a variant runs dist/numbers-server, which is older than src/; run `bun run build` first\n");
  }
  process.stdout.write(`${machineName()}; load average ${loadavg()[0].toFixed(2)} at start; ${count} numbers per run, ${runs} runs per variant, taking turns\n`);
  try {
    for (const name of names) process.stdout.write((await workload(name, variants, runs, count)).join("\n") + "\n");
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`bench:ab: FAILED: ${err instanceof BenchError ? e.message : (e.stack ?? String(err))}\n`);
    return 1;
  } finally {
    killAll();
  }
  return 0;
}

exitOnSignals();
process.exit(await main());
