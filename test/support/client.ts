// Client-side steps of the integration tests, on top of peer.ts: send and wait for the
// server to close, connect until the server admits the connection, and check what the
// server left behind (its log, its stdout).

import { expect } from "bun:test";
import { logNumbers, sorted } from "./logs.ts";
import { connect, type Peer } from "./peer.ts";
import { REPORT } from "./reports.ts";
import type { Spawned } from "./server.ts";
import { outcome } from "./servers.ts";

/** Sends `text` and half-closes; resolves once the server has read it all and closed. */
export async function sendAll(peer: Peer, text: string): Promise<void> {
  peer.write(text);
  peer.end();
  await peer.closed;
}

/**
 * Fails unless the server read every connection of a send whole (`cutShort` 0). A server
 * that cut its clients short has most often failed and exited, so the failure carries its
 * exit code and stderr (a bare count said nothing of why: 2026-12-07, once in a full run).
 */
export async function expectReadWhole(sent: { cutShort: number }, server: Spawned): Promise<void> {
  if (sent.cutShort === 0) return;
  // One still running is stopped here, so that its stderr so far shows at once.
  const running = server.proc.exitCode === null && server.proc.signalCode === null;
  if (running) server.proc.kill("SIGKILL");
  const { code, stderr } = await outcome(server);
  throw new Error(`the server cut ${sent.cutShort} connection(s) short; it ${running ? "was still running (killed)" : `exited ${code}`}, stderr: ${JSON.stringify(stderr)}`);
}

/** How many refused connections connectUntilAdmitted tolerates before it gives up. */
const MAX_TRIES = 1000;

/**
 * Connects, sends `line`, and reconnects at once each time the server closes the
 * connection (it refuses a client over the limit that way), until `counted` resolves: the
 * caller's wait for a report that counts `line`'s number, which only an admitted client
 * can bring about. A slot freed by a client that just left may take a moment to reopen,
 * so this retries on the event (the refusal) instead of sleeping.
 */
export async function connectUntilAdmitted(port: number, line: string, counted: Promise<unknown>): Promise<Peer> {
  const admitted = counted.then(() => true);
  for (let tries = 1; tries <= MAX_TRIES; tries++) {
    const peer = await connect(port);
    // A refused connection may already be closed here, and then the write throws.
    try {
      peer.write(line);
    } catch {
      await peer.closed;
      continue;
    }
    if (await Promise.race([admitted, peer.closed.then(() => false)])) return peer;
  }
  throw new Error(`not admitted after ${MAX_TRIES} connections`);
}

/** Expects the log at `path` to hold exactly `values`, once each, in any order. */
export function expectLogged(path: string, values: number[]): void {
  // Typed arrays compare at once; arrays of numbers one element at a time (70 ms per 800,000).
  expect(sorted(logNumbers(path))).toEqual(sorted(values));
}

/** Expects every line the server printed on stdout to be a report line. */
export function expectOnlyReports(stdout: string[]): void {
  expect(stdout.filter((line) => !REPORT.test(line))).toEqual([]);
}
