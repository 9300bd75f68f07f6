// The benchmark's statistics and result tables (throughput, and CPU time by thread), as
// aligned text and as Markdown.

import { cpuTotal, type CpuSplit } from "./cpu.ts";
import { serveThreads } from "../src/server/config.ts";
import { boundCell, goalCell, GOALS, RSS_MIB, SCALING } from "./goals.ts";

/** The serving threads of the default settings here (--workers auto), for which the speed goals are set. */
const DEFAULT_THREADS = serveThreads("auto");

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Row {
  workload: string;
  /** The server's --workers value, when the run passed one. */
  workers?: number;
  /** Its serving threads: --workers, or what the default gave (for the RSS goal). */
  threads?: number;
  /** Numbers per second of each run of the server. */
  rates: number[];
  /** Numbers per second of each run of the sink. */
  sinkRates: number[];
  /** Numbers per second of each run of the C yardstick, when it ran. */
  cRates?: number[];
  /** Payload bytes per number (10: nine digits and LF). */
  bytesPerNumber: number;
  /** The server's VmHWM (peak RSS) of each run, in KiB. */
  rssKiB: number[];
  /** The server's CPU time of each run, by kind of thread. */
  cpu?: CpuSplit[];
  /** The C yardstick's CPU seconds of each run. */
  cCpu?: number[];
  /** The driver's CPU seconds during each run of the server: the load, on the same cores. */
  driverCpu?: number[];
  /** The machine's idle share during each run of the server (0 to 1). */
  idle?: number[];
  /** The sink's CPU seconds of each run: what reading the bytes alone costs. */
  sinkCpu?: number[];
}

const millions = (rate: number) => (rate / 1e6).toFixed(1);

/** Our median over the C yardstick's median, when it ran. */
export function cRatio(r: Row): number | undefined {
  return r.cRates && r.cRates.length > 0 ? median(r.rates) / median(r.cRates) : undefined;
}

/** Two threads over one: a row of --workers 2 over the same workload's row of --workers 1. */
function scaling(rows: Row[], r: Row): number | undefined {
  const one = rows.find((o) => o.workload === r.workload && o.workers === 1);
  return r.workers === 2 && one ? median(r.rates) / median(one.rates) : undefined;
}


function cells(rows: Row[]): string[][] {
  const withWorkers = rows.some((r) => r.workers !== undefined);
  const withScaling = rows.some((r) => scaling(rows, r) !== undefined);
  const withC = rows.some((r) => r.cRates !== undefined);
  const head = ["workload", ...(withWorkers ? ["workers"] : []), "M numbers/s", "MB/s", "min-max M/s",
    ...(withC ? ["C M/s", "of C", "C goal"] : []), "sink M/s", "of sink", "sink goal",
    ...(withScaling ? ["over 1 thread", "threads goal"] : []), "peak RSS MiB", "max RSS MiB", "RSS goal"];
  const body = rows.map((r) => {
    const rate = median(r.rates);
    const sink = median(r.sinkRates);
    // The speed goals are for the default settings (issue 19): a row of another thread count
    // is shown beside none (before, a --workers 1 row was called short of two threads' goal).
    const goal = r.threads === undefined || r.threads === DEFAULT_THREADS ? GOALS[r.workload as keyof typeof GOALS] : undefined;
    const ofC = cRatio(r);
    const ratio = (v: number) => `${v.toFixed(2)}x`;
    const percent = (v: number) => `${(v * 100).toFixed(0)}%`;
    return [
      r.workload,
      ...(withWorkers ? [r.workers === undefined ? "-" : String(r.workers)] : []),
      millions(rate),
      ((rate * r.bytesPerNumber) / 1e6).toFixed(0),
      `${millions(Math.min(...r.rates))}-${millions(Math.max(...r.rates))}`,
      ...(withC ? (ofC !== undefined ? [millions(median(r.cRates!)), ratio(ofC), goalCell(ofC, goal?.ofC, ratio)] : ["-", "-", "-"]) : []),
      millions(sink),
      percent(rate / sink),
      goalCell(rate / sink, goal?.ofSink, percent),
      ...(withScaling ? ((s) => (s === undefined ? ["-", "-"] : [ratio(s), goalCell(s, SCALING, ratio)]))(scaling(rows, r)) : []),
      // The median like the rates, and the highest run, which a memory limit has to allow.
      (median(r.rssKiB) / 1024).toFixed(1),
      (Math.max(...r.rssKiB) / 1024).toFixed(1),
      boundCell(Math.max(...r.rssKiB) / 1024, RSS_MIB[r.threads ?? r.workers ?? 0], (v) => v.toFixed(0)),
    ];
  });
  return [head, ...body];
}

/**
 * CPU seconds per run by kind of thread (medians): where a run's time went, beside the C
 * yardstick's one thread, the driver's CPU during our runs, how much of the machine stood
 * idle meanwhile, and the sink's CPU (reading the bytes and nothing else). With the idle
 * share near 0, the cores are the limit: a run takes (ours + driver) / cores.
 */
function cpuCells(rows: Row[]): string[][] {
  const withWorkers = rows.some((r) => r.workers !== undefined);
  const withC = rows.some((r) => r.cCpu !== undefined);
  const withLoad = rows.some((r) => r.driverCpu !== undefined);
  const head = ["workload", ...(withWorkers ? ["workers"] : []), "main s", "workers s", "JIT s", "other s", "total s",
    ...(withC ? ["C s"] : []), ...(withLoad ? ["driver s", "idle", "sink s"] : [])];
  const body = rows.map((r) => {
    const cpu = r.cpu ?? [];
    const of = (key: keyof CpuSplit) => median(cpu.map((c) => c[key]));
    const total = median(cpu.map(cpuTotal));
    return [
      r.workload,
      ...(withWorkers ? [r.workers === undefined ? "-" : String(r.workers)] : []),
      ...[of("main"), of("workers"), of("jit"), of("other"), total].map((s) => s.toFixed(3)),
      ...(withC ? [r.cCpu ? median(r.cCpu).toFixed(3) : "-"] : []),
      ...(withLoad ? [
        r.driverCpu ? median(r.driverCpu).toFixed(3) : "-",
        r.idle ? `${(median(r.idle) * 100).toFixed(0)}%` : "-",
        r.sinkCpu ? median(r.sinkCpu).toFixed(3) : "-",
      ] : []),
    ];
  });
  return [head, ...body];
}

export const textTable = (rows: Row[]) => aligned(cells(rows));
export const markdownTable = (rows: Row[]) => markdown(cells(rows));
export const cpuTextTable = (rows: Row[]) => aligned(cpuCells(rows));
export const cpuMarkdownTable = (rows: Row[]) => markdown(cpuCells(rows));

/** Columns padded to line up; numbers right-aligned. */
function aligned(all: string[][]): string {
  const widths = all[0].map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ")).join("\n");
}

function markdown(all: string[][]): string {
  const [head, ...body] = all;
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  return [line(head), `|${head.map((_, c) => (c === 0 ? " --- " : " ---: ")).join("|")}|`, ...body.map(line)].join("\n");
}
