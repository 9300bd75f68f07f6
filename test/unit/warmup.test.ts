// The JIT warm-up's made-up lines (src/server/warmup.ts) must take every path of the engine
// that clients' lines take, or the compiler meets those paths first on a client's numbers.

import { expect, test } from "bun:test";
import { Engine } from "../../src/core/engine.ts";
import { warmUpMain } from "../../src/server/warmup.ts";

test("the main thread's warm-up takes both probe loops of the engine, near and scattered", async () => {
  const methods = Engine.prototype as unknown as Record<"testAndSet" | "testAndSetScattered", (n: number) => number>;
  const originals = { testAndSet: methods.testAndSet, testAndSetScattered: methods.testAndSetScattered };
  const calls = { testAndSet: 0, testAndSetScattered: 0 };
  for (const name of ["testAndSet", "testAndSetScattered"] as const) {
    methods[name] = function (this: unknown, n: number) {
      calls[name]++;
      return originals[name].call(this, n);
    };
  }
  try {
    await warmUpMain(true, 1_000_000);
  } finally {
    Object.assign(methods, originals);
  }
  expect(calls.testAndSet).toBeGreaterThan(20);
  expect(calls.testAndSetScattered).toBeGreaterThan(20);
});
