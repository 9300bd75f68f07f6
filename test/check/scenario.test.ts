// The checker's pure helpers (src/check/scenario.ts): the log check that turns a log's bytes
// into a verdict with its evidence, and the fresh numbers every case sends.

import { expect, test } from "bun:test";
import { expectLog, fresh, logLines, quote } from "../../src/check/scenario.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

test("expectLog: each present number once, no absent one; the evidence names each problem", () => {
  const check = expectLog(["000000001", "000000002"], ["000000009"]);
  expect(check(bytes("000000002\n000000001\n"))).toEqual({ ok: true, evidence: "" });
  const v = check(bytes("000000002\n000000002\n000000009\n"));
  expect(v.ok).toBe(false);
  expect(v.evidence).toBe("missing from the log: 000000001; logged more than once: 000000002; in the log but must not count: 000000009");
  expect(check(bytes("1\n2\n")).evidence).toBe("missing from the log: 000000001, 000000002");
});

test("logLines: whole lines, and the bytes after the last LF as a torn line", () => {
  expect(logLines(bytes("123456789\n12345"))).toEqual({ lines: ["123456789"], rest: "12345" });
  expect(logLines(bytes(""))).toEqual({ lines: [], rest: "" });
});

test("fresh numbers: nine digits, never the same twice in a run, never below 100000000", () => {
  const a = fresh(1000);
  const b = fresh(1000);
  const all = [...a, ...b];
  expect(new Set(all).size).toBe(2000);
  for (const n of all) expect(n).toMatch(/^[1-9]\d{8}$/);
});

test("quote: short bytes as JSON, long ones cut with their length", () => {
  expect(quote("a\r\n")).toBe('"a\\r\\n"');
  expect(quote("7".repeat(100), 4)).toBe('"7777"... (100 bytes)');
});
