// The serve command's configuration: a pure function of the command-line arguments and the
// environment (see options.ts). It holds the flags alone: test hooks enter apart (testhooks.ts).

import { bool, filePath, HOST, hostName, integer, parseOptions, PORT, portOrOff, seconds, secondsOrOff, UsageError, type OptionSpec, type Parsed } from "../options.ts";

export interface ServerConfig {
  host: string;
  port: number;
  maxClients: number;
  log: string;
  /** Seconds between report lines. */
  reportInterval: number;
  /** Longest time, in seconds, a new number may wait in memory before it is handed to the OS. */
  flushInterval: number;
  /** Load an existing log into the set and append to it, instead of emptying it. */
  resume: boolean;
  /** Seconds a client may stay silent before it is closed; 0 = never. */
  idleTimeout: number;
  /** Longest time, in seconds, the stop waits for a log that is a stream to take its last lines. */
  stopTimeout: number;
  /** Serving threads; "auto" = one per core, at most 8 (serveThreads()). */
  workers: number | "auto";
  /** Made-up lines each thread runs through its hot code before readiness (the JIT warm-up); 0 = none. */
  warmup: number;
  /** TCP port of the HTTP endpoint for /metrics and /healthz; undefined = off, 0 = a free one. */
  metricsPort: number | undefined;
  metricsHost: string;
}

export const SERVER_OPTIONS = {
  host: HOST,
  port: PORT,
  maxClients: {
    flag: "max-clients", env: "NUMBERS_MAX_CLIENTS", default: "5", read: integer(1, 10000),
    help: "clients connected at once; one more waits for a slot, and is reset once none has freed (or begun to) for 50 ms",
  },
  log: {
    flag: "log", env: "NUMBERS_LOG", default: "numbers.log", read: filePath,
    help: "log file, emptied at start once the port is bound (a regular file, without --resume)",
  },
  reportInterval: {
    flag: "report-interval", env: "NUMBERS_REPORT_INTERVAL", default: "10", read: seconds,
    help: "seconds between report lines on stdout",
  },
  flushInterval: {
    flag: "flush-interval", env: "NUMBERS_FLUSH_INTERVAL", default: "1", read: seconds,
    help: "longest seconds a new number waits in memory before it is written",
  },
  resume: {
    flag: "resume", env: "NUMBERS_RESUME", default: "false", read: bool, switch: true,
    help: "keep an existing log: load its numbers and append (after a crash)",
  },
  idleTimeout: {
    flag: "idle-timeout", env: "NUMBERS_IDLE_TIMEOUT", default: "0", read: secondsOrOff,
    help: "close a client silent this many seconds; 0 = never",
  },
  stopTimeout: {
    flag: "stop-timeout", env: "NUMBERS_STOP_TIMEOUT", default: "10", read: seconds,
    help: "longest seconds the stop waits for a log that is a pipe, FIFO, device or socket to take its last lines; then exit 1 without them",
  },
  workers: {
    flag: "workers", env: "NUMBERS_WORKERS", default: "auto",
    read: (text: string, name: string) => {
      if (text === "auto") return "auto";
      try {
        return integer(1, 64)(text, name);
      } catch {
        throw new UsageError(`${name} must be auto or a whole number from 1 to 64, got '${text}'`);
      }
    },
    help: "serving threads sharing one bitmap; auto = min(cores, 8)",
  },
  warmup: {
    flag: "warmup", env: "NUMBERS_WARMUP", default: "8000000", read: integer(0, 100_000_000),
    help: "made-up lines each thread counts before readiness, so that the first clients meet compiled code; 0 = none",
  },
  metricsPort: {
    flag: "metrics-port", env: "NUMBERS_METRICS_PORT", default: "off", read: portOrOff,
    help: "HTTP port for Prometheus /metrics and /healthz; 0 picks a free one",
  },
  metricsHost: {
    flag: "metrics-host", env: "NUMBERS_METRICS_HOST", default: "127.0.0.1", read: hostName,
    help: "address of the metrics endpoint, with --metrics-port only (read-only; 0.0.0.0 opens it to the network)",
  },
} satisfies Record<keyof ServerConfig, OptionSpec<unknown>>;

/**
 * --workers auto: a thread per core, at most AUTO_THREADS. Lines are shared chunk by chunk,
 * so even one client keeps every thread busy; but the main thread reads and frames every
 * line, so past some count more threads would only wait on it (docs/performance.md). Not
 * measured beyond 2 cores.
 */
const AUTO_THREADS = 8;

/** The serving threads that --workers gives on this machine. */
export function serveThreads(workers: number | "auto"): number {
  return workers === "auto" ? Math.max(1, Math.min(navigator.hardwareConcurrency, AUTO_THREADS)) : workers;
}

export function parseServerConfig(argv: string[], env: Record<string, string | undefined>): Parsed<ServerConfig> {
  const parsed = parseOptions(SERVER_OPTIONS, argv, env);
  if (!parsed.help) checkMetrics(parsed.config, argv, env);
  return parsed;
}

/**
 * An address for a metrics endpoint that is off would be ignored in silence. (The numbers
 * port as the metrics port is said at its bind, where the addresses tell whether they clash.)
 */
function checkMetrics(c: ServerConfig, argv: string[], env: Record<string, string | undefined>): void {
  const hostFlag = argv.some((arg) => arg === "--metrics-host" || arg.startsWith("--metrics-host="));
  if (c.metricsPort === undefined && (hostFlag || env.NUMBERS_METRICS_HOST !== undefined)) {
    throw new UsageError(`${hostFlag ? "--metrics-host" : "NUMBERS_METRICS_HOST"} is given, but the metrics endpoint is off: give --metrics-port too`);
  }
}
