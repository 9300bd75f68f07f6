// The JIT warm-up (src/server/warmup.ts): its made-up lines must take every path of the
// engine that clients' lines take, or the compiler meets those paths first on a client's
// numbers; and it must end early, at the end of a pass, once the server stops.

import { expect, test } from "bun:test";
import { Engine } from "../../src/core/engine.ts";
import { Dispatcher } from "../../src/server/dispatch.ts";
import { warmUpMain, warmUpWorker } from "../../src/server/warmup.ts";

const never = () => false;

/** Runs `body` with `name` of `proto` wrapped to count its calls; returns the count. */
async function counting(proto: object, name: string, body: () => Promise<void>): Promise<number> {
  const methods = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = methods[name];
  let calls = 0;
  methods[name] = function (this: unknown, ...args: unknown[]) {
    calls++;
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    methods[name] = original;
  }
  return calls;
}

test("the main thread's warm-up takes both probe loops of the engine, near and scattered", async () => {
  let scattered = 0;
  const near = await counting(Engine.prototype, "testAndSet", async () => {
    scattered = await counting(Engine.prototype, "testAndSetScattered", () => warmUpMain(true, 1_000_000, never));
  });
  expect(near).toBeGreaterThan(20);
  expect(scattered).toBeGreaterThan(20);
});

test("the main thread's warm-up ends at the end of the pass in which the server stops", async () => {
  // One pass (any line count up to a pass's), then 100 M lines stopped after three passes.
  const onePass = await counting(Dispatcher.prototype, "feed", () => warmUpMain(true, 1, never));
  let checks = 0;
  const stopped = await counting(Dispatcher.prototype, "feed", () => warmUpMain(true, 100_000_000, () => ++checks > 3));
  expect(onePass).toBeGreaterThan(1);
  expect(stopped).toBe(3 * onePass);
});

test("a worker's warm-up ends at the end of the pass in which the server stops", async () => {
  let calls = 0;
  const consume = () => void calls++;
  await warmUpWorker(true, 1, consume, never);
  const onePass = calls;
  calls = 0;
  let checks = 0;
  await warmUpWorker(true, 100_000_000, consume, () => ++checks > 2);
  expect(onePass).toBeGreaterThan(1);
  expect(calls).toBe(2 * onePass);
});
