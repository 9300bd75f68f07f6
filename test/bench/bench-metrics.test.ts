// `bun run bench:metrics` runs end to end: metrics off and on, every log verified and, with
// metrics on, the counters checked against the run.

import { expect, test } from "bun:test";
import { resolve } from "node:path";

const SCRIPT = resolve(import.meta.dir, "../../bench/metrics.ts");

test("bun run bench:metrics runs end to end: logs verified, counters exact, a row per setting", async () => {
  const args = ["--count", "20000", "--runs", "1", "--workloads", "seq", "--workers", "1,2", "--scrape-interval", "0.05"];
  const proc = Bun.spawn([process.execPath, SCRIPT, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
  expect(out).toMatch(/^.+, \d+ cores, Bun .+; 20000 numbers per run over 5 connections, .+scraped every 0\.05 s; load average/);
  for (const workers of [1, 2]) expect(out).toMatch(new RegExp(`^\\| seq \\| ${workers} \\| [\\d.]+ \\| [\\d.]+ \\| \\d+% \\|`, "m"));
  expect(err.match(/log verified/g)).toHaveLength(4);
  expect(err.match(/counters exact/g)).toHaveLength(2);
}, 60_000);

test("bad options are usage errors", async () => {
  const proc = Bun.spawn([process.execPath, SCRIPT, "--scrape-interval", "0"], { stdout: "ignore", stderr: "pipe" });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("--scrape-interval must be a number of seconds from 0.001 to 86400");
});
