#!/usr/bin/env bun
// `bun run bench:metrics`: what the metrics endpoint costs. For each workload it runs fresh
// servers with metrics off and with --metrics-port on and /metrics scraped every
// --scrape-interval seconds while the load runs (the first scrape as the first byte goes
// out), interleaved run by run and in alternating order, with the same driver, timing and
// log check as `bun run bench` (run.ts serverRun()). After each metrics-on run, once the log is
// complete, a last scrape must match the run exactly (unique and duplicate numbers, log
// numbers and bytes, connections). Progress goes to stderr, the table to stdout.

import { loadavg } from "node:os";
import { describeOptions, parseOptions, seconds, UsageError, type OptionSpec } from "../src/options.ts";
import { parseSamples } from "../src/server/metrics/exposition.ts";
import { BENCH_OPTIONS } from "./options.ts";
import { BenchError, Driver, exitOnSignals, killAll, lines, machineName, nextWithin, track, type Target } from "./procs.ts";
import { serverRun } from "./run.ts";
import { serverCommand, serverForm, stale } from "./server.ts";
import { median } from "./table.ts";
import { expectedSet, type NumberSet } from "../src/check/verify.ts";
import { CONNECTIONS, type WorkloadName } from "../src/client/workloads.ts";

interface Options {
  count: number;
  runs: number;
  workloads: WorkloadName[];
  workers: number[];
  scrapeInterval: number;
}

const OPTIONS = {
  count: {
    ...BENCH_OPTIONS.count, default: "50000000",
    help: "numbers per run over 5 connections (long enough for a few scrapes per run)",
  },
  runs: { ...BENCH_OPTIONS.runs, help: "runs per workload and setting, each on a fresh server; the median is reported" },
  workloads: BENCH_OPTIONS.workloads,
  workers: BENCH_OPTIONS.workers,
  scrapeInterval: {
    flag: "scrape-interval", env: "NUMBERS_BENCH_SCRAPE_INTERVAL", default: "1", read: seconds,
    help: "seconds between scrapes of /metrics while the load runs",
  },
} satisfies Record<keyof Options, OptionSpec<unknown>>;

interface Run {
  ms: number;
  /** Scrapes answered while the load ran (metrics on). */
  scrapes: number;
}

interface Started extends Target {
  /** The /metrics URL, with metrics on. */
  metrics?: string;
}

/** Starts `serve --port 0` in `dir`; resolves at its readiness line (after the metrics line, when on). */
async function startServer(dir: string, workers: number | undefined, metrics: boolean): Promise<Started> {
  const args = ["serve", "--port", "0", "--report-interval", "3600"];
  if (workers !== undefined) args.push("--workers", String(workers));
  if (metrics) args.push("--metrics-port", "0");
  const proc = track(Bun.spawn([...serverCommand, ...args], { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "pipe" }));
  const errLines = lines(proc.stderr);
  let text = "";
  const next = async () => {
    const line = await nextWithin(errLines, "the server");
    if (!line.done) text += line.value + "\n";
    return line.done ? "" : line.value;
  };
  try {
    const url = metrics ? /^metrics on (\S+)$/.exec(await next())?.[1] : undefined;
    const ready = /^listening on (.+):(\d+)$/.exec(await next());
    if (!ready || (metrics && url === undefined)) throw new BenchError(`the server did not start:\n${text}`);
    // Keep reading so that the server never blocks on a full pipe.
    void (async () => {
      while ((await next()) !== "");
    })();
    return { proc, host: ready[1], port: Number(ready[2]), readyMs: 0, stderr: () => text, metrics: url };
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
}

/** GET /metrics as a map of series (`name{labels}`) to values; throws unless 200. */
async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(url);
  if (response.status !== 200) throw new BenchError(`GET ${url}: ${response.status}`);
  return parseSamples(await response.text());
}

/** After a run, every counter must tell exactly what the run sent and the log holds. */
function checkCounters(samples: Map<string, number>, count: number, expected: NumberSet) {
  const want: Record<string, number> = {
    'numbers_received_total{result="unique"}': expected.size,
    'numbers_received_total{result="duplicate"}': count - expected.size,
    numbers_log_numbers: expected.size,
    numbers_log_bytes_written_total: expected.size * 10,
    numbers_log_write_errors_total: 0,
    numbers_clients_connected: 0,
    'numbers_connections_total{outcome="admitted"}': CONNECTIONS,
    'numbers_clients_closed_total{reason="eof"}': CONNECTIONS,
  };
  const wrong = Object.entries(want).filter(([series, value]) => samples.get(series) !== value);
  if (wrong.length > 0) {
    throw new BenchError(`WRONG COUNTERS: ${wrong.map(([s, v]) => `${s} is ${samples.get(s)}, expected ${v}`).join("; ")}`);
  }
}

/**
 * One run on a fresh server, as `bun run bench` makes one (run.ts: timed to the complete log,
 * the log verified); with metrics on, /metrics is scraped while the load runs, and once the
 * log is complete the counters must tell exactly what the run sent.
 */
async function meteredRun(driver: Driver, o: Options, expected: NumberSet, workers: number | undefined, metrics: boolean): Promise<Run> {
  let url: string | undefined;
  let scrapes = 0;
  const start = async (dir: string) => {
    const server = await startServer(dir, workers, metrics);
    url = server.metrics;
    return server;
  };
  const watch = () => {
    if (url === undefined) return async () => {};
    const at = url;
    let failure: unknown;
    // One scrape at a time, as Prometheus scrapes a target: on a loaded machine scrapes that
    // did not wait for the one before piled up past the endpoint's connection limit (503).
    let scraping: Promise<unknown> | undefined;
    const scrapeNow = () => {
      if (scraping) return;
      scraping = scrape(at)
        .then(() => scrapes++, (err) => (failure ??= err))
        .finally(() => (scraping = undefined));
    };
    scrapeNow();
    const timer = setInterval(scrapeNow, o.scrapeInterval * 1000);
    return async () => {
      clearInterval(timer);
      // A scrape still in flight may fail yet (before, such a failure went unread).
      await scraping;
      if (failure) throw failure;
      checkCounters(await scrape(at), o.count, expected);
    };
  };
  const { ms } = await serverRun(driver, expected, "the server", start, undefined, watch);
  return { ms, scrapes };
}

const mps = (count: number, ms: number) => count / (ms / 1000) / 1e6;

interface Row {
  workload: WorkloadName;
  workers: number | undefined;
  off: number[];
  on: number[];
  scrapes: number[];
}

async function benchWorkload(o: Options, workload: WorkloadName): Promise<Row[]> {
  const starting = Driver.start(workload, o.count);
  const expected = expectedSet(workload, o.count);
  const driver = await starting;
  process.stderr.write(`${workload}: ${o.count} numbers (${expected.size} unique)\n`);
  const variants = o.workers.length > 0 ? o.workers : [undefined];
  const rows: Row[] = variants.map((workers) => ({ workload, workers, off: [], on: [], scrapes: [] }));
  try {
    for (let run = 1; run <= o.runs; run++) {
      for (const row of rows) {
        // Alternating which goes first, so that a drift in the machine's load favours neither.
        for (const metrics of run % 2 === 1 ? [false, true] : [true, false]) {
          const r = await meteredRun(driver, o, expected, row.workers, metrics);
          (metrics ? row.on : row.off).push(mps(o.count, r.ms));
          if (metrics) row.scrapes.push(r.scrapes);
          const label = `${row.workers === undefined ? "" : ` --workers ${row.workers}`} metrics ${metrics ? "on" : "off"}`;
          const extra = metrics ? `, ${r.scrapes} scrape(s) during the load, counters exact` : "";
          process.stderr.write(`${workload} run ${run}/${o.runs}${label}: ${mps(o.count, r.ms).toFixed(1)} M numbers/s${extra}, log verified\n`);
        }
      }
    }
  } finally {
    await driver.close();
  }
  return rows;
}

function table(rows: Row[]): string {
  const head = "| workload | workers | metrics off M/s | metrics on M/s | on/off | off min-max | on min-max | scrapes per run |\n" +
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;
  const body = rows.map((r) => {
    const ratio = median(r.on) / median(r.off);
    return `| ${r.workload} | ${r.workers ?? "auto"} | ${median(r.off).toFixed(1)} | ${median(r.on).toFixed(1)} | ` +
      `${(ratio * 100).toFixed(0)}% | ${range(r.off)} | ${range(r.on)} | ${median(r.scrapes)} |`;
  });
  return [head, ...body].join("\n");
}

function machine(o: Options, load: number): string {
  return `${machineName()}, server: ${serverForm}; ` +
    `${o.count} numbers per run over ${CONNECTIONS} connections, median of ${o.runs} run(s) each, metrics off and on ` +
    `interleaved, /metrics scraped every ${o.scrapeInterval} s; load average ${load.toFixed(2)} at start`;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(OPTIONS, process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench:metrics: ${err.message} (see --help)\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`Usage: bun run bench:metrics [options]\n\nOptions (flag, environment variable, default):\n${describeOptions(OPTIONS)}\n`);
    return 0;
  }
  const o = parsed.config;
  if (o.workloads.length === 0) {
    process.stderr.write("bench:metrics: --workloads must name at least one workload (see --help)\n");
    return 2;
  }
  if (stale) process.stderr.write("bench:metrics: warning: measuring dist/numbers-server, which is older than src/; run `bun run build` first\n");
  const load = loadavg()[0];
  const rows: Row[] = [];
  try {
    for (const workload of o.workloads) rows.push(...(await benchWorkload(o, workload)));
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`bench:metrics: FAILED: ${err instanceof BenchError ? e.message : (e.stack ?? String(err))}\n`);
    return 1;
  } finally {
    killAll();
  }
  process.stdout.write(`${machine(o, load)}\n\n${table(rows)}\n`);
  return 0;
}

exitOnSignals();
process.exit(await main());
