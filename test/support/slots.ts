// Preloaded for every test run (bunfig.toml): how many tests of one test process run at once.
// The server, bench and check tests (test/server/, test/bench/, test/check/: bunfig's
// concurrentTestGlob) run concurrently within each file, since most of their time is spent
// waiting on spawned processes; each test takes a slot before it starts and gives it back
// when it ends, so at most NUMBERS_TEST_CONCURRENCY (default 3) run at once, and with them
// their servers (each holding its bitmap). The tests of test/unit run one at a time anyway.
// A test whose timing is its subject is declared test.serial: it runs alone in its file. Under
// `bun test --parallel` (`bun run test`) each process, one per core, runs one file and has
// slots of its own, so another file's tests share the cores meanwhile. Bun's per-test
// duration includes the wait for a slot; the test's timeout does not.

import { afterEach, beforeEach } from "bun:test";

const LIMIT = Number(process.env.NUMBERS_TEST_CONCURRENCY ?? 3);
if (!Number.isInteger(LIMIT) || LIMIT < 1) {
  throw new Error(`NUMBERS_TEST_CONCURRENCY must be a positive integer, got '${process.env.NUMBERS_TEST_CONCURRENCY}'`);
}

let free = LIMIT;
const waiting: (() => void)[] = [];
let running = 0;

/** Tests that hold a slot now. */
export function runningTests(): number {
  return running;
}

/** A queued test may wait for a slot for as long as the tests before it take. */
const WAIT_MS = 600_000;

beforeEach(async () => {
  if (free > 0) free--;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
}, WAIT_MS);

afterEach(() => {
  running--;
  const next = waiting.shift();
  if (next) next();
  else free++;
});
