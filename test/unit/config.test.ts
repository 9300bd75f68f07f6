// Server configuration (src/server/config.ts): defaults, environment twins, flag over env,
// rejected values as UsageError, --help, and the option table.

import { afterEach, describe, expect, test } from "bun:test";
import { describeOptions, parseOptions, UsageError, type OptionSpec } from "../../src/options.ts";
import { CLIENT_OPTIONS, TERMINATE_OPTIONS } from "../../src/client/config.ts";
import { CHECK_OPTIONS } from "../../src/check/config.ts";
import { AB_OPTIONS, BENCH_OPTIONS } from "../../bench/options.ts";
import { parseServerConfig, SERVER_OPTIONS, serveThreads, type ServerConfig } from "../../src/server/config.ts";
import { parseTerminateConfig, type TerminateConfig } from "../../src/client/config.ts";

function config(argv: string[], env: Record<string, string> = {}): ServerConfig {
  const parsed = parseServerConfig(argv, env);
  if (parsed.help) throw new Error("unexpected help");
  return parsed.config;
}

const DEFAULTS = { host: "127.0.0.1", port: 4000, maxClients: 5, log: "numbers.log", reportInterval: 10, flushInterval: 1 };

test("defaults", () => {
  expect(config([])).toMatchObject(DEFAULTS);
});

test("every flag sets its field", () => {
  const argv = ["--host", "0.0.0.0", "--port", "0", "--max-clients", "7", "--log", "out.log",
    "--report-interval", "3", "--flush-interval", "2"];
  expect(config(argv)).toMatchObject({ host: "0.0.0.0", port: 0, maxClients: 7, log: "out.log", reportInterval: 3, flushInterval: 2 });
  expect(config(["--port=65535", "--max-clients=1"])).toMatchObject({ port: 65535, maxClients: 1 });
});

test("every environment twin sets its field", () => {
  const env = { NUMBERS_HOST: "::1", NUMBERS_PORT: "4321", NUMBERS_MAX_CLIENTS: "2", NUMBERS_LOG: "/tmp/x.log",
    NUMBERS_REPORT_INTERVAL: "5", NUMBERS_FLUSH_INTERVAL: "0.5" };
  expect(config([], env)).toMatchObject({ host: "::1", port: 4321, maxClients: 2, log: "/tmp/x.log", reportInterval: 5, flushInterval: 0.5 });
});

test("a flag beats its environment twin", () => {
  const env = { NUMBERS_PORT: "4321", NUMBERS_MAX_CLIENTS: "2", NUMBERS_REPORT_INTERVAL: "5" };
  expect(config(["--port", "1234", "--report-interval", "7"], env)).toMatchObject({ port: 1234, maxClients: 2, reportInterval: 7 });
});

test("intervals take decimals", () => {
  expect(config(["--report-interval", "0.25", "--flush-interval", ".5"])).toMatchObject({ reportInterval: 0.25, flushInterval: 0.5 });
  expect(config([], { NUMBERS_REPORT_INTERVAL: "2.5", NUMBERS_FLUSH_INTERVAL: "3." })).toMatchObject({ reportInterval: 2.5, flushInterval: 3 });
});

test("--warmup and its twin: made-up lines before readiness, 0 for none", () => {
  expect(config([])).toMatchObject({ warmup: 8_000_000 });
  expect(config(["--warmup", "0"])).toMatchObject({ warmup: 0 });
  expect(config([], { NUMBERS_WARMUP: "500000" })).toMatchObject({ warmup: 500_000 });
  expect(config(["--warmup=7"], { NUMBERS_WARMUP: "500000" })).toMatchObject({ warmup: 7 });
  expect(() => config(["--warmup", "-1"])).toThrow(UsageError);
  expect(() => config(["--warmup", "1e6"])).toThrow(UsageError);
});

test("--stop-timeout and its twin: seconds the stop waits for a stream log's reader, 10 by default", () => {
  expect(config([])).toMatchObject({ stopTimeout: 10 });
  expect(config(["--stop-timeout", "0.5"])).toMatchObject({ stopTimeout: 0.5 });
  expect(config([], { NUMBERS_STOP_TIMEOUT: "3" })).toMatchObject({ stopTimeout: 3 });
  expect(config(["--stop-timeout=7"], { NUMBERS_STOP_TIMEOUT: "3" })).toMatchObject({ stopTimeout: 7 });
  expect(() => config(["--stop-timeout", "0"])).toThrow(UsageError);
});

describe("the metrics endpoint", () => {
  test("off by default, on 127.0.0.1 when on", () => {
    expect(config([])).toMatchObject({ metricsPort: undefined, metricsHost: "127.0.0.1" });
  });

  test("--metrics-port and --metrics-host, their twins, off, and the flag over the twin", () => {
    expect(config(["--metrics-port", "9400", "--metrics-host", "0.0.0.0"])).toMatchObject({ metricsPort: 9400, metricsHost: "0.0.0.0" });
    expect(config([], { NUMBERS_METRICS_PORT: "0", NUMBERS_METRICS_HOST: "::1" })).toMatchObject({ metricsPort: 0, metricsHost: "::1" });
    expect(config(["--metrics-port", "off"], { NUMBERS_METRICS_PORT: "9400" })).toMatchObject({ metricsPort: undefined });
    // Empty is an error, as for every twin (README): a unit file's unset $VAR must not turn metrics off unseen.
    expect(() => config([], { NUMBERS_METRICS_PORT: "" })).toThrow("NUMBERS_METRICS_PORT is set but empty (unset it for the default)");
    expect(config(["--metrics-port=9401"], { NUMBERS_METRICS_PORT: "9400" })).toMatchObject({ metricsPort: 9401 });
  });

  test("a bad port or an empty host is a UsageError naming its source", () => {
    for (const value of ["65536", "-1", "abc", "on", "9400x"]) {
      expect(() => parseServerConfig(["--metrics-port", value], {})).toThrow(/--metrics-port/);
    }
    expect(() => parseServerConfig([], { NUMBERS_METRICS_PORT: "x" })).toThrow(/NUMBERS_METRICS_PORT/);
    expect(() => parseServerConfig(["--metrics-host="], {})).toThrow(UsageError);
  });

  // Before, an address for an endpoint that is off was ignored in silence.
  test("an address with the endpoint off is a UsageError", () => {
    expect(() => config(["--metrics-host", "0.0.0.0"])).toThrow("--metrics-host is given, but the metrics endpoint is off: give --metrics-port too");
    expect(() => config(["--metrics-host=::1", "--metrics-port", "off"])).toThrow("--metrics-host is given");
    expect(() => config([], { NUMBERS_METRICS_HOST: "::1" })).toThrow("NUMBERS_METRICS_HOST is given, but the metrics endpoint is off");
    // The same port on two addresses is for the binds to judge (0.0.0.0 and ::1 may share one).
    expect(config(["--port", "9400", "--metrics-port", "9400", "--metrics-host", "127.0.0.2"])).toMatchObject({ port: 9400, metricsPort: 9400 });
  });
});

test("--host and --metrics-host: an IPv6 address may come in brackets; blanks, stray brackets and a colon outside an IPv6 address are usage errors", () => {
  expect(config(["--host", "[::1]", "--metrics-port", "0", "--metrics-host", "[fe80::1]"])).toMatchObject({ host: "::1", metricsHost: "fe80::1" });
  expect(config(["--host", "[fe80::1%lo]"])).toMatchObject({ host: "fe80::1%lo" });
  expect(config(["--host", "fe80::1%lo"])).toMatchObject({ host: "fe80::1%lo" });
  expect(config(["--host", "::ffff:127.0.0.1"])).toMatchObject({ host: "::ffff:127.0.0.1" });
  expect(config(["--host", "localhost"])).toMatchObject({ host: "localhost" });
  expect(config(["--host", "fe80::1%eth0:1"])).toMatchObject({ host: "fe80::1%eth0:1" });
  for (const host of [" 127.0.0.1", "127.0.0.1 ", "[::1", "::1]", "[]", "a b", "1:2:3", "[1:2:3]", "::1::2", "localhost:x", "fe80::1%lo%lo", "fe80::1%"]) {
    expect(() => config(["--host", host])).toThrow(`--host must be an address or a host name, got '${host}'`);
  }
  // Before, an address with its port ran into the listen, exit 1: "cannot listen on [127.0.0.1:5000]:4000".
  for (const host of ["127.0.0.1:5000", "localhost:4000", "[::1]:4000"]) {
    expect(() => config(["--host", host])).toThrow(`--host must be an address or a host name, got '${host}' (the port is a flag of its own)`);
  }
  expect(() => config([], { NUMBERS_METRICS_HOST: "[x" })).toThrow("NUMBERS_METRICS_HOST must be an address or a host name, got '[x'");
});

describe("bad input is a UsageError", () => {
  const bad: [string, string[], Record<string, string>?][] = [
    ["port not a number", ["--port", "abc"]],
    ["port with a unit", ["--port", "80x"]],
    ["port in hex", ["--port", "0x10"]],
    ["negative port", ["--port=-1"]],
    ["negative port as a separate argument", ["--port", "-1"]],
    ["port 65536", ["--port", "65536"]],
    ["port as a decimal", ["--port", "80.5"]],
    ["empty port", ["--port="]],
    ["max-clients 0", ["--max-clients", "0"]],
    ["max-clients not a number", ["--max-clients", "five"]],
    ["report interval 0", ["--report-interval", "0"]],
    ["flush interval 0", ["--flush-interval", "0.0"]],
    ["negative interval", ["--report-interval=-1"]],
    ["interval not a number", ["--flush-interval", "soon"]],
    ["empty log", ["--log="]],
    // Before, "it is a directory" even when it named no directory (the open's EISDIR).
    ["log ending in /", ["--log", "logs/numbers.log/"]],
    ["env log ending in /", [], { NUMBERS_LOG: "/tmp/" }],
    ["unknown flag", ["--verbose"]],
    ["unexpected argument", ["extra"]],
    ["flag without its value", ["--port"]],
    ["bad env port", [], { NUMBERS_PORT: "abc" }],
    ["env port 65536", [], { NUMBERS_PORT: "65536" }],
    ["env max-clients 0", [], { NUMBERS_MAX_CLIENTS: "0" }],
    ["env interval 0", [], { NUMBERS_REPORT_INTERVAL: "0" }],
    ["empty env log", [], { NUMBERS_LOG: "" }],
  ];
  for (const [name, argv, env] of bad) {
    test(name, () => {
      expect(() => parseServerConfig(argv, env ?? {})).toThrow(UsageError);
    });
  }

  test("the message names the env variable the bad value came from", () => {
    expect(() => parseServerConfig([], { NUMBERS_PORT: "abc" })).toThrow(/NUMBERS_PORT/);
    expect(() => parseServerConfig(["--port", "abc"], {})).toThrow(/--port/);
  });

  test("a flag whose value is missing, or starts with a dash, says so in one line", () => {
    const message = (argv: string[]) => {
      try {
        parseServerConfig(argv, {});
      } catch (err) {
        return (err as Error).message;
      }
      return "parsed";
    };
    expect(message(["--port"])).toBe("--port needs a value");
    expect(message(["--port", "--log", "x"])).toBe("--port needs a value, got the option '--log'");
    expect(message(["--port", "-1"])).toBe("--port -1: a value that starts with '-' is written --port=-1");
    expect(message(["--port=-1"])).toBe("--port must be a whole number from 0 to 65535, got '-1'");
  });

  test("a flag replaces its env twin, so a bad twin goes unread", () => {
    expect(config(["--port", "1"], { NUMBERS_PORT: "abc" })).toMatchObject({ port: 1 });
  });
});

test("--help and -h return help without reading the other options", () => {
  expect(parseServerConfig(["--help"], {})).toEqual({ help: true });
  expect(parseServerConfig(["-h"], {})).toEqual({ help: true });
  expect(parseServerConfig(["--port", "abc", "--help"], { NUMBERS_LOG: "" })).toEqual({ help: true });
});

describe("purity", () => {
  const saved = process.env.NUMBERS_PORT;
  afterEach(() => {
    if (saved === undefined) delete process.env.NUMBERS_PORT;
    else process.env.NUMBERS_PORT = saved;
  });

  test("process.env is not read: only the env argument counts", () => {
    process.env.NUMBERS_PORT = "1234";
    expect(config([])).toMatchObject({ port: 4000 });
  });
});

test("describeOptions lists every flag, env name and default of the server", () => {
  const table = describeOptions(SERVER_OPTIONS);
  const specs = Object.values(SERVER_OPTIONS);
  expect(table.split("\n")).toHaveLength(specs.length);
  for (const spec of specs) {
    const row = table.split("\n").find((r) => r.includes(spec.switch ? `--[no-]${spec.flag}` : `--${spec.flag} `));
    expect(row, spec.flag).toBeDefined();
    expect(row, spec.flag).toContain(spec.env);
    expect(row, spec.flag).toContain(`default ${spec.default}`);
  }
});

describe("terminate options", () => {
  function terminateConfig(argv: string[], env: Record<string, string> = {}): TerminateConfig {
    const parsed = parseTerminateConfig(argv, env);
    if (parsed.help) throw new Error("unexpected help");
    return parsed.config;
  }

  test("--timeout defaults to 30 s", () => {
    expect(terminateConfig([])).toEqual({ host: "127.0.0.1", port: 4000, timeout: 30 });
  });

  test("--timeout and its twin NUMBERS_TERMINATE_TIMEOUT take decimals; the flag wins", () => {
    expect(terminateConfig(["--timeout", "0.2"])).toMatchObject({ timeout: 0.2 });
    expect(terminateConfig([], { NUMBERS_TERMINATE_TIMEOUT: "2.5" })).toMatchObject({ timeout: 2.5 });
    expect(terminateConfig(["--timeout=7"], { NUMBERS_TERMINATE_TIMEOUT: "2.5" })).toMatchObject({ timeout: 7 });
  });

  test("a timeout that is not a number of seconds above 0 is a UsageError naming its source", () => {
    for (const value of ["0", "-1", "soon", "", "1s", "86401"]) {
      expect(() => parseTerminateConfig(["--timeout", value], {})).toThrow(UsageError);
    }
    expect(() => parseTerminateConfig([], { NUMBERS_TERMINATE_TIMEOUT: "0" })).toThrow(/NUMBERS_TERMINATE_TIMEOUT/);
  });
});

// Before, an empty value of an option whose default is empty passed for the default: an empty
// NUMBERS_CHECK_SPAWN checked whatever server ran on port 4000, and counted numbers into its log.
test("every option of every command refuses an empty value, by flag and by twin, but those that say what empty means", () => {
  const tables: Record<string, Record<string, OptionSpec<unknown>>> = {
    serve: SERVER_OPTIONS, client: CLIENT_OPTIONS, terminate: TERMINATE_OPTIONS, check: CHECK_OPTIONS, bench: BENCH_OPTIONS, "bench:ab": AB_OPTIONS,
  };
  const allowed: string[] = [];
  for (const [command, table] of Object.entries(tables)) {
    for (const spec of Object.values(table)) {
      if (spec.empty) {
        allowed.push(`${command} --${spec.flag}`);
        continue;
      }
      const flag = spec.short ? `--${spec.flag} (-${spec.short})` : `--${spec.flag}`;
      if (!spec.switch) expect(() => parseOptions(table, [`--${spec.flag}=`], {}, Infinity)).toThrow(`${flag} must not be empty (leave it out for the default)`);
      if (spec.short) expect(() => parseOptions(table, [`-${spec.short}`, ""], {}, Infinity)).toThrow(`${flag} must not be empty (leave it out for the default)`);
      expect(() => parseOptions(table, [], { [spec.env]: "" }, Infinity)).toThrow(`${spec.env} is set but empty (unset it for the default)`);
    }
  }
  expect(allowed).toEqual(["bench --svg"]);
});

// Before, nothing tested what `auto` means: a default server run single-threaded passed every test.
test("--workers defaults to auto, a thread per core up to 8 (README); a number is that many threads", () => {
  expect(config([]).workers).toBe("auto");
  expect(serveThreads("auto")).toBe(Math.min(navigator.hardwareConcurrency, 8));
  expect(serveThreads(config(["--workers", "3"]).workers)).toBe(3);
});
