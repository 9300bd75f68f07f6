#!/usr/bin/env bun
// The benchmark (`bun run bench`): for each workload, runs a fresh server per run, drives
// it from a separate load process with 5 connections of pre-built payloads, times the
// first byte sent to the last connection closed by the server, stops the server with
// `terminate`, and checks that numbers.log holds exactly the expected numbers. Each run
// does the same with the C yardstick (reference.c), whose log is checked alike, and with a
// discard-only sink, the loopback ceiling. The log of the last random run is then kept for
// timing a `--resume` start on it (see resume.ts). Progress goes to stderr, the table to
// stdout, the chart to --svg. Any failure, above all a wrong log, exits non-zero.

import { writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { describeOptions, UsageError } from "../src/options.ts";
import { LINE_BYTES } from "../src/core/protocol.ts";
import { BENCH_OPTIONS, parseBenchConfig, type BenchConfig } from "./options.ts";
import { serveThreads } from "../src/server/config.ts";
import { BenchError, Driver, exitOnSignals, killAll, machineName, startTarget, type Target } from "./procs.ts";
import { buildReference, startReference, type Reference } from "./reference.ts";
import { resumeRun, resumeText, type ResumeRun } from "./resume.ts";
import { serverForm, stale, startServer } from "./server.ts";
import { REPORT_ARGS, serverRun, timedSend, type ServerRun } from "./run.ts";
import { svgChart } from "./chart.ts";
import { cpuMarkdownTable, cpuTextTable, markdownTable, textTable, type Row } from "./table.ts";
import { expectedSet } from "../src/check/verify.ts";
import { CONNECTIONS, type WorkloadName } from "../src/client/workloads.ts";

const SINK = join(import.meta.dir, "sink.ts");

function progress(text: string) {
  process.stderr.write(text + "\n");
}

const rateText = (rate: number, ms: number) => `${(rate / 1e6).toFixed(1)} M numbers/s (${(ms / 1000).toFixed(3)} s)`;

/**
 * The sink for one workload's runs: started once and warmed up with one untimed send, so
 * that it measures the loopback path, not a cold process (our server warms up too).
 */
async function startSink(driver: Driver): Promise<Target> {
  const sink = await startTarget([process.execPath, SINK], tmpdir());
  await timedSend(driver, sink, "the sink");
  return sink;
}

interface WorkloadResult {
  rows: Row[];
  /** The --resume measurement, taken on the log of the workload's last run. */
  resume?: ResumeRun;
}

async function benchWorkload(config: BenchConfig, workload: WorkloadName, reference: Reference | undefined): Promise<WorkloadResult> {
  const { count, runs } = config;
  // The driver generates its payloads while this process regenerates the expected set.
  const starting = Driver.start(workload, count);
  const expected = expectedSet(workload, count);
  const driver = await starting;
  progress(`${workload}: ${count} numbers (${expected.size} unique) in ${(driver.ready.generateMs / 1000).toFixed(1)} s of generating`);
  const variants = config.workers.length > 0 ? config.workers : [undefined];
  const server = variants.map(() => [] as ServerRun[]);
  const sink: { ms: number; cpu: number }[] = [];
  const c: ServerRun[] = [];
  let resume: ResumeRun | undefined;
  // Random is the workload whose log is slowest to load: every line a bitmap miss.
  const measureResume = async (dir: string) => void (resume = await resumeRun(dir, expected.size, variants[0]));
  let sinkTarget: Target | undefined;
  try {
    sinkTarget = await startSink(driver);
    for (let run = 1; run <= runs; run++) {
      const ours = async () => {
        for (const [v, workers] of variants.entries()) {
          const last = run === runs && v === 0 && config.resume && workload === "random";
          const start = (dir: string) => startServer(dir, workers, REPORT_ARGS);
          const r = await serverRun(driver, expected, "the server", start, last ? measureResume : undefined);
          server[v].push(r);
          const label = workers === undefined ? "server" : `server --workers ${workers}`;
          progress(`${workload} run ${run}/${runs} ${label}: ${rateText(count / (r.ms / 1000), r.ms)}, ` +
            `peak RSS ${(r.rssKiB / 1024).toFixed(1)} MiB, log verified`);
          if (last) progress(resumeText(resume!));
        }
      };
      const yardstick = async () => {
        if (!reference) return;
        const r = await serverRun(driver, expected, "the C yardstick", (dir) => startReference(reference, dir, REPORT_ARGS));
        c.push(r);
        progress(`${workload} run ${run}/${runs} C yardstick: ${rateText(count / (r.ms / 1000), r.ms)}, ` +
          `peak RSS ${(r.rssKiB / 1024).toFixed(1)} MiB, log verified`);
      };
      // Ours and C take turns at going first, so that neither always runs on a machine just
      // warmed (or cluttered) by the other.
      if (run % 2 === 1) {
        await ours();
        await yardstick();
      } else {
        await yardstick();
        await ours();
      }
      const s = await timedSend(driver, sinkTarget, "the sink");
      sink.push(s);
      progress(`${workload} run ${run}/${runs} sink: ${rateText(count / (s.ms / 1000), s.ms)}`);
    }
  } finally {
    sinkTarget?.proc.kill();
    await sinkTarget?.proc.exited;
    await driver.close();
  }
  const rates = (ms: number[]) => ms.map((t) => count / (t / 1000));
  const rows = variants.map((workers, v) => ({
    workload,
    workers,
    // Without --workers, what the server's default (auto) gives here.
    threads: serveThreads(workers ?? "auto"),
    rates: rates(server[v].map((r) => r.ms)),
    sinkRates: rates(sink.map((s) => s.ms)),
    cRates: reference ? rates(c.map((r) => r.ms)) : undefined,
    bytesPerNumber: LINE_BYTES,
    rssKiB: server[v].map((r) => r.rssKiB),
    cpu: server[v].map((r) => r.cpu),
    cCpu: reference ? c.map((r) => r.cpu.main) : undefined,
    driverCpu: server[v].map((r) => r.driverCpu),
    idle: server[v].map((r) => r.idle),
    sinkCpu: sink.map((s) => s.cpu),
  }));
  return { rows, resume };
}

/** The machine and the setup; the load average shows whether other work shared the cores. */
function machine(config: BenchConfig, load: number, skipped?: string): string {
  return `${machineName()}, server: ${serverForm}; ` +
    `${config.count} numbers per run over ${CONNECTIONS} connections, median of ${config.runs} run(s); load average ${load.toFixed(2)} at start` +
    (skipped === undefined ? "" : `; ${skipped}`);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseBenchConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message} (see --help)\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`Usage: bun run bench [options]\n\nOptions (flag, environment variable, default):\n${describeOptions(BENCH_OPTIONS)}\n`);
    return 0;
  }
  const config = parsed.config;
  if (stale) progress(`bench: warning: measuring dist/numbers-server, which is older than src/; run \`bun run build\` first`);
  const load = loadavg()[0];
  const rows: Row[] = [];
  let resume: ResumeRun | undefined;
  const built = config.reference ? buildReference() : undefined;
  if (built && "skipped" in built) progress(`bench: ${built.skipped}`);
  const reference = built && "binary" in built ? built : undefined;
  try {
    for (const workload of config.workloads) {
      const result = await benchWorkload(config, workload, reference);
      rows.push(...result.rows);
      resume ??= result.resume;
    }
  } catch (err) {
    // A BenchError says all there is to say; anything else is unexpected, so show where.
    const e = err as Error;
    process.stderr.write(`bench: FAILED: ${err instanceof BenchError ? e.message : (e.stack ?? String(err))}\n`);
    return 1;
  } finally {
    killAll();
    reference?.remove();
  }
  const after = resume ? `\n\n${resumeText(resume)}` : "";
  const cpu = `CPU seconds per run, from the connects to the last close and the complete log (medians):`;
  // A skipped yardstick is said with the figures too (before, on stderr alone: a table
  // pasted into the docs lost its C columns without a trace).
  const skipped = built && "skipped" in built ? built.skipped : undefined;
  const text = `${machine(config, load, skipped)}\n\n${textTable(rows)}${after}\n\n${cpu}\n\n${cpuTextTable(rows)}\n\n` +
    `${markdownTable(rows)}${after}\n\n${cpu}\n\n${cpuMarkdownTable(rows)}\n`;
  process.stdout.write(text);
  if (config.svg !== "") {
    writeFileSync(config.svg, svgChart(rows, machine(config, load, skipped)));
    progress(`bench: chart written to ${config.svg}`);
  }
  return 0;
}

exitOnSignals();
process.exit(await main());
