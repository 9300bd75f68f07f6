// The phase table of src/server/lifecycle.ts in-process: what each stop event does in each phase,
// that the stop begins once however many events come, and the exit code.

import { describe, expect, test } from "bun:test";
import { Lifecycle, type Phase, type StopEvent } from "../../src/server/lifecycle.ts";

function track() {
  const log = { stops: 0, printed: [] as string[] };
  const life = new Lifecycle(() => log.stops++, (message) => log.printed.push(message));
  return { life, log };
}

/** A Lifecycle walked to `phase` the way the server walks it. */
function at(phase: Phase) {
  const t = track();
  const order: ("preparing" | "starting" | "serving")[] = ["preparing", "starting", "serving"];
  for (const next of order.slice(0, Math.max(0, ["binding", "preparing", "starting", "serving"].indexOf(phase)))) t.life.advance(next);
  if (phase === "stopping" || phase === "stopped") {
    for (const next of order) t.life.advance(next);
    t.life.handle({ kind: "terminate" });
    if (phase === "stopped") t.life.finish();
    t.log.stops = 0;
  }
  expect(t.life.phase).toBe(phase);
  return t;
}

const TERMINATE: StopEvent = { kind: "terminate" };
const SIGNAL: StopEvent = { kind: "signal", name: "SIGTERM" };
const FAILURE: StopEvent = { kind: "failure", message: "disk full" };

describe.each(["starting", "serving"] as const)("%s", (phase) => {
  test.each([[TERMINATE, 0], [SIGNAL, 0], [FAILURE, 1]] as const)("%j stops the server once, exit code %d", (event, code) => {
    const { life, log } = at(phase);
    life.handle(event);
    life.handle(event);
    life.handle(SIGNAL);
    expect(life.phase).toBe("stopping");
    expect(log.stops).toBe(1);
    expect(life.exitCode).toBe(code);
    expect(log.printed).toEqual(code ? ["disk full"] : []);
  });
});

describe.each(["binding", "preparing"] as const)("%s", (phase) => {
  test.each([[TERMINATE, 0], [SIGNAL, 0], [FAILURE, 1]] as const)("%j is noted, and the stop begins when starting is entered, exit code %d", (event, code) => {
    const { life, log } = at(phase);
    life.handle(event);
    expect(log.stops).toBe(0);
    // A failure is said at once, in the phase it happens in; the rest say nothing.
    expect(log.printed).toEqual(code ? ["disk full"] : []);
    if (phase === "binding") expect(life.advance("preparing")).toBe(true);
    expect(life.advance("starting")).toBe(false);
    expect(life.phase).toBe("stopping");
    expect(log.stops).toBe(1);
    expect(life.exitCode).toBe(code);
    expect(life.advance("serving")).toBe(false);
    expect(log.printed).toEqual(code ? ["disk full"] : []);
  });
});

test("stopping: more events change nothing but a failure's exit code", () => {
  const { life, log } = at("stopping");
  life.handle(SIGNAL);
  life.handle(TERMINATE);
  expect(life.exitCode).toBe(0);
  life.handle(FAILURE);
  life.handle({ kind: "failure", message: "second" });
  expect(log.stops).toBe(0);
  expect(life.exitCode).toBe(1);
  expect(log.printed).toEqual(["disk full"]);
  life.finish();
  expect(life.phase).toBe("stopped");
});

test("stopped: events are ignored and print nothing", () => {
  const { life, log } = at("stopped");
  for (const event of [TERMINATE, SIGNAL, FAILURE]) life.handle(event);
  expect(log).toEqual({ stops: 0, printed: [] });
  expect(life.exitCode).toBe(0);
});

test("phases are entered in order only", () => {
  const { life } = track();
  expect(() => life.advance("serving")).toThrow(/binding cannot be followed by serving/);
});
