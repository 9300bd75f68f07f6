// Server configuration: a pure function of the command-line arguments and the environment.
// Every flag has an environment twin; a flag beats its twin, and the twin beats the default.

import { parseArgs } from "node:util";
import { parseDist, type Dist } from "./payload.ts";
import { parseTestHooks, type TestHooks } from "./testhooks.ts";

export class UsageError extends Error {}

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
  /** Serving threads; "auto" = one per core, at most maxClients. */
  workers: number | "auto";
  /** Made-up lines each thread runs through its hot code before readiness (the JIT warm-up); 0 = none. */
  warmup: number;
  /** TCP port of the HTTP endpoint for /metrics and /healthz; undefined = off, 0 = a free one. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** Test-only, from the environment alone (see testhooks.ts). */
  hooks: TestHooks;
}

/** One option of a command: its flag, environment twin, default and how to read a value. */
export interface OptionSpec<T> {
  flag: string;
  /** A switch takes no value on the command line; its env twin says true/false. */
  switch?: true;
  env: string;
  default: string;
  help: string;
  read: (text: string, name: string) => T;
}

export const integer = (min: number, max: number) => (text: string, name: string): number => {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  return n;
};

export const seconds = (text: string, name: string): number => {
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(n > 0 && n <= 86400)) throw new UsageError(`${name} must be a number of seconds above 0 (at most 86400), got '${text}'`);
  return n;
};

export const secondsOrOff = (text: string, name: string): number =>
  /^0*(\.0*)?$/.test(text) && text !== "" && text !== "." ? 0 : seconds(text, name);

export const bool = (text: string, name: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new UsageError(`${name} must be true or false, got '${text}'`);
};

export const nonEmpty = (text: string, name: string): string => {
  if (text === "") throw new UsageError(`${name} must not be empty`);
  return text;
};

/** A port, or off ("off" or empty). */
export const portOrOff = (text: string, name: string): number | undefined =>
  text === "off" || text === "" ? undefined : integer(0, 65535)(text, name);

export const HOST: OptionSpec<string> = {
  flag: "host", env: "NUMBERS_HOST", default: "127.0.0.1", read: nonEmpty,
  help: "address to listen on (0.0.0.0 opens it to the network)",
};
export const PORT: OptionSpec<number> = {
  flag: "port", env: "NUMBERS_PORT", default: "4000", read: integer(0, 65535),
  help: "TCP port; 0 picks a free one",
};

export const SERVER_OPTIONS = {
  host: HOST,
  port: PORT,
  maxClients: {
    flag: "max-clients", env: "NUMBERS_MAX_CLIENTS", default: "5", read: integer(1, 10000),
    help: "clients connected at once; more are closed on connect",
  },
  log: {
    flag: "log", env: "NUMBERS_LOG", default: "numbers.log", read: nonEmpty,
    help: "log file, emptied at start once the port is bound",
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
  workers: {
    flag: "workers", env: "NUMBERS_WORKERS", default: "auto",
    read: (text: string, name: string) => (text === "auto" ? "auto" : integer(1, 64)(text, name)),
    help: "serving threads sharing one bitmap; auto = min(cores, 8)",
  },
  warmup: {
    flag: "warmup", env: "NUMBERS_WARMUP", default: "2000000", read: integer(0, 100_000_000),
    help: "made-up lines each thread counts before readiness, so that the first clients meet compiled code; 0 = none",
  },
  metricsPort: {
    flag: "metrics-port", env: "NUMBERS_METRICS_PORT", default: "off", read: portOrOff,
    help: "HTTP port for Prometheus /metrics and /healthz; 0 picks a free one",
  },
  metricsHost: {
    flag: "metrics-host", env: "NUMBERS_METRICS_HOST", default: "127.0.0.1", read: nonEmpty,
    help: "address of the metrics endpoint (read-only; 0.0.0.0 opens it to the network)",
  },
} satisfies Record<Exclude<keyof ServerConfig, "hooks">, OptionSpec<unknown>>;

type Specs = Record<string, OptionSpec<unknown>>;
type Values<S extends Specs> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

export type Parsed<T> = { help: true } | { help: false; config: T; positionals: string[] };

/**
 * Reads the options in `specs` from `argv` (strict: unknown flags are errors) and `env`.
 * `positionals` says how many bare arguments the command takes.
 */
export function parseOptions<S extends Specs>(
  specs: S,
  argv: string[],
  env: Record<string, string | undefined>,
  positionals = 0,
): Parsed<Values<S>> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const spec of Object.values(specs)) options[spec.flag] = { type: spec.switch ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals > 0 });
  } catch (err) {
    // parseArgs explains some errors over several lines; the usage error stays one line.
    throw new UsageError((err as Error).message.split("\n").filter((l) => !l.startsWith("Did you forget")).join(" "));
  }
  if (parsed.values.help) return { help: true };
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals]}'`);
  }
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const raw = parsed.values[spec.flag];
    const flagValue = typeof raw === "boolean" ? String(raw) : raw;
    if (flagValue !== undefined) config[key] = spec.read(flagValue, `--${spec.flag}`);
    else if (env[spec.env] !== undefined) config[key] = spec.read(env[spec.env]!, spec.env);
    else config[key] = spec.read(spec.default, `--${spec.flag}`);
  }
  return { help: false, config: config as Values<S>, positionals: parsed.positionals };
}

export function parseServerConfig(argv: string[], env: Record<string, string | undefined>): Parsed<ServerConfig> {
  const parsed = parseOptions(SERVER_OPTIONS, argv, env);
  return parsed.help ? parsed : { ...parsed, config: { ...parsed.config, hooks: parseTestHooks(env) } };
}

/** The option table for `--help`. */
export function describeOptions(specs: Specs): string {
  const rows = Object.values(specs).map((s) => [`--${s.flag}${s.switch ? "" : " <v>"}`, s.env, s.default, s.help]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  default ${r[2].padEnd(widths[2])}  ${r[3]}`)
    .join("\n");
}

export interface ClientConfig {
  host: string;
  port: number;
  connections: number;
  /** Numbers sent, split over the connections; with a duration, the numbers of one pass. */
  count: number;
  /** Seconds to keep sending, repeating the count numbers; 0 = send them once. */
  duration: number;
  dist: Dist;
  seed: number;
}

const dist = (text: string, name: string): Dist => {
  const d = parseDist(text);
  if (!d) throw new UsageError(`${name} must be random, seq or dup:K (K from 1 to 1000000000), got '${text}'`);
  return d;
};

const SERVER_ADDRESS = { host: { ...HOST, help: "server address" }, port: { ...PORT, help: "server TCP port" } };

export const CLIENT_OPTIONS = {
  ...SERVER_ADDRESS,
  connections: {
    flag: "connections", env: "NUMBERS_CLIENT_CONNECTIONS", default: "5", read: integer(1, 5),
    help: "connections sending at once, each its share of the numbers",
  },
  // The payload is built in memory before sending, 10 bytes per number.
  count: {
    flag: "count", env: "NUMBERS_CLIENT_COUNT", default: "1000000", read: integer(1, 100_000_000),
    help: "numbers to send (at most 100000000)",
  },
  duration: {
    flag: "duration", env: "NUMBERS_CLIENT_DURATION", default: "0", read: secondsOrOff,
    help: "send for this many seconds, repeating the count numbers; 0 = send them once",
  },
  dist: {
    flag: "dist", env: "NUMBERS_CLIENT_DIST", default: "random", read: dist,
    help: "random, seq (0,1,2,...) or dup:K (drawn from K values)",
  },
  seed: {
    flag: "seed", env: "NUMBERS_CLIENT_SEED", default: "1", read: integer(0, 0xffffffff),
    help: "seed of the random numbers; the same seed sends the same numbers",
  },
} satisfies Record<keyof ClientConfig, OptionSpec<unknown>>;

export function parseClientConfig(argv: string[], env: Record<string, string | undefined>): Parsed<ClientConfig> {
  return parseOptions(CLIENT_OPTIONS, argv, env);
}

export interface TerminateConfig {
  host: string;
  port: number;
  /** Seconds the whole command may take: connecting, and waiting for the server to close. */
  timeout: number;
}

export const TERMINATE_OPTIONS = {
  ...SERVER_ADDRESS,
  timeout: {
    flag: "timeout", env: "NUMBERS_TERMINATE_TIMEOUT", default: "30", read: seconds,
    help: "give up (exit 1) if the server has not shut down within this many seconds",
  },
} satisfies Record<keyof TerminateConfig, OptionSpec<unknown>>;

export function parseTerminateConfig(argv: string[], env: Record<string, string | undefined>): Parsed<TerminateConfig> {
  return parseOptions(TERMINATE_OPTIONS, argv, env);
}
