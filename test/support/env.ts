// Preloaded for every test run (bunfig.toml): the environment the spawned servers inherit.
// A NUMBERS_* twin left in the developer's shell (NUMBERS_MAX_CLIENTS=2 from running a server
// by hand) would reach every server, client and checker the tests spawn and fail tests that
// have nothing wrong: the run drops all but the variables that steer it (docs/testing.md).
// NUMBERS_WARMUP=0 skips the JIT warm-up (its cost per start: docs/testing.md), which only the
// warm-up's own test (test/server/warmup.test.ts) needs; NUMBERS_TEST_LAZY_PAGES=1 leaves the
// bitmap's pages to their first touch (src/server/testhooks.ts), except at full strength (CI),
// which runs every server as a user's. A value set outside the run, or by a test in its env,
// still wins.

/** What the run passes on: the variables docs/testing.md lists as steering it. */
const STEERING = ["NUMBERS_SERVER_BIN", "NUMBERS_WORKERS", "NUMBERS_WARMUP", "NUMBERS_TEST_FULL", "NUMBERS_CHECK_FULL", "NUMBERS_TEST_CONCURRENCY", "NUMBERS_TEST_LAZY_PAGES"];

for (const name of Object.keys(process.env)) {
  if (name.startsWith("NUMBERS_") && !STEERING.includes(name)) delete process.env[name];
}
process.env.NUMBERS_WARMUP ??= "0";
if (process.env.NUMBERS_TEST_FULL !== "1") process.env.NUMBERS_TEST_LAZY_PAGES ??= "1";

// Bun.spawn and Bun.spawnSync without an `env` pass the environment the process started with,
// not process.env as it is now (oven-sh/bun#40846; a fix, oven-sh/bun#34972, is open): the
// lines above would reach only the spawns that pass `env`. Before, every other test's server ran
// the default warm-up (its cost: docs/testing.md) and got any NUMBERS_* left in the shell. So
// here a spawn without `env` gets process.env as it is when it is called.
type SpawnOptions = { env?: Record<string, string | undefined> };
function withEnv(args: unknown[]): unknown[] {
  const [first, second] = args;
  if (Array.isArray(first)) {
    const options = (second ?? {}) as SpawnOptions;
    return options.env === undefined ? [first, { ...options, env: { ...process.env } }, ...args.slice(2)] : args;
  }
  const options = first as SpawnOptions;
  return options.env === undefined ? [{ ...options, env: { ...process.env } }, ...args.slice(1)] : args;
}
const spawn = Bun.spawn;
const spawnSync = Bun.spawnSync;
Bun.spawn = ((...args: unknown[]) => (spawn as (...a: unknown[]) => unknown)(...withEnv(args))) as typeof Bun.spawn;
Bun.spawnSync = ((...args: unknown[]) => (spawnSync as (...a: unknown[]) => unknown)(...withEnv(args))) as typeof Bun.spawnSync;
