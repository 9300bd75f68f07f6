// How each connection ends, seen from the client by the errno it gets (node:net):
//   invalid input         abortive close (RST): ECONNRESET, and no end of stream before it
//   an unfinished line    at the client's FIN: abortive close (RST), as for invalid input
//   a client over limit   abortive close (RST) right after it is accepted, unread: ECONNRESET
//                         (so that a client that sent all and half-closed first can tell)
//   terminate             graceful close of every client, a reset of one holding part of a line,
//                         and of the sender of terminate if bytes came after it
//   --idle-timeout        graceful close, a reset of a client holding part of a line
// The reference server closes on invalid input with a reset, and its clients expect
// ConnectionResetError on their next send.

import { expect, test } from "bun:test";
import net from "node:net";
import { connect } from "../support/peer.ts";
import { BAD_LINES } from "../support/cases.ts";
import { reportsUntil } from "../support/reports.ts";
import { serverPool } from "../support/servers.ts";

const servers = serverPool();

/**
 * What a client saw until its socket closed: "end" (FIN), "error CODE", "close". With `halfClose`
 * it sends its FIN after `send` (node:net keeps reading: allowHalfOpen).
 */
function observe(port: number, send?: string, halfClose = false): Promise<string[]> {
  return new Promise((resolve) => {
    const seen: string[] = [];
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: halfClose });
    socket.on("connect", () => {
      if (send !== undefined) socket.write(send);
      if (halfClose) socket.end();
    });
    socket.on("data", () => seen.push("data"));
    socket.on("end", () => seen.push("end"));
    socket.on("error", (err: NodeJS.ErrnoException) => seen.push(`error ${err.code}`));
    socket.on("close", () => resolve([...seen, "close"]));
  });
}

// One server for every kind of bad line (it was one each): a client's ending is its own,
// so each kind is seen on a connection of its own, one after another.
test(`each kind of bad line (${BAD_LINES.map(([name]) => name).join(", ")}): reset, the client sees ECONNRESET`, async () => {
  const server = await servers.start();
  for (const [name, bad] of BAD_LINES) {
    expect(await observe(server.port, `000000001\n${bad}000000002\n`), name).toEqual(["error ECONNRESET", "close"]);
  }
  expect(await observe(server.port, "terminate\n")).toEqual(["end", "close"]);
  expect(await server.exited).toBe(0);
});

// A line cut off by the client's FIN can never end: invalid input, as is a bad line, and the
// lines before it count. A FIN would tell the client every line it sent was taken.
test("an unfinished last line before the client's FIN (digits, or terminate, without LF): reset, ECONNRESET; the lines before it count", async () => {
  const server = await servers.start();
  expect(await observe(server.port, "000000001\n00000", true)).toEqual(["error ECONNRESET", "close"]);
  expect(await observe(server.port, "000000002\nterminate", true)).toEqual(["error ECONNRESET", "close"]);
  // A whole last line, then the FIN: a graceful close.
  expect(await observe(server.port, "000000003\n", true)).toEqual(["end", "close"]);
  expect(await observe(server.port, "terminate\n")).toEqual(["end", "close"]);
  expect(await server.exited).toBe(0);
  expect((await Bun.file(server.log).text()).split("\n").sort()).toEqual(["", "000000001", "000000002", "000000003"]);
});

test("a reset every time: 20 invalid clients in a row each see ECONNRESET", async () => {
  const server = await servers.start();
  for (let i = 0; i < 20; i++) expect(await observe(server.port, "12345678x\n")).toEqual(["error ECONNRESET", "close"]);
  server.proc.kill(9);
});

test("a client over the limit: reset, ECONNRESET, whether it sent and half-closed first or sent nothing", async () => {
  const server = await servers.start(["--max-clients", "1"]);
  const first = await connect(server.port);
  expect(await observe(server.port)).toEqual(["error ECONNRESET", "close"]);
  expect(await observe(server.port, "000000001\n", true)).toEqual(["error ECONNRESET", "close"]);
  first.write("terminate\n");
  expect(await server.exited).toBe(0);
});

test("terminate: the sender and every other client get end of stream, no error", async () => {
  const server = await servers.start();
  const bystander = observe(server.port);
  const sender = observe(server.port, "000000001\nterminate\n");
  expect(await sender).toEqual(["end", "close"]);
  expect(await bystander).toEqual(["end", "close"]);
  expect(await server.exited).toBe(0);
});

test("--idle-timeout: end of stream, no error; a reset where part of a line is discarded", async () => {
  const server = await servers.start(["--idle-timeout", "0.2"]);
  expect(await observe(server.port, "000000001\n")).toEqual(["end", "close"]);
  // A FIN would say every line it sent was taken.
  expect(await observe(server.port, "000000002\n00000")).toEqual(["error ECONNRESET", "close"]);
  server.proc.kill(9);
});

test("terminate: a client holding part of a line is reset, its whole lines counted; one between lines gets end of stream", async () => {
  const server = await servers.start(["--report-interval", "0.05"]);
  const cut = observe(server.port, "000000001\n00000");
  const whole = observe(server.port, "000000002\n");
  // Once a report counts both numbers, the server has read both writes (each one segment).
  await reportsUntil(server.stdout, (sums) => sums.unique >= 2);
  expect(await observe(server.port, "terminate\n")).toEqual(["end", "close"]);
  expect(await cut).toEqual(["error ECONNRESET", "close"]);
  expect(await whole).toEqual(["end", "close"]);
  expect(await server.exited).toBe(0);
  expect((await Bun.file(server.log).text()).split("\n").sort()).toEqual(["", "000000001", "000000002"]);
});

// Before, the sender of terminate got a FIN even where bytes came after its terminate line
// (the lines there discarded): a FIN says every byte sent was taken.
test.each([
  ["a line after it", "000000001\nterminate\n000000002\n"],
  ["part of a line after it", "000000001\nterminate\n00000"],
])("terminate with %s in the same write: its sender is reset, the bytes after it never counted", async (_, sent) => {
  const server = await servers.start();
  expect(await observe(server.port, sent)).toEqual(["error ECONNRESET", "close"]);
  expect(await server.exited).toBe(0);
  expect(await Bun.file(server.log).text()).toBe("000000001\n");
});
