// Preloaded for every test run (bunfig.toml): the environment the spawned servers inherit.
// NUMBERS_WARMUP=0 skips the JIT warm-up (its cost per start: docs/testing.md), which only the
// warm-up's own test (test/server/warmup.test.ts) needs; a value set outside the run, or by a
// test in its env, still wins.

process.env.NUMBERS_WARMUP ??= "0";
