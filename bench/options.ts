// The benchmark's command lines (`bench` and `bench:ab`), read with the same option tables as
// the server's.

import { bool, integer, parseOptions, UsageError, type OptionSpec, type Parsed } from "../src/options.ts";
import { isWorkload, WORKLOADS, type WorkloadName } from "../src/client/workloads.ts";

export interface BenchConfig {
  count: number;
  runs: number;
  workloads: WorkloadName[];
  /** Server --workers values to measure; empty means the flag is not passed at all. */
  workers: number[];
  /** Time a --resume start on the log of the last random run. */
  resume: boolean;
  /** Run the C yardstick (bench/reference.c) beside ours, when a C compiler is present. */
  reference: boolean;
  /** Where the bar chart of the results goes; "" for none. */
  svg: string;
}

function list<T>(check: (item: string, name: string) => T) {
  return (text: string, name: string): T[] => (text === "" ? [] : text.split(",").map((item) => check(item, name)));
}

const workloadList = list((item, name): WorkloadName => {
  if (!isWorkload(item)) throw new UsageError(`${name} takes a comma list of ${Object.keys(WORKLOADS).join(", ")}; got '${item}'`);
  return item;
});

export const BENCH_OPTIONS = {
  count: {
    flag: "count", env: "NUMBERS_BENCH_COUNT", default: "20000000", read: integer(1, 1_000_000_000),
    help: "numbers per run over 5 connections (the driver holds 10 bytes per number)",
  },
  runs: {
    flag: "runs", env: "NUMBERS_BENCH_RUNS", default: "3", read: integer(1, 1000),
    help: "runs per workload, each on a fresh server; the median is reported",
  },
  workloads: {
    flag: "workloads", env: "NUMBERS_BENCH_WORKLOADS", default: "random,seq,dup", read: workloadList,
    help: "comma list of random, seq, dup",
  },
  workers: {
    flag: "workers", env: "NUMBERS_BENCH_WORKERS", default: "", read: list(integer(1, 1024)),
    help: "comma list; measures the server with --workers W for each (none: flag not passed)",
  },
  resume: {
    flag: "resume", switch: true, env: "NUMBERS_BENCH_RESUME", default: "true", read: bool,
    help: "time `serve --resume` (spawn to readiness) on the last random run's log (first --workers value)",
  },
  reference: {
    flag: "reference", env: "NUMBERS_BENCH_REFERENCE", default: "true", read: bool,
    help: "run the C yardstick (bench/reference.c, built with cc -O2) interleaved with ours",
  },
  svg: {
    flag: "svg", env: "NUMBERS_BENCH_SVG", default: "bench.svg", read: (text: string) => text, empty: true,
    help: "write the results as an SVG bar chart to this file (\"\" for none)",
  },
} satisfies Record<keyof BenchConfig, OptionSpec<unknown>>;

export function parseBenchConfig(argv: string[], env: Record<string, string | undefined>): Parsed<BenchConfig> {
  const parsed = parseOptions(BENCH_OPTIONS, argv, env);
  if (!parsed.help && parsed.config.workloads.length === 0) throw new UsageError("--workloads must name at least one workload");
  return parsed;
}

/** A build or setting that bench:ab measures: a label and the command that serves. */
export interface Variant {
  label: string;
  /** The command's words; the bench adds `--port 0 --report-interval 3600`. */
  cmd: string[];
}

export interface AbConfig {
  count: number;
  runs: number;
  workloads: WorkloadName[];
  variants: Variant[];
}

export const AB_OPTIONS = {
  count: { ...BENCH_OPTIONS.count, env: "NUMBERS_AB_COUNT" },
  runs: { ...BENCH_OPTIONS.runs, env: "NUMBERS_AB_RUNS", default: "5", help: "runs per variant and workload, taking turns; the median is reported" },
  workloads: { ...BENCH_OPTIONS.workloads, env: "NUMBERS_AB_WORKLOADS" },
} satisfies Record<Exclude<keyof AbConfig, "variants">, OptionSpec<unknown>>;

/**
 * `LABEL=COMMAND` as bench:ab takes it. A command's first word, when it is a relative path, is
 * taken from `cwd` (each server runs in a temp directory).
 */
export function parseVariant(text: string, cwd: string): Variant {
  const at = text.indexOf("=");
  const label = at > 0 ? text.slice(0, at) : "";
  const cmd = text.slice(at + 1).split(" ").filter((s) => s);
  if (label === "" || cmd.length === 0) throw new UsageError(`a variant is LABEL=COMMAND (e.g. 'new=dist/numbers-server serve'), got '${text}'`);
  if (cmd[0].includes("/") && !cmd[0].startsWith("/")) cmd[0] = `${cwd}/${cmd[0]}`;
  return { label, cmd };
}

export function parseAbConfig(argv: string[], env: Record<string, string | undefined>, cwd: string): Parsed<AbConfig> {
  const parsed = parseOptions(AB_OPTIONS, argv, env, Infinity);
  if (parsed.help) return parsed;
  if (parsed.config.workloads.length === 0) throw new UsageError("--workloads must name at least one workload");
  if (parsed.positionals.length === 0) throw new UsageError("name at least one variant: LABEL=COMMAND (after --)");
  const variants = parsed.positionals.map((p) => parseVariant(p, cwd));
  return { ...parsed, config: { ...parsed.config, variants } };
}
