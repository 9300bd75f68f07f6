// The check command's configuration (src/check/config.ts) and what it asks of the shared
// option parser (src/options.ts): a one-letter alias (-k) and values that start with a dash.

import { expect, test } from "bun:test";
import { parseCheckConfig, type CheckConfig } from "../../src/check/config.ts";
import { selectCases } from "../../src/check/run.ts";
import { UsageError } from "../../src/options.ts";

function config(argv: string[], env: Record<string, string> = {}): CheckConfig {
  const parsed = parseCheckConfig(argv, env);
  if (parsed.help) throw new Error("unexpected help");
  return parsed.config;
}

test("defaults: a server already running on 127.0.0.1:4000, every case, 10 s timeouts, 2 s for at once", () => {
  expect(config([])).toEqual({
    spawn: "", cwd: "", host: "127.0.0.1", port: 4000, log: "numbers.log", spawnReportInterval: "",
    timeout: 10, startTimeout: 10, settle: 0.5, prompt: 2, throughput: 0, json: false, list: false, only: "",
  });
});

test("-k is --only; values that start with a dash are values, not flags", () => {
  expect(config(["-k", "lines/"]).only).toBe("lines/");
  expect(config(["-k", "-sign"]).only).toBe("-sign");
  const c = config(["--spawn", "--weird-first-word {PORT}", "--spawn-report-interval", "--report-interval {S}"]);
  expect(c.spawn).toBe("--weird-first-word {PORT}");
  expect(c.spawnReportInterval).toBe("--report-interval {S}");
  expect(config(["--spawn=x", "--spawn-report-interval=-r {S}"]).spawnReportInterval).toBe("-r {S}");
});

test("other options still refuse a value that looks like a flag", () => {
  expect(() => config(["--port", "--json"])).toThrow(UsageError);
  expect(() => config(["--timeout", "-1"])).toThrow(UsageError);
});

test("environment twins, and the flag over its twin", () => {
  const env = { NUMBERS_CHECK_SPAWN: "python3 server.py", NUMBERS_CHECK_PORT: "4100", NUMBERS_CHECK_ONLY: "reports", NUMBERS_CHECK_JSON: "1" };
  expect(config([], env)).toMatchObject({ spawn: "python3 server.py", port: 4100, only: "reports", json: true });
  expect(config(["-k", "log/", "--port", "4200"], env)).toMatchObject({ only: "log/", port: 4200 });
  expect(config([], { NUMBERS_CHECK_START_TIMEOUT: "30" }).startTimeout).toBe(30);
  expect(config(["--start-timeout", "2.5"], { NUMBERS_CHECK_START_TIMEOUT: "30" })).toMatchObject({ startTimeout: 2.5, timeout: 10 });
});

test("usage errors: options that need --spawn, a report-interval without {S}, port 0", () => {
  expect(() => config(["--cwd", "/tmp"])).toThrow("--cwd needs --spawn");
  expect(() => config(["--spawn-report-interval", "--report-interval 1"])).toThrow(UsageError);
  expect(() => config(["--spawn", "x", "--spawn-report-interval", "--report-interval 1"])).toThrow("must contain {S}");
  expect(() => config(["--port", "0"])).toThrow(UsageError);
  expect(() => config(["--throughput", "x"])).toThrow(UsageError);
});

test("case selection: -k narrows by name, --throughput adds the throughput cases", () => {
  const names = (argv: string[]) => selectCases(config(argv)).map((c) => c.name);
  const all = names([]);
  expect(all.length).toBeGreaterThanOrEqual(40);
  expect(new Set(all).size).toBe(all.length);
  expect(all.some((n) => n.startsWith("throughput/"))).toBe(false);
  expect(names(["--throughput", "1000"]).filter((n) => n.startsWith("throughput/"))).toEqual(["throughput/random", "throughput/seq", "throughput/dup"]);
  expect(names(["-k", "lines/invalid/c"])).toEqual(["lines/invalid/crlf", "lines/invalid/cr"]);
  // A -k that only throughput cases match selects none without --throughput (run.ts says so).
  expect(names(["-k", "throughput/"])).toEqual([]);
});

test("a -k that matches no case names what the user set: the flag or its environment twin", () => {
  expect(() => config(["-k", "zzz"])).toThrow(new UsageError("-k 'zzz' matches no case (--list lists them)"));
  expect(() => config([], { NUMBERS_CHECK_ONLY: "zzz" })).toThrow(new UsageError("NUMBERS_CHECK_ONLY 'zzz' matches no case (--list lists them)"));
  expect(config([], { NUMBERS_CHECK_ONLY: "lines/" }).only).toBe("lines/");
});
