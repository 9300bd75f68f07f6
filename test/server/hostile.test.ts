// Nothing let in: clients that reset mid-line, churn connections, stall, stream garbage or
// fall silent cannot corrupt the log, leak a client slot, slow the others, grow the
// server's memory or hold a slot forever (--idle-timeout).

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { expectReadWhole } from "../support/client.ts";
import { logNumbers, sorted } from "../support/logs.ts";
import { connect, type Peer } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import type { Server } from "../support/server.ts";
import { serverPool } from "../support/servers.ts";

const servers = serverPool();
const HOST = "127.0.0.1";

/** Shuts the server down with terminate from a new client; the log is then complete. */
async function terminate(server: Server): Promise<void> {
  const peer = await connect(server.port);
  peer.write("terminate\n");
  expect(await server.exited).toBe(0);
}

/** Sends `text` and half-closes; resolves once the server has read it all and closed. */
async function sendAll(peer: Peer, text: string): Promise<void> {
  peer.write(text);
  peer.end();
  await peer.closed;
}

test("a client reset in the middle of a line: its bytes count nowhere, the others go on", async () => {
  // One thread, so that the next connection lands where the torn one was.
  const server = await servers.start(["--workers", "1"]);
  const other = await connect(server.port);
  const torn = await connect(server.port);
  torn.write("12345");
  torn.reset();
  await torn.closed;
  // Were the torn line's carry shared, this short line would complete it as 123456789.
  const next = await connect(server.port);
  next.write("6789\n");
  await next.closed;
  await sendAll(other, "000000001\n000000002\n");
  await terminate(server);
  expect(logNumbers(server.log)).toEqual(Uint32Array.from([1, 2]));
});

/** Connects and leaves as a client may; resolves once the connection is closed. */
async function cycle(port: number, leave: "reset" | "half-close" | "bad line"): Promise<void> {
  const peer = await connect(port);
  // The slots of clients that just left may not all be free yet: a connection over the limit
  // is reset at once, and then the write throws. That cycle is over already.
  try {
    if (leave === "reset") {
      peer.write("1234");
      peer.reset();
    } else if (leave === "half-close") {
      peer.end();
    } else {
      peer.write("x");
    }
  } catch {}
  await peer.closed;
}

test.each([1, 3])("--workers %d: 1,000 connect/close cycles leak no client slot; 5 are admitted after them, a 6th is refused", async (workers) => {
  const server = await servers.start(["--workers", String(workers), "--report-interval", "0.1"]);
  const ways = ["reset", "half-close", "bad line"] as const;
  // Four lanes of 225 cycles, then 100 half-closes. A half-close or bad line completes only
  // when the server closes the connection, so by then the main thread, which holds every
  // connection (acceptor.ts), has handled every earlier reset it got; with workers, the
  // lines of each cycle may be counted by any thread, and the slots must not care.
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 225; i++) await cycle(server.port, ways[i % 3]);
  }));
  for (let i = 0; i < 100; i++) await cycle(server.port, "half-close");

  const admitted = await Promise.all([0, 1, 2, 3, 4].map(() => connect(server.port)));
  admitted.forEach((peer, i) => peer.write(`00000000${i}\n`));
  // Once the reports count all 5 numbers, all 5 clients hold a slot.
  await reportsUntil(server.stdout, (sums) => sums.unique >= 5);
  // The server closes a refused client at once, without waiting for it to send anything.
  await (await connect(server.port)).closed;
  expect(admitted.map((peer) => peer.isClosed)).toEqual([false, false, false, false, false]);
  await Promise.all(admitted.map((peer) => sendAll(peer, "")));
  await terminate(server);
  expect(sorted(logNumbers(server.log))).toEqual(Uint32Array.from([0, 1, 2, 3, 4]));
});

test("a client stalled on a partial line does not hold up the others", async () => {
  const server = await servers.start();
  const stalled = await connect(server.port);
  stalled.write("1234");
  const per = 200_000;
  const payloads = [0, 1, 2, 3].map((c) => encodeLines(numbers({ kind: "seq" }, per, c * per, 0)));
  const result = await sendPayloads(HOST, server.port, payloads);
  await expectReadWhole(result, server);
  expect(stalled.isClosed).toBe(false);
  await terminate(server);
  await stalled.closed;
  expect(sorted(logNumbers(server.log))).toEqual(numbers({ kind: "seq" }, 4 * per, 0, 0));
});

/** The peak resident memory of a running process, from /proc (Linux). */
function peakRssBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

// Serial (alone in this file): the bound on the close is about the server, not about other
// tests sharing the cores, and building 250 MB of payload would stall their timers.
test.serial("5 clients streaming 50 MB of garbage each are closed at once; memory stays small", async () => {
  const server = await servers.start();
  // Every payload is far larger than the kernel's socket buffers (a few MiB), so a client
  // can only finish sending if the server keeps reading.
  const size = 50 << 20;
  const digits = new Uint8Array(size).fill(0x31);
  const random = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(random.subarray(at, at + 65536));
  const word = new TextEncoder().encode("terminate".padEnd(size, "e"));
  // The bitmap is resident from the start; what the garbage could add is measured on top.
  const before = peakRssBytes(server.proc.pid);
  // Endless digits (no LF) three times, random bytes, and terminate that never ends.
  const result = await sendPayloads(HOST, server.port, [digits, digits, digits, random, word]);
  expect(result.cutShort).toBe(5);
  expect(result.lastCloseAt - result.firstByteAt).toBeLessThan(1000);
  expect(peakRssBytes(server.proc.pid) - before).toBeLessThan(64 << 20);
  await sendAll(await connect(server.port), "555555555\n");
  await terminate(server);
  expect(logNumbers(server.log)).toEqual(Uint32Array.from([555_555_555]));
});

test("--idle-timeout 0.5 closes a silent client once it has been silent 0.5 s, not by some later timer (well before 1.5 s)", async () => {
  const server = await servers.start(["--idle-timeout", "0.5"]);
  const mute = await connect(server.port);
  const openedAt = performance.now();
  const quiet = await connect(server.port);
  quiet.write("000000001\n");
  const wroteAt = performance.now();
  const [muteClosed, quietClosed] = await Promise.all([mute.closed, quiet.closed]);
  for (const idle of [muteClosed - openedAt, quietClosed - wroteAt]) {
    expect(idle).toBeGreaterThanOrEqual(450);
    expect(idle).toBeLessThan(1500);
  }
  await terminate(server);
  expect(logNumbers(server.log)).toEqual(Uint32Array.from([1]));
});

test("--idle-timeout 0.5 keeps a client that sends a byte every 0.1 s", async () => {
  const server = await servers.start(["--idle-timeout", "0.5"]);
  const slow = await connect(server.port);
  // The pace of a slow client, not a wait for the server: one number, a byte at a time, over 1 s.
  for (const byte of "000000042\n") {
    slow.write(byte);
    await Bun.sleep(100);
  }
  expect(slow.isClosed).toBe(false);
  await sendAll(slow, "000000043\n");
  await terminate(server);
  expect(logNumbers(server.log)).toEqual(Uint32Array.from([42, 43]));
});

test("without --idle-timeout a silent client stays until the server shuts down", async () => {
  const server = await servers.start(["--report-interval", "0.1"]);
  const mute = await connect(server.port);
  // The report lines are the clock: five of them span half a second of silence (without
  // --idle-timeout no sweep runs at all, so any span shows the same).
  for (let i = 0; i < 5; i++) expect(await server.stdout.next()).toStartWith("Received 0 unique numbers");
  expect(mute.isClosed).toBe(false);
  await terminate(server);
  await mute.closed;
});
