// The test run's environment (test/support/env.ts, preloaded) reaches every process a test
// spawns, also through Bun.spawn and Bun.spawnSync without `env`, which on their own pass the
// environment the test process started with (oven-sh/bun#40846).

import { afterEach, expect, test } from "bun:test";

const PROBE = "NUMBERS_TEST_SPAWN_PROBE";
afterEach(() => {
  delete process.env[PROBE];
});

const echo = `printf '%s|%s' "\${NUMBERS_WARMUP-unset}" "\${${PROBE}-unset}"`;

test("a spawn without env sees process.env as it is now: the run's NUMBERS_WARMUP, a variable set and then deleted", async () => {
  expect(process.env.NUMBERS_WARMUP).toBeDefined();
  process.env[PROBE] = "set";
  const sync = Bun.spawnSync(["sh", "-c", echo]).stdout.toString();
  const objectForm = Bun.spawnSync({ cmd: ["sh", "-c", echo] }).stdout.toString();
  const proc = Bun.spawn(["sh", "-c", echo], { stdout: "pipe" });
  const spawned = await new Response(proc.stdout).text();
  expect([sync, objectForm, spawned]).toEqual(Array(3).fill(`${process.env.NUMBERS_WARMUP}|set`));
  delete process.env[PROBE];
  expect(Bun.spawnSync(["sh", "-c", echo]).stdout.toString()).toBe(`${process.env.NUMBERS_WARMUP}|unset`);
});

test("a spawn with its own env keeps it as given", () => {
  process.env[PROBE] = "set";
  expect(Bun.spawnSync(["sh", "-c", echo], { env: { PATH: process.env.PATH } }).stdout.toString()).toBe("unset|unset");
});
