// A crash loop: the server is killed (SIGKILL) at random moments under load and restarted
// with --resume, again and again. After every kill the log must hold only whole lines of
// numbers that were sent, none twice (a torn last line aside, which the restart must cut),
// and every number a report line had counted before the kill: the server flushes the log
// before each report line, so a report is the proof that its total was on disk.
// The moments come from a seeded PRNG; the seed is in the test's name (so even a timeout
// shows it), and CRASHLOOP_SEED=<seed> replays the same choices (the machine's timing
// still varies). The default run kills 6 times per thread count, NUMBERS_TEST_FULL=1 20 times
// (test/support/strength.ts); the first 6 cycles' choices are the same in both.

import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { readFileSync, statSync, watch } from "node:fs";
import { encodeLines } from "../../src/core/protocol.ts";
import { rng } from "../../src/client/payload.ts";
import { connect } from "../support/peer.ts";
import { REPORT } from "../support/reports.ts";
import { indexOf, sequence } from "../support/sequence.ts";
import { tempDir, type Server } from "../support/server.ts";
import { outcome, serverPool } from "../support/servers.ts";
import { sample, STRENGTH } from "../support/strength.ts";

const servers = serverPool();

const SEED = Number(process.env.CRASHLOOP_SEED ?? (Math.random() * 2 ** 32) >>> 0);
const CYCLES = sample(6, 20);
/** Clients sending new numbers each cycle; one more sends a slice of older ones again. */
const FRESH_CLIENTS = 3;
/** Most new numbers one client sends in a cycle (600 KB). */
const MAX_FRESH = 60_000;
/** Most report lines (one per 10 ms) before a kill. */
const MAX_REPORTS = 8;
/** Bytes per write: the kill may come between any two. */
const WRITE_BYTES = 64 * 1024;

/** One connection's share of a cycle: the sequence's lines first..first+count-1. */
interface Share {
  first: number;
  count: number;
  /** Bytes the kernel took from us. */
  written: number;
}

/**
 * Connects one client per share and calls `connected` once all are; then streams each share
 * over its connection, WRITE_BYTES at a time, and calls `progress` with the bytes written
 * over all connections after each write; each connection half-closes once all is written.
 * Resolves once every connection has closed (by the server, or by its death).
 */
async function stream(port: number, shares: Share[], connected: () => void, progress: (bytes: number) => void): Promise<void> {
  let total = 0;
  const closed: Promise<void>[] = [];
  const sockets: Socket<{ share: Share; payload: Uint8Array }>[] = [];
  const pump = (socket: Socket<{ share: Share; payload: Uint8Array }>) => {
    const { share, payload } = socket.data;
    while (share.written < payload.length) {
      const want = Math.min(WRITE_BYTES, payload.length - share.written);
      const n = socket.write(payload.subarray(share.written, share.written + want));
      if (n <= 0) return;
      share.written += n;
      total += n;
      progress(total);
      if (n < want) return;
    }
    socket.shutdown();
  };
  for (const share of shares) {
    const { promise, resolve } = Promise.withResolvers<void>();
    closed.push(promise);
    const payload = encodeLines(sequence(share.first, share.count));
    sockets.push(await Bun.connect({ hostname: "127.0.0.1", port, data: { share, payload }, socket: { data() {}, drain: pump, close: () => resolve(), error() {} } }));
  }
  connected();
  for (const socket of sockets) pump(socket);
  await Promise.all(closed);
}

const size = (path: string) => statSync(path).size;

/** Bits over sequence indices: which numbers were sent, which are in the log. */
class IndexSet {
  private bits = new Uint8Array(1024);
  has(i: number): boolean {
    return i >> 3 < this.bits.length && (this.bits[i >> 3] & (1 << (i & 7))) !== 0;
  }
  add(i: number): void {
    if (i >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max(2 * this.bits.length, (i >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[i >> 3] |= 1 << (i & 7);
  }
}

/** What the test knows across restarts. */
interface Known {
  sent: IndexSet;
  logged: IndexSet;
  /** The log as it was after the last restart: whole lines, each checked. */
  verified: Buffer;
}

/**
 * Checks the log after a kill: the lines checked before are unchanged, every new whole
 * line is nine digits and LF and a number sent and not logged before, and what follows
 * the last whole line is at most a torn line of digits. Returns the number of whole lines.
 */
function checkAfterKill(path: string, known: Known): number {
  const bytes = readFileSync(path);
  expect(bytes.subarray(0, known.verified.length).equals(known.verified)).toBe(true);
  const whole = bytes.length - (bytes.length % 10);
  for (let at = known.verified.length; at < whole; at += 10) {
    let value = 0;
    for (let k = 0; k < 9; k++) {
      const d = bytes[at + k] - 48;
      if (d < 0 || d > 9) throw new Error(`line ${at / 10 + 1} is not nine digits: ${JSON.stringify(bytes.subarray(at, at + 10).toString("latin1"))}`);
      value = value * 10 + d;
    }
    if (bytes[at + 9] !== 10) throw new Error(`line ${at / 10 + 1} does not end in LF`);
    const index = indexOf(value);
    if (!known.sent.has(index)) throw new Error(`line ${at / 10 + 1} is ${value}, a number never sent`);
    if (known.logged.has(index)) throw new Error(`line ${at / 10 + 1} repeats ${value}`);
    known.logged.add(index);
  }
  const tail = bytes.subarray(whole).toString("latin1");
  if (!/^\d*$/.test(tail)) throw new Error(`the log ends in ${JSON.stringify(tail)}, not a torn line of digits`);
  return whole / 10;
}

/**
 * Reads the server's report lines until its stdout ends: each must add up from `loaded`
 * (the lines the server found in the log), and `onReport` hears each new total.
 */
async function readReports(server: Server, loaded: number, onReport: (total: number) => void): Promise<void> {
  let total = loaded;
  for (let line; (line = await server.stdout.next()) !== null; ) {
    const m = REPORT.exec(line);
    if (!m) throw new Error(`expected a report line, got ${JSON.stringify(line)}`);
    expect(Number(m[3])).toBe(total + Number(m[1]));
    total = Number(m[3]);
    onReport(total);
  }
}

/** Starts the server on the log in `dir` with --resume, and checks it cut the log to its whole lines. */
async function restart(dir: string, workers: number, known: Known, whole: number): Promise<Server> {
  const server = await servers.start(["--resume", "--workers", String(workers), "--report-interval", "0.01"], { dir });
  const bytes = readFileSync(server.log);
  expect(bytes.length).toBe(whole * 10);
  expect(bytes.subarray(0, known.verified.length).equals(known.verified)).toBe(true);
  known.verified = bytes;
  return server;
}

async function crashLoop(workers: number, seed: number, at: { where: string }) {
  const random = rng(seed);
  const below = (n: number) => random() % n;
  const dir = tempDir();
  const known: Known = { sent: new IndexSet(), logged: new IndexSet(), verified: Buffer.alloc(0) };
  let next = 0;
  let whole = 0;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const server = await restart(dir, workers, known, whole);
    const shares: Share[] = [];
    for (let c = 0; c < FRESH_CLIENTS; c++) {
      const count = 1 + below(MAX_FRESH);
      shares.push({ first: next, count, written: 0 });
      next += count;
    }
    // Numbers of earlier cycles again (logged or lost with a kill): at most once in the log.
    const again = below(next);
    shares.push({ first: again, count: Math.min(next - again, below(MAX_FRESH)), written: 0 });
    const bytes = shares.reduce((sum, s) => sum + s.count * 10, 0);

    // The kill comes at a random moment: once the clients have written a random number of
    // bytes (most still on their way to the server), once the log has grown by a random
    // number of lines (the server is busy logging them), or at a random report line.
    const fresh = shares.slice(0, FRESH_CLIENTS).reduce((sum, s) => sum + s.count, 0);
    const mode = (["bytes", "log", "reports"] as const)[below(3)];
    const killAt = mode === "bytes" ? below(bytes) : mode === "log" ? 10 * (whole + 1 + below(fresh)) : 1 + below(MAX_REPORTS);
    at.where = `cycle ${cycle + 1} of ${CYCLES}, kill at ${killAt} ${mode}`;
    const kill = () => {
      if (!server.proc.killed) server.proc.kill(9);
    };
    let lastTotal = whole;
    // Report lines count toward a kill only once every client is connected: at 10 ms a line,
    // the first could come before the connects on a loaded machine, and a kill then would
    // refuse them (seen in CI) and test no load.
    let connected = false;
    let reports = 0;
    // Bun's fs.watch drops change events (here, 24 of 30 runs of 1-20 appends missed the
    // last; like oven-sh/bun#7919), so the log's size is also looked at on each report line,
    // whose total says the size too.
    const logGrown = () => {
      if (mode === "log" && (size(server.log) >= killAt || lastTotal * 10 >= killAt)) kill();
    };
    const watcher = mode === "log" ? watch(server.log, logGrown) : undefined;
    const reading = readReports(server, whole, (total) => {
      lastTotal = total;
      if (connected && ++reports === killAt && mode === "reports") kill();
      logGrown();
    });
    const streaming = stream(server.port, shares, () => (connected = true), (written) => {
      if (mode === "bytes" && written >= killAt) kill();
    });
    await Promise.all([reading, streaming]);
    watcher?.close();
    const result = await outcome(server);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toEqual([`listening on 127.0.0.1:${server.port}`]);

    for (const s of shares) for (let i = 0; i < Math.floor(s.written / 10); i++) known.sent.add(s.first + i);
    whole = checkAfterKill(server.log, known);
    expect(whole).toBeGreaterThanOrEqual(lastTotal);
  }

  at.where = "the last restart";
  // A last restart cuts any torn tail; terminate then ends it cleanly with the log whole.
  const server = await restart(dir, workers, known, whole);
  (await connect(server.port)).write("terminate\n");
  const result = await outcome(server);
  expect(result.code).toBe(0);
  expect(checkAfterKill(server.log, known)).toBe(whole);
  return whole;
}

test.each([1, 2])(
  `--workers %d: ${CYCLES} kill -9s under load (${STRENGTH}), each followed by --resume: never a repeated or damaged line, nothing reported lost (seed ${SEED})`,
  async (workers) => {
    // Where this loop is, for the message of a failure (the two loops may run at once).
    const at = { where: "the first start" };
    try {
      expect(await crashLoop(workers, SEED, at)).toBeGreaterThan(0);
    } catch (err) {
      console.error(`crash loop failed with --workers ${workers} at ${at.where}; CRASHLOOP_SEED=${SEED} replays its choices`);
      throw err;
    }
  },
  60_000,
);
