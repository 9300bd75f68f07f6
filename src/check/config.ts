// The check command's configuration: a pure function of the command-line arguments and
// the environment (see options.ts). With --spawn the checker starts the implementation
// under test itself; without it, it checks a server someone else runs, socket cases only.

import { bool, HOST, integer, nonEmpty, parseOptions, PORT, seconds, UsageError, type OptionSpec, type Parsed } from "../options.ts";
import type { CheckConfig } from "./checkconfig.ts";

export type { CheckConfig };

const text = (value: string) => value;
// A mistyped -k would otherwise pass: 0 passed, 0 failed, exit 0. The case list is loaded only
// here, when -k is given: imported at the top, it loaded the whole checker into every command
// the executable runs, the server's included (commands.ts).
const caseText = (value: string, name: string): string => {
  if (value === "") return value;
  const { ALL_CASES } = require("./cases/index.ts") as typeof import("./cases/index.ts");
  // Named as the user wrote it: -k (the flag's usual spelling) or the environment twin.
  const shown = name.startsWith("--") ? "-k" : name;
  if (!ALL_CASES.some((c) => c.name.includes(value))) throw new UsageError(`${shown} '${value}' matches no case (--list lists them)`);
  return value;
};
const interval = (value: string, name: string): string => {
  if (value !== "" && !value.includes("{S}")) throw new UsageError(`${name} must contain {S} (the seconds), got '${value}'`);
  return value;
};

export const CHECK_OPTIONS = {
  spawn: {
    flag: "spawn", env: "NUMBERS_CHECK_SPAWN", default: "", read: text, dashValue: true,
    help: "start the implementation with /bin/sh -c CMD ({PORT} = a free port the checker picks)",
  },
  cwd: {
    flag: "cwd", env: "NUMBERS_CHECK_CWD", default: "", read: text,
    help: "directory the spawned command runs in (default: a fresh temp directory per start)",
  },
  host: { ...HOST, env: "NUMBERS_CHECK_HOST", help: "address of the server" },
  port: { ...PORT, env: "NUMBERS_CHECK_PORT", read: integer(1, 65535), help: "port of the server (with --spawn and no {PORT})" },
  log: {
    flag: "log", env: "NUMBERS_CHECK_LOG", default: "numbers.log", read: nonEmpty,
    help: "the log the spawned server writes, relative to its directory",
  },
  spawnReportInterval: {
    flag: "spawn-report-interval", env: "NUMBERS_CHECK_SPAWN_REPORT_INTERVAL", default: "", read: interval, dashValue: true,
    help: "arguments that shorten the report cadence, {S} = seconds (e.g. '--report-interval {S}')",
  },
  timeout: {
    flag: "timeout", env: "NUMBERS_CHECK_TIMEOUT", default: "10", read: seconds,
    help: "seconds an expected event may take (close, report, exit)",
  },
  startTimeout: {
    flag: "start-timeout", env: "NUMBERS_CHECK_START_TIMEOUT", default: "10", read: seconds,
    help: "seconds a spawned implementation may take to accept its first connection",
  },
  settle: {
    flag: "settle", env: "NUMBERS_CHECK_SETTLE", default: "0.5", read: seconds,
    help: "seconds of silence that show nothing happened (a client kept open)",
  },
  prompt: {
    flag: "prompt", env: "NUMBERS_CHECK_PROMPT", default: "2", read: seconds,
    help: "seconds in which what the job asks at once must come: a sixth client's close, a bad one's, the exit after terminate",
  },
  throughput: {
    flag: "throughput", env: "NUMBERS_CHECK_THROUGHPUT", default: "0", read: integer(0, 100_000_000),
    help: "numbers sent by each throughput case (random, seq, dup); 0 = off",
  },
  json: { flag: "json", switch: true, env: "NUMBERS_CHECK_JSON", default: "false", read: bool, help: "the results as one JSON document on stdout" },
  list: { flag: "list", switch: true, env: "NUMBERS_CHECK_LIST", default: "false", read: bool, help: "list the cases and exit" },
  only: {
    flag: "only", short: "k", env: "NUMBERS_CHECK_ONLY", default: "", read: caseText, dashValue: true,
    help: "run only the cases whose name contains this text",
  },
} satisfies Record<keyof CheckConfig, OptionSpec<unknown>>;

export function parseCheckConfig(argv: string[], env: Record<string, string | undefined>): Parsed<CheckConfig> {
  const parsed = parseOptions(CHECK_OPTIONS, argv, env);
  if (parsed.help) return parsed;
  const c = parsed.config;
  if (c.spawn === "" && c.cwd !== "") throw new UsageError("--cwd needs --spawn");
  if (c.spawn === "" && c.spawnReportInterval !== "") throw new UsageError("--spawn-report-interval needs --spawn");
  return parsed;
}
