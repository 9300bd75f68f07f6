// How much of a long randomized test runs: a seeded sample by default (the README's
// `bun test`), the whole of it with NUMBERS_TEST_FULL=1 (as .ci/run does). The choices
// stay seeded either way, so a failure in the sample replays with the same seed.

/** True when NUMBERS_TEST_FULL=1 asks for every randomized test at full strength. */
export const FULL = process.env.NUMBERS_TEST_FULL === "1";

/** `quick` in the default run, `full` with NUMBERS_TEST_FULL=1. */
export function sample<T>(quick: T, full: T): T {
  return FULL ? full : quick;
}

/** Says, in a test's name, which strength runs and how to get the other. */
export const STRENGTH = FULL ? "full strength" : "a sample; NUMBERS_TEST_FULL=1 runs it whole";
