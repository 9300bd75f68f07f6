// The server's file descriptors against its limit. Bun raises the soft RLIMIT_NOFILE to the
// hard one at start, and every connection is bounded (--max-clients on the numbers port, and
// ENDPOINT_CONNECTIONS on the metrics port, the refused ones that linger included; those waiting
// for a slot on the numbers port are bounded by what the limit leaves: waitingRoom()), so clients cannot use
// the descriptors up. Only a hard limit set too low can: then an accept that fails with EMFILE
// is retried by the event loop at once, again and again, a spinning core that no JavaScript
// can see. So the limit is checked once serving, and a low one is said (docs/edges.md).

import { readdirSync, readFileSync } from "node:fs";

/**
 * Descriptors kept free beyond those the bounded connections need: connections over a limit
 * are accepted before they are closed, and a scrape or a worker may open one briefly.
 */
const SPARE = 16;

/** The soft limit on open files (the hard one too, since Bun has raised it); undefined if unknown. */
export function descriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync("/proc/self/limits", "latin1"));
    return m === null ? undefined : m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Descriptors open now (not counting the one that lists them); undefined if unknown. */
export function descriptorsOpen(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length - 1;
  } catch {
    return undefined;
  }
}

/**
 * Descriptors each serving thread's start opens at its peak: its event loop and wake-ups, the
 * warm-up's two scratch logs and the copies their writers make, the copy the log's writer
 * makes (docs/edges.md, 2026-12-07).
 */
const OPENED_PER_THREAD = 7;
/** What the start may open beyond that for a moment (a worker's source file, from a checkout). */
const OPENED_BRIEFLY = 2;

/**
 * Descriptors the start needs: those open now, inherited ones included (a supervisor may
 * leave some open), and what the start opens. Counted from a fixed estimate of those open
 * (8 + 3 per thread), a limit just above it let the start fail in Bun's own code, after the
 * log was emptied; where /proc cannot tell what is open, the runtime's usual 5 are assumed.
 */
export function descriptorsToStart(threads: number, metrics: boolean): number {
  return (descriptorsOpen() ?? 5) + OPENED_PER_THREAD * threads + (metrics ? 1 : 0) + OPENED_BRIEFLY;
}

/**
 * Connections over --max-clients that a limit should let wait at once (acceptor.ts): clients
 * that each send a line and close, one after another, reached a server under load 500 and
 * more at a time, and a limit with room for fewer refused most of them (docs/edges.md).
 */
export const WAITING_WANTED = 512;

/**
 * How many connections over --max-clients may wait for a slot at once (acceptor.ts): what the
 * limit leaves after the start, the bounded `connections` and the spare, at most `most`
 * (`most` where the limit is unknown). Each waiting connection holds a descriptor.
 */
export function waitingRoom(toStart: number, connections: number, most: number): number {
  const limit = descriptorLimit();
  if (limit === undefined) return most;
  return Math.max(0, Math.min(most, limit - toStart - connections - SPARE));
}

/**
 * The limit to advise: room for the start (`toStart`), the bounded connections, the spare and
 * WAITING_WANTED connections waiting for a slot, so that neither the refusal nor a warning
 * comes at it (each once advised a figure at which the other came).
 */
function advisedLimit(toStart: number, connections: number): number {
  return toStart + connections + SPARE + WAITING_WANTED;
}

/**
 * One line when the limit is below what the start needs (descriptorsToStart()), so that the
 * server refuses before the port or the log is touched; undefined if it is enough or unknown.
 */
export function startShortfall(need: number, threads: number, connections: number): string | undefined {
  const limit = descriptorLimit();
  if (limit === undefined || limit >= need) return undefined;
  const many = threads === 1 ? "1 serving thread needs" : `${threads} serving threads need`;
  // The same advice as the warnings after a start: enough for the connections and for those
  // that wait for a slot, not only to start (which would then warn at once).
  return `the open-file limit (${limit}) is too low to start: ${many} about ${need} descriptors, and the connections up to ${connections + SPARE} more; raise it (ulimit -n ${advisedLimit(need, connections)})`;
}

/**
 * A warning when the limit leaves too little room for `connections` more descriptors (the
 * clients and the metrics endpoint's connections) beyond those open now; undefined if it is
 * enough, or cannot be known.
 */
export function descriptorWarning(toStart: number, connections: number, waitingRoom: number): string | undefined {
  const limit = descriptorLimit();
  const open = descriptorsOpen();
  if (limit === undefined || open === undefined) return undefined;
  const need = open + connections + SPARE;
  // The limit at which neither warning comes: the waiting room was counted from `toStart`.
  const raise = advisedLimit(Math.max(open, toStart), connections);
  if (limit < need) {
    return `warning: the open-file limit (${limit}) is low: ${open} descriptors are in use and the connections need up to ${connections + SPARE} more; raise it (ulimit -n ${raise}) or connections may be refused slowly, at a full core`;
  }
  if (waitingRoom >= WAITING_WANTED) return undefined;
  return `warning: the open-file limit (${limit}) lets only ${waitingRoom} connections over --max-clients wait for a slot, and clients that connect one after another may be refused; raise it (ulimit -n ${raise})`;
}
