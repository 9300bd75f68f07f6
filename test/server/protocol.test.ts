// The line protocol against the real server: leading zeros kept, a number logged once
// whatever connection sends it, lines cut across writes, each class of bad input closing
// only its own connection, and the client limit (a refused client's bytes never count).

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connectUntilAdmitted, expectLogged, sendAll } from "../support/client.ts";
import { connect, type Peer } from "../support/peer.ts";
import { reportsUntil } from "../support/reports.ts";
import { BAD_LINES } from "../support/cases.ts";
import { serverPool } from "../support/servers.ts";

const servers = serverPool();

test("leading zeros are kept: 007007009 is logged as such", async () => {
  const server = await servers.start();
  const peer = await connect(server.port);
  peer.write("007007009\n000000000\n");
  peer.write("terminate\n");
  expect(await server.exited).toBe(0);
  expect(readFileSync(server.log, "latin1").split("\n").toSorted()).toEqual(["", "000000000", "007007009"]);
});

test("a number sent on two connections is logged once and reported as one duplicate", async () => {
  const server = await servers.start(["--report-interval", "0.1"]);
  const [a, b] = await Promise.all([connect(server.port), connect(server.port)]);
  const counted = reportsUntil(server.stdout, (sums) => sums.unique + sums.duplicates >= 4);
  a.write("123456789\n000000001\n");
  b.write("123456789\n000000002\n");
  expect(await counted).toEqual({ unique: 3, duplicates: 1, total: 3 });
  a.write("terminate\n");
  expect(await server.exited).toBe(0);
  expectLogged(server.log, [123456789, 1, 2]);
});

test("lines cut across writes: in two parts, byte by byte, and across a line boundary", async () => {
  // The server cannot be seen reading, so the writes are only likely to arrive apart.
  const server = await servers.start();
  const peer = await connect(server.port);
  peer.write("12345");
  peer.write("6789\n");
  for (const byte of "000000042\n") peer.write(byte);
  peer.write("111111111\n222");
  peer.write("222222\n3");
  peer.write("33333333\nterm");
  peer.write("inate\n");
  expect(await server.exited).toBe(0);
  expectLogged(server.log, [123456789, 42, 111111111, 222222222, 333333333]);
});

// One server for every kind of bad line (it was one each), each on a connection of its
// own, one after another, with its own numbers: case k sends k1, k2, the bad line, then k3.
test(`each kind of bad line (${BAD_LINES.map(([name]) => name).join(", ")}) closes that connection: lines before it count, after it not, others go on`, async () => {
  const server = await servers.start();
  const number = (k: number, j: number) => 10 * (k + 1) + j;
  const line = (k: number, j: number) => `${String(number(k, j)).padStart(9, "0")}\n`;
  const bystander = await connect(server.port);
  const logged: number[] = [];
  for (const [k, [name, bad]] of BAD_LINES.entries()) {
    const peer = await connect(server.port);
    peer.write(`${line(k, 1)}${line(k, 2)}${bad}${line(k, 3)}`);
    await peer.closed;
    expect(bystander.isClosed, name).toBe(false);
    // A new client is admitted in the slot the closed one left, and the bystander still counts.
    await sendAll(await connect(server.port), line(k, 4));
    bystander.write(line(k, 5));
    logged.push(number(k, 1), number(k, 2), number(k, 4), number(k, 5));
  }
  bystander.write("terminate\n");
  expect(await server.exited).toBe(0);
  await bystander.closed;
  expectLogged(server.log, logged);
});

// Serial (alone in this file): "at once" is measured.
test.serial.each([5, 2])("--max-clients %d: one more client is closed at once and counts nothing; a freed slot admits the next", async (limit) => {
  const server = await servers.start(["--max-clients", String(limit), "--report-interval", "0.05"]);
  const admitted: Peer[] = [];
  for (let i = 0; i < limit; i++) admitted.push(await connect(server.port));
  const numbers = admitted.map((_, i) => i);
  admitted.forEach((peer, i) => peer.write(`00000000${i}\n`));
  // Once the reports count every number, every one of these clients holds a slot.
  await reportsUntil(server.stdout, (sums) => sums.unique >= limit);

  // "At once": once no slot has freed for 50 ms (TURNOVER_MS in src/server/acceptor.ts). The
  // middle of five waits: a loaded machine may delay one close, never most of them.
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const connectedAt = performance.now();
    const refused = await connect(server.port);
    // The server may close it before this write; either way nothing it sends may count.
    try {
      refused.write("999999999\nterminate\n");
    } catch {}
    waits.push((await refused.closed) - connectedAt);
  }
  expect(waits.sort((a, b) => a - b)[2]).toBeLessThan(200);
  expect(admitted.some((peer) => peer.isClosed)).toBe(false);

  await sendAll(admitted.pop()!, "");
  const counted = reportsUntil(server.stdout, (sums) => sums.unique >= 1, limit);
  const next = await connectUntilAdmitted(server.port, "777777777\n", counted);
  next.write("terminate\n");
  expect(await server.exited).toBe(0);
  await Promise.all(admitted.map((peer) => peer.closed));
  expectLogged(server.log, [...numbers, 777777777]);
});
