// Preloaded for every test run (bunfig.toml): the environment the spawned servers inherit.
// A NUMBERS_* twin left in the developer's shell (NUMBERS_MAX_CLIENTS=2 from running a server
// by hand) would reach every server, client and checker the tests spawn and fail tests that
// have nothing wrong: the run drops all but the variables that steer it (docs/testing.md).
// NUMBERS_WARMUP=0 skips the JIT warm-up (its cost per start: docs/testing.md), which only the
// warm-up's own test (test/server/warmup.test.ts) needs; a value set outside the run, or by a
// test in its env, still wins.

/** What the run passes on: the variables docs/testing.md lists as steering it. */
const STEERING = ["NUMBERS_SERVER_BIN", "NUMBERS_WORKERS", "NUMBERS_WARMUP", "NUMBERS_TEST_FULL", "NUMBERS_CHECK_FULL", "NUMBERS_TEST_CONCURRENCY"];

for (const name of Object.keys(process.env)) {
  if (name.startsWith("NUMBERS_") && !STEERING.includes(name)) delete process.env[name];
}
process.env.NUMBERS_WARMUP ??= "0";
