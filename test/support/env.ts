// Preloaded for every test run (bunfig.toml): the environment the spawned servers inherit.
// NUMBERS_WARMUP=0 skips the JIT warm-up (2 M made-up lines per thread, ~85 ms and ~0.1 s of
// CPU per start), which only the warm-up's own test (test/server/warmup.test.ts) needs; a
// value set outside the run, or by a test in its env, still wins.

process.env.NUMBERS_WARMUP ??= "0";
