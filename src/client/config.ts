// The client and terminate commands' configuration: pure functions of the command-line
// arguments and the environment (see options.ts).

import { HOST, integer, parseOptions, PORT, seconds, secondsOrOff, UsageError, type OptionSpec, type Parsed } from "../options.ts";
import { parseDist, type Dist } from "./payload.ts";

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
  /** Seconds the server may take no byte and close no connection before the client gives up; 0 = never. */
  timeout: number;
}

const dist = (text: string, name: string): Dist => {
  const d = parseDist(text);
  if (!d) throw new UsageError(`${name} must be random, seq or dup:K (K from 1 to 1000000000), got '${text}'`);
  return d;
};

// Port 0 picks a free port for a listener; a client has no use for it.
const SERVER_ADDRESS = { host: { ...HOST, help: "server address" }, port: { ...PORT, read: integer(1, 65535), help: "server TCP port" } };

export const CLIENT_OPTIONS = {
  ...SERVER_ADDRESS,
  connections: {
    flag: "connections", env: "NUMBERS_CLIENT_CONNECTIONS", default: "5", read: integer(1, 10000),
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
  // A listener that accepts and never reads, or never closes (not a numbers server, or one
  // held by its log's reader), would otherwise keep the client waiting for good.
  timeout: {
    flag: "timeout", env: "NUMBERS_CLIENT_TIMEOUT", default: "30", read: secondsOrOff,
    help: "give up (exit 1) once the server has taken no byte and closed no connection for this many seconds (--duration included); 0 = never",
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
