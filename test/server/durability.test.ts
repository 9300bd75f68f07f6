// Nothing lost: the flush timer puts new numbers on disk while the server runs (so even
// kill -9 keeps them), a clean shutdown writes what the timer has not yet, and a log that
// cannot be written is never ignored: the server says so on stderr, closes its clients
// and exits 1.

import { describe, expect, test } from "bun:test";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { join } from "node:path";
import { logNumbers, sorted, waitForSize } from "../support/logs.ts";
import { connect } from "../support/peer.ts";
import { Lines, serverCommand, tempDir } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();

/**
 * Numbers each of five clients sends in one write: 35 KB, more than HANDOFF_BYTES (32 KiB,
 * src/server/dispatch.ts), so with several threads they are counted by the workers, not only by the
 * main thread; 175 KB in all, a little more than one shard's 128 KiB log buffer holds.
 */
const PER_CLIENT = 3_500;
const values = numbers({ kind: "random" }, 5 * PER_CLIENT, 0, 11);
const payload = encodeLines(values);

async function sendFromFive(port: number) {
  const peers = await Promise.all([0, 1, 2, 3, 4].map(() => connect(port)));
  peers.forEach((peer, i) => peer.write(encodeLines(values.subarray(i * PER_CLIENT, (i + 1) * PER_CLIENT))));
  return peers;
}

// Serial (alone in this file): the bound on the flush is measured.
test.serial.each([1, 3])("--workers %d --flush-interval 0.2: new numbers reach the disk within the interval, so kill -9 loses none", async (workers) => {
  const server = await servers.start(["--workers", String(workers), "--flush-interval", "0.2"]);
  await sendFromFive(server.port);
  // Well within the default 1 s interval, so the flag (not the default) must have done it.
  await waitForSize(server.log, payload.length, 800);
  server.proc.kill(9);
  expect(await server.exited).not.toBe(0);
  expect(sorted(logNumbers(server.log))).toEqual(sorted(values));
});

// Serial: the lags are measured. Each number is sent as soon as the one before it is in the
// log, so just after a flush tick, and so waits about a whole interval for the next one.
test.serial("--flush-interval 0.3: a new number sent just after a flush is written at the next tick, an interval later", async () => {
  const server = await servers.start(["--flush-interval", "0.3", "--report-interval", "3600"]);
  const peer = await connect(server.port);
  const lags: number[] = [];
  for (let i = 0; i < 6; i++) {
    const sent = performance.now();
    peer.write(`${String(i + 1).padStart(9, "0")}\n`);
    await waitForSize(server.log, (i + 1) * 10, 2000);
    lags.push(performance.now() - sent);
  }
  // The first was sent at any point of the tick's period; of the others, the middle lag. A
  // tick late on a loaded machine delays one; ticks every 0.6 s would put the median near 600.
  const median = lags.slice(1).sort((a, b) => a - b)[2];
  expect(median).toBeGreaterThan(150);
  expect(median).toBeLessThan(450);
  peer.write("terminate\n");
  expect(await server.exited).toBe(0);
});

test("without a flush tick, numbers already read are still in memory: kill -9 loses them", async () => {
  // The control for the test above: the timer, not the reading, is what writes.
  const server = await servers.start(["--flush-interval", "30"]);
  const peer = await connect(server.port);
  // 500 numbers: 5 KB, far below the 128 KiB log buffer, so only a flush writes them.
  peer.write(encodeLines(values.subarray(0, 500)));
  // The server closes the connection at the bad line, so by then it has read every number.
  peer.write("oops\n");
  await peer.closed;
  server.proc.kill(9);
  await server.exited;
  expect(logNumbers(server.log).length).toBeLessThan(500);
});

// Before 2026-12-07 a client's close came once its numbers were counted, not yet written:
// until the next flush tick (--flush-interval) a `client` that had finished found its
// numbers missing from the log, and the bench stopped its clock before the log was whole.
test.each([1, 3])("--workers %d --flush-interval 30: once a client that half-closed is closed, its numbers are in the log", async (workers) => {
  const server = await servers.start(["--workers", String(workers), "--flush-interval", "30"]);
  const peers = await sendFromFive(server.port);
  for (const peer of peers) peer.end();
  await Promise.all(peers.map((peer) => peer.closed));
  // No flush tick has come, no report and no stop: the closes alone wrote them.
  expect(sorted(logNumbers(server.log))).toEqual(sorted(values));
  server.proc.kill(9);
  await server.exited;
  expect(sorted(logNumbers(server.log))).toEqual(sorted(values));
});

// The flush tick is 30 s away, so only the shutdown itself can have written the numbers.
describe.each([1, 3])("--workers %d, numbers read but not yet flushed", (workers) => {
  test.each(["terminate", "SIGINT", "SIGTERM"] as const)("%s writes every one before exit 0", async (how) => {
    const server = await servers.start(["--workers", String(workers), "--flush-interval", "30"]);
    const peers = await sendFromFive(server.port);
    // A client is reset at its bad line, once the server has read all it sent before it; a
    // reset, unlike a client's own end, does not wait for its numbers to be written.
    for (const peer of peers) peer.write("oops\n");
    await Promise.all(peers.map((peer) => peer.closed));
    if (how === "terminate") (await connect(server.port)).write("terminate\n");
    else server.proc.kill(how);
    expect(await server.exited).toBe(0);
    expect(sorted(logNumbers(server.log))).toEqual(sorted(values));
  });
});

/** The one error line a server with an unwritable log prints after its readiness line. */
function expectNoSpaceError(stderr: string[]) {
  expect(stderr).toHaveLength(2);
  expect(stderr[0]).toStartWith("listening on ");
  expect(stderr[1]).toBe("numbers-server: cannot write log file '/dev/full': no space left on device");
}

// Both counts stay in the shard's 128 KiB log buffer until a flush tick or the shutdown writes them, and that write fails.
test.each([3, 500])("--log /dev/full: terminate after %d numbers exits 1 with one error line", async (count) => {
  const server = await servers.start(["--log", "/dev/full"]);
  const bystander = await connect(server.port);
  const peer = await connect(server.port);
  peer.write(encodeLines(values.subarray(0, count)));
  peer.write("terminate\n");
  const result = await outcome(server);
  expect(result.code).toBe(1);
  expect(result.stdout).toEqual([]);
  expectNoSpaceError(result.stderr);
  // Reset, not a FIN: a FIN would say their numbers are in the log (the terminate command
  // would exit 0).
  expect(await Promise.all([peer.how, bystander.how])).toEqual(["reset", "reset"]);
});

// Before, the write at the close failed and the client still got a FIN, which says its numbers
// are in the log.
test.each([1, 2])("--workers %d --log /dev/full --flush-interval 30: a client whose close writes its numbers, and fails, is reset, not closed", async (workers) => {
  const server = await servers.start(["--workers", String(workers), "--log", "/dev/full", "--flush-interval", "30"]);
  const sent = await sendPayloads("127.0.0.1", server.port, [encodeLines(values.subarray(0, 3))]);
  expect(sent.cutShort).toBe(1);
  const result = await outcome(server);
  expect(result.code).toBe(1);
  expectNoSpaceError(result.stderr);
});

// A write of 4 KiB or more fails only after the flush that started it has returned (Bun's
// FileSink). Before, the close went out first: a FIN for numbers that never reached the log.
test.each([1, 2])("--workers %d, a log that reaches the file-size limit: every client closed with a FIN has its numbers in the log; the one whose write fails is reset", async (workers) => {
  const dir = tempDir();
  const log = join(dir, "numbers.log");
  // 49 KiB (bash counts ulimit -f in KiB), 50,176 bytes: five clients' 10,000 fit, the sixth's does not.
  const proc = Bun.spawn(["bash", "-c", 'ulimit -f 49 && exec "$@"', "bash", ...serverCommand(), "serve", "--port", "0", "--workers", String(workers), "--flush-interval", "30"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const stderr = new Lines(proc.stderr);
  try {
    const port = Number(/:(\d+)$/.exec((await stderr.next()) ?? "")?.[1]);
    let reset = -1;
    for (let k = 0; k < 10 && reset < 0; k++) {
      const mine = values.subarray(k * 1000, (k + 1) * 1000);
      const sent = await sendPayloads("127.0.0.1", port, [encodeLines(mine)]);
      if (sent.cutShort > 0) reset = k;
      // A FIN says the numbers are in the log: all of them, right now.
      else expect(logNumbers(log).filter((v) => mine.includes(v)).length).toBe(1000);
    }
    expect(reset).toBe(5);
    expect(await proc.exited).toBe(1);
    while ((await stderr.next()) !== null);
    expect(stderr.all.at(-1)).toBe(`numbers-server: cannot write log file 'numbers.log': the file is too large`);
  } finally {
    proc.kill(9);
  }
});

test.each([1, 3])("--workers %d --log /dev/full --flush-interval 0.1: the first failed flush closes every client and exits 1", async (workers) => {
  const server = await servers.start(["--workers", String(workers), "--log", "/dev/full", "--flush-interval", "0.1"]);
  const peers = await sendFromFive(server.port);
  // Nobody asks the server to stop: the failed flush alone must end it.
  await Promise.all(peers.map((peer) => peer.closed));
  const result = await outcome(server);
  expect(result.code).toBe(1);
  expect(result.stdout).toEqual([]);
  expectNoSpaceError(result.stderr);
});
