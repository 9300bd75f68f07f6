// The commands' option parsing and --help text, in-process: the client's and terminate's
// options, every server usage error naming what was wrong, and each command's help
// listing its flags. That the executable turns these into exit 2 with one line on stderr,
// and prints --help with exit 0, is proven once, by a spawn, in test/server/startup.test.ts.

import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/options.ts";
import { parseClientConfig, parseTerminateConfig } from "../../src/client/config.ts";
import { askedVersion, COMMANDS, pickCommand, usage } from "../../src/commands.ts";
import { parseServerConfig, SERVER_OPTIONS } from "../../src/server/config.ts";

describe("client and terminate options", () => {
  test("client defaults", () => {
    expect(parseClientConfig([], {})).toEqual({
      help: false,
      positionals: [],
      config: { host: "127.0.0.1", port: 4000, connections: 5, count: 1_000_000, duration: 0, dist: { kind: "random" }, seed: 1, timeout: 30 },
    });
  });

  test("environment twins, shared host and port, and flags beating them", () => {
    const env = {
      NUMBERS_HOST: "10.0.0.1",
      NUMBERS_PORT: "5000",
      NUMBERS_CLIENT_CONNECTIONS: "2",
      NUMBERS_CLIENT_COUNT: "10",
      NUMBERS_CLIENT_DURATION: "1.5",
      NUMBERS_CLIENT_DIST: "dup:3",
      NUMBERS_CLIENT_SEED: "9",
      NUMBERS_CLIENT_TIMEOUT: "0",
    };
    expect(parseClientConfig(["--port", "6000", "--dist", "seq"], env)).toMatchObject({
      config: { host: "10.0.0.1", port: 6000, connections: 2, count: 10, duration: 1.5, dist: { kind: "seq" }, seed: 9, timeout: 0 },
    });
    expect(parseTerminateConfig([], env)).toMatchObject({ config: { host: "10.0.0.1", port: 5000 } });
  });

  // As many as a server's --max-clients allows (up to 10,000), not only the job's five.
  test("--connections up to 10,000", () => {
    expect(parseClientConfig(["--connections", "8"], {})).toMatchObject({ config: { connections: 8 } });
    expect(parseClientConfig(["--connections", "10000"], {})).toMatchObject({ config: { connections: 10000 } });
  });

  test("invalid values are usage errors", () => {
    for (const argv of [["--connections", "10001"], ["--connections", "0"], ["--count", "0"], ["--dist", "dup:0"], ["--duration", "-1"], ["--seed", "x"], ["--max-clients", "1"]]) {
      expect(() => parseClientConfig(argv, {})).toThrow(UsageError);
    }
    expect(() => parseTerminateConfig(["--count", "1"], {})).toThrow(UsageError);
  });

  // Port 0 picks a free port for a listener; a client given it could only fail to connect.
  test("--port 0 is a usage error for client and terminate", () => {
    expect(() => parseClientConfig(["--port", "0"], {})).toThrow(new UsageError("--port must be a whole number from 1 to 65535, got '0'"));
    expect(() => parseTerminateConfig([], { NUMBERS_PORT: "0" })).toThrow(new UsageError("NUMBERS_PORT must be a whole number from 1 to 65535, got '0'"));
  });
});

// These ran as one spawn each in test/server/startup.test.ts; the spawn kept there proves
// the exit code and the one line, these what the line names.
test.each([
  [["--port", "abc"], "--port"],
  [["--port", "70000"], "--port"],
  [["--max-clients", "-1"], "--max-clients"],
  [["--max-clients=-1"], "--max-clients"],
  [["--max-clients", "0"], "--max-clients"],
  [["--bogus"], "--bogus"],
  [["--report-interval", "0"], "--report-interval"],
  [["--report-interval", "0"], "from 0.001 to 86400"],
  // Below a millisecond, a typo made a report line every microsecond; an exponent is no
  // number of ours, and the line says which are.
  [["--report-interval", "0.0001"], "from 0.001 to 86400"],
  [["--report-interval", "1e-3"], "in digits with an optional decimal point, got '1e-3'"],
  // 0 means off here, so the error must not say it is out of range.
  [["--idle-timeout=-1"], "--idle-timeout must be 0 (off) or a number of seconds from 0.001"],
  // The default is auto: a line that named only numbers left it out.
  [["--workers", "foo"], "--workers must be auto or a whole number from 1 to 64, got 'foo'"],
  [["--workers", "0"], "--workers must be auto or a whole number from 1 to 64, got '0'"],
  // parseArgs called it an unknown option, though the README names --no-resume.
  [["--no-resume=1"], "Option '--no-resume' does not take an argument"],
  [["extra"], "extra"],
  // The command after a flag: before, the server's help, as if `client` were not there.
  [["-h", "client"], "unexpected argument 'client'"],
])("serve %j: a UsageError naming %s", (args, named) => {
  expect(() => parseServerConfig(args, {})).toThrow(UsageError);
  expect(() => parseServerConfig(args, {})).toThrow(named);
});

describe("--help", () => {
  test("serve: every flag and environment twin, and --help", () => {
    const help = usage("serve");
    for (const spec of Object.values(SERVER_OPTIONS)) {
      expect(help).toContain(spec.switch ? `--[no-]${spec.flag}` : `--${spec.flag} <v>`);
      expect(help).toContain(spec.env);
    }
    expect(help).toContain("--help");
  });

  test.each(["client", "terminate"] as const)("%s: its usage line and flags, and -h asks for it", (command) => {
    const help = usage(command);
    expect(help.split("\n")[0]).toBe(`Usage: numbers-server ${command} [options]`);
    expect(help).toMatch(/--port <v> +NUMBERS_PORT/);
    for (const flag of ["--help", "-h"]) expect(COMMANDS[command].parse([flag], {})).toMatchObject({ help: true });
  });

  test("terminate: --timeout with its twin and default", () => {
    expect(usage("terminate")).toMatch(/--timeout <v> +NUMBERS_TERMINATE_TIMEOUT +default 30 +give up/);
  });

  test("check: an option with no default says so rather than leaving a blank", () => {
    const help = usage("check");
    expect(help).toMatch(/--spawn <v> +NUMBERS_CHECK_SPAWN +default none +start/);
    expect(help).not.toMatch(/default {2,}\S/);
  });
});

describe("the command and --version", () => {
  test("the first argument names the command when it is one; else the arguments are the server's", () => {
    expect(pickCommand(["client", "--count", "5"])).toEqual({ name: "client", args: ["--count", "5"] });
    expect(pickCommand(["--port", "5000"])).toEqual({ name: "serve", args: ["--port", "5000"] });
    expect(pickCommand([])).toEqual({ name: "serve", args: [] });
    // A word that is no command says so (before: Node's "Unexpected argument ... does not take
    // positional arguments"). Before that, `in` found these on Object.prototype: an internal
    // error, exit 1.
    for (const word of ["bogus", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(() => pickCommand([word, "--port", "1"])).toThrow(new UsageError(`unknown command '${word}' (the commands: serve, client, terminate, check)`));
    }
  });

  test("--version (-v) alone asks for the version; beside anything else it is a usage error", () => {
    expect(askedVersion(["--version"])).toBe(true);
    expect(askedVersion(["-v"])).toBe(true);
    expect(askedVersion(["--port", "1"])).toBe(false);
    for (const args of [["--version", "extra"], ["-v", "-v"]]) expect(() => askedVersion(args)).toThrow("--version takes no other argument");
    // Elsewhere it is not asked for: an option the command does not know, said the same way,
    // or the value of one (check -k -v).
    expect(askedVersion(["--port", "1", "--version"])).toBe(false);
    expect(() => parseServerConfig(["--port", "1", "--version"], {})).toThrow("--version takes no other argument");
    expect(askedVersion(["-k", "-v"])).toBe(false);
    expect(() => COMMANDS.check.parse(["-k", "-v"], {})).toThrow("-k '-v' matches no case");
  });

  test("a flag given twice is a usage error naming it, whichever way it was spelt", () => {
    expect(() => parseServerConfig(["--port", "1", "--port", "2"], {})).toThrow("--port is given more than once");
    expect(() => parseServerConfig(["--log=a", "--log", "b"], {})).toThrow("--log is given more than once");
    expect(() => COMMANDS.check.parse(["-k", "lines", "--only", "log"], {})).toThrow("--only (-k) is given more than once");
    // -h and --help together ask for the help.
    expect(parseServerConfig(["-h", "--help"], {})).toEqual({ help: true });
  });
});

test("a switch is turned off with --no-<flag>, beating a twin that turned it on; other flags have no --no- form", () => {
  expect(parseServerConfig(["--no-resume"], { NUMBERS_RESUME: "1" })).toMatchObject({ config: { resume: false } });
  expect(parseServerConfig([], { NUMBERS_RESUME: "1" })).toMatchObject({ config: { resume: true } });
  expect(COMMANDS.check.parse(["--no-json"], { NUMBERS_CHECK_JSON: "true" })).toMatchObject({ config: { json: false } });
  expect(() => parseServerConfig(["--no-port"], {})).toThrow(UsageError);
  expect(() => parseServerConfig(["--no-help"], {})).toThrow("unknown option '--no-help'");
  expect(() => parseServerConfig(["--resume", "--no-resume"], {})).toThrow("--resume is given more than once");
  expect(usage("serve")).toContain("--[no-]resume");
});
