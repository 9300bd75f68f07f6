// The real Prometheus tool checks a live scrape: `promtool check metrics` parses the text
// format and lints the names, HELP and TYPE lines. promtool comes from PROMTOOL, the PATH,
// or test/support/promtool.sh, which takes it from Debian's `prometheus` package into a
// cache the first time; a machine where none of these works fails this test, never skips it.

import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { sendAll } from "../support/client.ts";
import { METRICS_ON, metricsBase, readyPort } from "../support/metrics.ts";
import { connect } from "../support/peer.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();

const FIND_PROMTOOL = resolve(import.meta.dir, "../support/promtool.sh");
let found: string | undefined;

function promtool(): string {
  found ??= process.env.PROMTOOL || Bun.which("promtool") || undefined;
  if (found) return found;
  const run = Bun.spawnSync(["bash", FIND_PROMTOOL], { stdout: "pipe", stderr: "pipe" });
  const path = run.stdout.toString().trim();
  if (run.exitCode !== 0 || !path) {
    throw new Error(`promtool not found, and ${FIND_PROMTOOL} could not fetch it: ${run.stderr.toString().trim().split("\n").at(-1)}`);
  }
  return (found = path);
}

/** The first call may download the package (a few seconds). */
const FETCH_TIMEOUT_MS = 120_000;

describe.each([1, 2])("--workers %d", (workers) => {
  test("promtool check metrics passes a live scrape, with no lint problem", async () => {
    const tool = promtool();
    const server = servers.spawn(["serve", "--port", "0", ...METRICS_ON, "--workers", String(workers)]);
    const base = await metricsBase(server);
    const port = await readyPort(server);
    // Every series has a value other than its start: numbers, an invalid and an open client.
    await sendAll(await connect(port), "000000001\n000000001\n");
    const bad = await connect(port);
    bad.write("x");
    await bad.closed;
    const open = await connect(port);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('numbers_received_total{result="duplicate"} 1');
    const check = Bun.spawn([tool, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(check.stdout).text(), new Response(check.stderr).text(), check.exited]);
    expect({ code, out, err }).toEqual({ code: 0, out: "", err: "" });
    open.write("terminate\n");
    expect((await outcome(server)).code).toBe(0);
  }, FETCH_TIMEOUT_MS);
});

test("promtool itself rejects what breaks the rules (so the check above can fail)", async () => {
  const bad = "# HELP numbers_x_bytes a counter without _total\n# TYPE numbers_x_bytes counter\nnumbers_x_bytes 1\n";
  const check = Bun.spawn([promtool(), "check", "metrics"], { stdin: new Blob([bad]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(check.stdout).text(), new Response(check.stderr).text(), check.exited]);
  expect(code).not.toBe(0);
  expect(out + err).toContain('counter metrics should have "_total" suffix');
}, FETCH_TIMEOUT_MS);
