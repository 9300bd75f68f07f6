// Test-only hooks that let the integration tests reach every window of the server's life
// deterministically, on the source and on the compiled executable alike. Each is inert
// unless its environment variable is set, and none is listed in --help.
//
// NUMBERS_TEST_PARK=<phase> parks the server when it enters that phase: it prints
// `test: parked at <phase>` on stderr (with ` on port N` once the port is bound) and waits
// for a line on stdin. Binding and preparing
// are parked synchronously, as a long --resume load stalls them (nothing runs meanwhile);
// starting and stopping asynchronously (clients, signals and workers go on).
//
// In-process tests may also park a worker (withWorkerPark), never set by the server.
//
// NUMBERS_TEST_FAULT=<fault> injects a failure that no real input can cause:
//   worker-start  every worker thread throws before it has started
//   worker-crash  a worker thread throws on the first chunk it is handed
//   worker-exit   a worker thread ends (process.exit) on the first chunk it is handed, with no error
//   worker-write  a worker thread's first write to the log fails (as on a full disk), its
//                 writes after it dropped; the main thread's writes go on as they would
//   worker-stop   a worker thread throws when it is asked to stop
//   throw         SIGUSR2 throws an uncaught exception in the main thread
//   reject        SIGUSR2 leaves a rejected promise unhandled in the main thread
//
// NUMBERS_TEST_FATAL_GRACE=<ms> shortens the wait after an internal error for a stop that does
// not end (coordinator.ts, 5 s), so that a test of it need not wait that long.
//
// NUMBERS_TEST_LAZY_PAGES=1 leaves the bitmap's pages to their first touch instead of mapping
// them all before the readiness line (touchPages, coordinator.ts). Zeroing 119 MiB is much of
// a start's CPU, which the default test run's hundreds of servers, each setting a few
// numbers, would spend for nothing (docs/testing.md, Timings); that run sets it
// (test/support/env.ts).

import { readSync } from "node:fs";
import type { LogFile } from "./logfile.ts";
import type { Phase } from "./lifecycle.ts";
import { printNotice } from "../output/print.ts";
import { UsageError } from "../options.ts";

const PARKS = ["binding", "preparing", "starting", "stopping"] as const;
const FAULTS = ["worker-start", "worker-crash", "worker-exit", "worker-stop", "worker-write", "throw", "reject"] as const;
export type Fault = (typeof FAULTS)[number];

export interface TestHooks {
  park?: (typeof PARKS)[number];
  fault?: Fault;
  fatalGraceMs?: number;
  lazyPages?: boolean;
}

function pick<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === "") return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${name} must be one of ${allowed.join(", ")}, got '${value}'`);
  return value as T;
}

function milliseconds(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a whole number of milliseconds, got '${value}'`);
  return Number(value);
}

export function parseTestHooks(env: Record<string, string | undefined>): TestHooks {
  return {
    park: pick("NUMBERS_TEST_PARK", env.NUMBERS_TEST_PARK, PARKS),
    fault: pick("NUMBERS_TEST_FAULT", env.NUMBERS_TEST_FAULT, FAULTS),
    fatalGraceMs: milliseconds("NUMBERS_TEST_FATAL_GRACE", env.NUMBERS_TEST_FATAL_GRACE),
    lazyPages: pick("NUMBERS_TEST_LAZY_PAGES", env.NUMBERS_TEST_LAZY_PAGES, ["0", "1"]) === "1",
  };
}

function announce(phase: Phase, port: number | undefined) {
  printNotice(`test: parked at ${phase}${port === undefined ? "" : ` on port ${port}`}`);
}

/**
 * Parks the server where it reaches `phase`, if NUMBERS_TEST_PARK names it: binding and
 * preparing synchronously (this thread blocks until a line, or EOF, arrives on stdin), the
 * others asynchronously (the returned promise resolves then). The coordinator's one seam.
 */
export function parkAt(hooks: TestHooks, phase: Phase, port?: number): void | Promise<void> {
  if (hooks.park !== phase) return;
  announce(phase, port);
  return phase === "binding" || phase === "preparing" ? parkSync() : park();
}

function parkSync(): void {
  const byte = new Uint8Array(1);
  while (readSync(0, byte, 0, 1, null) === 1 && byte[0] !== 10);
}

async function park(): Promise<void> {
  const reader = Bun.stdin.stream().getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done || value.includes(10)) break;
  }
  reader.releaseLock();
}

/**
 * A worker's message handlers with NUMBERS_TEST_FAULT's worker fault built in: the handler it
 * names throws instead. Without a fault the handlers are returned as they are, so the hot
 * path checks nothing. worker-start is thrown here, at setup, before the thread has started.
 */
export function withWorkerFault<H extends { count: unknown; stop: unknown }>(fault: Fault | undefined, handlers: H): H {
  const thrower = () => {
    throw new Error(`injected fault (NUMBERS_TEST_FAULT=${fault})`);
  };
  if (fault === "worker-start") thrower();
  if (fault === "worker-crash") return { ...handlers, count: thrower };
  if (fault === "worker-exit") return { ...handlers, count: () => process.exit(0) };
  if (fault === "worker-stop") return { ...handlers, stop: thrower };
  return handlers;
}

/**
 * A worker's log writer with NUMBERS_TEST_FAULT=worker-write built in: the first write fails,
 * said to `onError` as a real failure is, and nothing more is written. Without the fault the
 * writer `open` makes, as it is. A real failure (a full disk) reaches every thread's writer at
 * once; this one, a worker's alone, shows that a worker's failure alone stops the server.
 */
export function withWriteFault(fault: Fault | undefined, path: string, open: (onError: (message: string) => void) => LogFile): (onError: (message: string) => void) => LogFile {
  if (fault !== "worker-write") return open;
  return (onError) => {
    let failed = false;
    return {
      write: () => {
        if (!failed) onError(`cannot write log file '${path}': injected fault (NUMBERS_TEST_FAULT=${fault})`);
        failed = true;
      },
      flush: () => {},
      close: async () => {},
    };
  };
}

/**
 * A worker's message handlers with an in-process test's park built in: while the Int32 in
 * `park` is 1, the count handler waits before it counts, so that the test sees the queue
 * fill with nothing counted (the worker counts in parallel, and did, at times, in the few
 * microseconds between the handovers and the test's look). Not parked, the handlers as
 * they are: the hot path checks nothing.
 */
export function withWorkerPark<H extends { count: (m: never) => unknown }>(park: SharedArrayBuffer | undefined, handlers: H): H {
  if (park === undefined) return handlers;
  const flag = new Int32Array(park);
  return {
    ...handlers,
    count: (m: never) => {
      Atomics.wait(flag, 0, 1);
      return handlers.count(m);
    },
  };
}

/** Installs the main thread's injected faults (see the header). */
export function injectFaults(hooks: TestHooks): void {
  if (hooks.fault === "throw") {
    process.on("SIGUSR2", () => {
      throw new Error("injected fault (NUMBERS_TEST_FAULT=throw)");
    });
  } else if (hooks.fault === "reject") {
    process.on("SIGUSR2", () => void Promise.reject(new Error("injected fault (NUMBERS_TEST_FAULT=reject)")));
  }
}
