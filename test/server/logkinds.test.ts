// The log as each kind of file that is not a regular one (docs/log.md; a regular file's
// bytes are checked by durability.test.ts): a pipe (/dev/stdout) and a FIFO get every line
// whole and once under heavy traffic, with 1 and 2 threads; a FIFO is opened once, so a
// reader that ends at its first EOF (cat) stays to the end; a FIFO nobody reads is refused
// at once (it used to block start-up for good); a reader that leaves is a write failure;
// a terminal nobody reads holds the clients and still lets the server stop (it used to
// freeze it); a socket is refused. And one regular file: standard output that is the log itself, opened
// without O_APPEND by the shell's `>`, whose report lines used to overwrite the log's lines.

import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { encodeLines, LINE_BYTES } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";
import { expectReadWhole, sendAll } from "../support/client.ts";
import { METRICS_ON, metricsBase, pick, readyPort, scrape } from "../support/metrics.ts";
import { StuckPipe } from "../support/fifo.ts";
import { StuckTerminal } from "../support/pty.ts";
import { distinct, parseLog, sorted, waitForSize } from "../support/logs.ts";
import { sequence } from "../support/sequence.ts";
import { nonBlocking, socketPair } from "../support/sockets.ts";
import { connect } from "../support/peer.ts";
import { Lines, serverCommand, tempDir, type Server } from "../support/server.ts";
import { afterTests, outcome, serverPool } from "../support/servers.ts";

const servers = serverPool();
/** Readers and servers a test started itself; one still running after it (the test failed) is killed. */
const readers: Bun.Subprocess[] = [];
// Not an afterEach: this file's tests run concurrently (see afterTests).
afterTests(() => {
  for (const reader of readers.splice(0)) reader.kill(9);
});

/**
 * 300,000 random numbers from five clients (3 MB): every log buffer a thread writes is
 * 128 KiB, far more than a pipe takes whole (PIPE_BUF, 4 KiB), and with two writers the
 * torn pieces of their writes interleaved (over a third of the lines, before the change).
 */
const drawn = [1, 2, 3, 4, 5].map((seed) => numbers({ kind: "random" }, 60_000, 0, seed));
const payloads = drawn.map(encodeLines);
const expected = Uint32Array.from(new Set(drawn.flatMap((d) => Array.from(d)))).sort();
/** Reports would share /dev/stdout with the log; none come in a test's time. */
const QUIET = ["--warmup", "0", "--report-interval", "3600"];
/** The notice of standard output that is the log itself (coordinator.ts warn()). */
const SHARED = (log: string) => `warning: standard output is the log '${log}' itself: report lines land between its numbers`;
/** The notice of a log's reader too far behind (logfile.ts READER_LAG_BYTES). */
const BEHIND = "warning: the log's reader is more than 16 MiB behind: clients are held until it catches up";

/** Every line nine digits and LF, none twice, and exactly the numbers sent. */
function expectEveryByte(text: string) {
  const values = new Uint32Array(Math.ceil(text.length / 10));
  let malformed = 0;
  let firstBad = "";
  for (let i = 0; i < values.length; i++) {
    const line = text.slice(i * 10, i * 10 + 10);
    if (/^\d{9}\n$/.test(line)) values[i] = Number(line.slice(0, 9));
    else if (malformed++ === 0) firstBad = `line ${i + 1}: ${JSON.stringify(line)}`;
  }
  expect({ malformed, firstBad }).toEqual({ malformed: 0, firstBad: "" });
  const got = sorted(values);
  expect(got.length).toBe(expected.length);
  expect(got.findIndex((v, i) => v !== expected[i])).toBe(-1);
}

async function sendAndTerminate(server: Server) {
  const sent = await sendPayloads("127.0.0.1", server.port, payloads);
  await expectReadWhole(sent, server);
  (await connect(server.port)).write("terminate\n");
}

/** A FIFO in a fresh directory, and `cat` reading it until its first EOF. */
function fifoReadByCat() {
  const fifo = join(tempDir(), "log.fifo");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const cat = Bun.spawn(["cat", fifo], { stdout: "pipe" });
  readers.push(cat);
  return { fifo, cat, text: new Response(cat.stdout).text() };
}

/**
 * Starts the server on a FIFO that `cat` is about to read: a start refused because cat is
 * not in its open() yet (the refusal is the event) is tried again.
 */
async function startOnFifo(fifo: string, args: string[]): Promise<Server> {
  for (;;) {
    const spawned = servers.spawn(["serve", "--port", "0", ...args, "--log", fifo]);
    const line = (await spawned.stderr.next()) ?? "";
    const ready = /^listening on .+:(\d+)$/.exec(line);
    if (ready) return { ...spawned, port: Number(ready[1]), dir: "", log: fifo };
    if (!line.includes("a FIFO that nobody reads")) throw new Error(`server did not start: ${line}`);
    await spawned.exited;
  }
}

describe.each(["1", "2"])("--workers %s", (workers) => {
  test("--log /dev/stdout, a pipe (as in `numbers-server --log /dev/stdout | cat`): every line whole and once", async () => {
    const pipe = new StuckPipe();
    const args = ["serve", "--port", "0", "--workers", workers, ...QUIET, "--log", "/dev/stdout"];
    const proc = Bun.spawn([...serverCommand(), ...args], { cwd: tempDir(), stdin: "ignore", stdout: pipe.writeEnd, stderr: "pipe" });
    readers.push(proc);
    try {
      const log = pipe.reader();
      pipe.closeWriteEnd();
      const stderr = new Lines(proc.stderr);
      const port = Number(/^listening on .+:(\d+)$/.exec((await stderr.next()) ?? "")?.[1]);
      expect(await stderr.next()).toBe(SHARED("/dev/stdout"));
      await sendAndTerminate({ port } as Server);
      expect(await proc.exited).toBe(0);
      while ((await log.next()) !== null);
      expectEveryByte(log.text);
    } finally {
      proc.kill(9);
    }
  });

  // The shell's `>` opens without O_APPEND: standard output wrote at its own offset, from 0,
  // so a report line overwrote the log's first lines (torn and lost lines, before the change).
  test.each(["/dev/stdout", "out.txt"])("--log %s with standard output `> out.txt`, a regular file: the report lands between whole lines, none overwritten", async (log) => {
    const dir = tempDir();
    const out = join(dir, "out.txt");
    const fd = openSync(out, "w");
    const args = ["serve", "--port", "0", "--workers", workers, ...QUIET, "--log", log];
    const proc = Bun.spawn([...serverCommand(), ...args], { cwd: dir, stdin: "ignore", stdout: fd, stderr: "pipe" });
    readers.push(proc); // killed after the tests if a timeout cut this one short
    closeSync(fd);
    try {
      const stderr = new Lines(proc.stderr);
      const port = Number(/^listening on .+:(\d+)$/.exec((await stderr.next()) ?? "")?.[1]);
      expect(await stderr.next()).toBe(SHARED(log));
      const sent = await sendPayloads("127.0.0.1", port, payloads);
      expect(sent.cutShort).toBe(0);
      proc.kill("SIGUSR1");
      // Every number's line and the report's: overwritten, the file would never grow past the lines.
      await waitForSize(out, expected.length * LINE_BYTES + 1, 4_000);
      (await connect(port)).write("terminate\n");
      expect(await proc.exited).toBe(0);
      const lines = readFileSync(out, "latin1").split("\n");
      const reports = lines.filter((line) => line.startsWith("Received"));
      expect(reports).toEqual([expect.stringMatching(/^Received \d+ unique numbers, \d+ duplicates\. Unique total: \d+$/)]);
      // Never ahead of the numbers it counts: every one is in the log before the line.
      const total = Number(/Unique total: (\d+)$/.exec(reports[0])![1]);
      expect(lines.indexOf(reports[0])).toBeGreaterThanOrEqual(total);
      expectEveryByte(lines.filter((line) => !line.startsWith("Received")).join("\n"));
    } finally {
      proc.kill(9);
    }
  });

  // Bun.spawn's "pipe" (like systemd's journal) is a socket, which cannot be opened by path.
  test("--log /dev/stdout, a socket: every line whole and once", async () => {
    const server = await servers.start(["--workers", workers, ...QUIET, "--log", "/dev/stdout"]);
    await sendAndTerminate(server);
    const result = await outcome(server);
    expect(result.code).toBe(0);
    expect(result.stderr.slice(1, 2)).toEqual([SHARED("/dev/stdout")]);
    expectEveryByte(server.stdout.text);
  });

  // A socket cannot be opened anew: the log is a duplicate of standard output, whose open file
  // description its holders share, and the log's writer makes it non-blocking. Before, it was
  // left so after the server's exit, for whoever else held the socket.
  // Before, the FileSink made the shared description non-blocking for every holder while the
  // server ran, and after a kill -9 for good; now it is sent to with MSG_DONTWAIT, call by call.
  test("--log /dev/stdout, a socket shared with another holder: its description never made non-blocking, while the server runs or after", async () => {
    const [ours, peer] = socketPair();
    const proc = Bun.spawn([...serverCommand(), "serve", "--port", "0", "--workers", workers, ...QUIET, "--log", "/dev/stdout"], { cwd: tempDir(), stdin: "ignore", stdout: ours, stderr: "pipe" });
    readers.push(proc);
    try {
      const stderr = new Lines(proc.stderr);
      const port = Number(/^listening on .+:(\d+)$/.exec((await stderr.next()) ?? "")?.[1]);
      // A line written and read while it serves: the writer has used the socket by then.
      await sendAll(await connect(port), "000000042\n");
      const got = Buffer.alloc(64);
      let text = "";
      while (!text.includes("000000042\n")) text += got.toString("latin1", 0, readSync(peer, got));
      expect(nonBlocking(ours)).toBe(false);
      (await connect(port)).write("terminate\n");
      expect(await proc.exited).toBe(0);
      expect(nonBlocking(ours)).toBe(false);
    } finally {
      proc.kill(9);
      closeSync(ours);
      closeSync(peer);
    }
  });

  // script(1) gives the server a terminal; -opost keeps the tty from turning LF into CR LF.
  test("--log /dev/tty, a terminal (a character device): every line whole and once", async () => {
    const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
    const args = [...serverCommand(), "serve", "--port", "0", "--workers", workers, ...QUIET, "--log", "/dev/tty"];
    const shell = `stty -opost -echo; exec ${args.map(quote).join(" ")} 2>&3`;
    const proc = Bun.spawn(["script", "-qfec", shell, "/dev/null"], { cwd: tempDir(), stdio: ["pipe", "pipe", "inherit", "pipe"] });
    readers.push(proc);
    const stderr = new Lines(Bun.file(proc.stdio[3] as number).stream());
    const terminal = new Response(proc.stdout).text();
    const port = Number(/^listening on .+:(\d+)$/.exec((await stderr.next()) ?? "")?.[1]);
    await sendAndTerminate({ port } as Server);
    expect(await proc.exited).toBe(0);
    expectEveryByte(await terminal);
  });

  // Before, a terminal was written blocking (Bun's FileSink makes a terminal blocking): one
  // that took nothing froze the server, and no signal or terminate could stop it.
  // One thread alone (20 MB through a pty cost the default run ~2 s of CPU a time): the
  // workers' hand-over to the terminal's writer is the catch-up test's, below.
  test.if(workers === "1")("a terminal nobody reads (as one stopped with Ctrl-S): clients held past 16 MiB behind, the terminate command still stops the server, exit 1 after --stop-timeout", async () => {
    const terminal = new StuckTerminal();
    const server = await servers.start(["--workers", workers, "--warmup", "0", "--stop-timeout", "0.5", "--log", terminal.path]);
    const lines = sequence(0, 2_000_000); // 20 MB of new lines, over two of the five slots
    const sending = sendPayloads("127.0.0.1", server.port, [encodeLines(lines.subarray(0, 1_000_000)), encodeLines(lines.subarray(1_000_000))]);
    expect(await server.stderr.next()).toBe(BEHIND);
    (await connect(server.port)).write("terminate\n");
    const result = await outcome(server);
    await sending;
    expect(result.code).toBe(1);
    expect(result.stderr).toHaveLength(3);
    expect(result.stderr[2]).toMatch(new RegExp(`^numbers-server: cannot write log file '${terminal.path}': its reader did not take the last lines within 0.5 s of the stop \\(--stop-timeout\\): \\d+ bytes of them are not written$`));
    const { cat, text } = terminal.reader();
    readers.push(cat);
    // A terminal takes part of a write (a pipe does not): where the stop gave up, the last
    // line may be cut short; every line before it is whole.
    const got = await text;
    terminal.close();
    const torn = got.length % LINE_BYTES;
    expect(got.slice(got.length - torn)).toMatch(/^\d*$/);
    const logged = parseLog(got.slice(0, got.length - torn), "the terminal");
    expect(logged.length).toBeGreaterThan(0);
    expect(distinct(logged)).toBe(logged.length);
  });

  // Two threads alone: the workers' lines reach the terminal through the main thread's writer, as one thread's do.
  test.if(workers === "2")("a terminal whose reader falls behind and catches up: clients held meanwhile, then served again; every line whole and once", async () => {
    const terminal = new StuckTerminal();
    const server = await servers.start(["--workers", workers, "--warmup", "0", "--log", terminal.path]);
    const lines = sequence(0, 2_000_000);
    const sending = sendPayloads("127.0.0.1", server.port, [encodeLines(lines.subarray(0, 1_000_000)), encodeLines(lines.subarray(1_000_000))]);
    expect(await server.stderr.next()).toBe(BEHIND);
    const { cat, text } = terminal.reader();
    readers.push(cat);
    expect(await server.stderr.next()).toBe("the log's reader caught up: clients are served again");
    await expectReadWhole(await sending, server);
    (await connect(server.port)).write("terminate\n");
    expect((await outcome(server)).code).toBe(0);
    const logged = sorted(parseLog(await text, "the terminal"));
    terminal.close();
    const sent = sorted(lines);
    expect(logged.length).toBe(sent.length);
    expect(logged.findIndex((v, i) => v !== sent[i])).toBe(-1);
  }, 20_000);

  test("a FIFO read by cat: opened once, so cat reads to the end, every line whole and once", async () => {
    const { fifo, cat, text } = fifoReadByCat();
    const server = await startOnFifo(fifo, ["--workers", workers, ...QUIET]);
    await sendAndTerminate(server);
    expect((await outcome(server)).code).toBe(0);
    expect(await cat.exited).toBe(0);
    expectEveryByte(await text);
  });

  test("--resume on a FIFO: nothing to load (reading would wait for data for good), it starts and writes", async () => {
    const { fifo, text } = fifoReadByCat();
    const server = await startOnFifo(fifo, ["--workers", workers, ...QUIET, "--resume"]);
    const peer = await connect(server.port);
    peer.write("000000001\nterminate\n");
    expect((await outcome(server)).code).toBe(0);
    expect(await text).toBe("000000001\n");
  });

  test("a FIFO nobody reads: refused at once with one line, exit 1", async () => {
    const fifo = join(tempDir(), "log.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--workers", workers, "--log", fifo]));
    expect(result).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot open log file '${fifo}': it is a FIFO that nobody reads (start its reader first)`],
    });
  }, 10_000);

  // Before, the stop waited for such a reader for good, holding every number sent meanwhile in memory.
  test("a FIFO whose reader stalls: clients are held past 16 MiB behind, the terminate command still stops the server, exit 1 after --stop-timeout (and 1 for the command)", async () => {
    const pipe = new StuckPipe();
    const server = await servers.start(["--workers", workers, "--warmup", "0", "--stop-timeout", "0.5", "--log", pipe.path]);
    pipe.closeWriteEnd();
    const lines = sequence(0, 2_000_000); // 20 MB of new lines, over two of the five slots
    const sending = sendPayloads("127.0.0.1", server.port, [encodeLines(lines.subarray(0, 1_000_000)), encodeLines(lines.subarray(1_000_000))]);
    expect(await server.stderr.next()).toBe(BEHIND);
    const command = Bun.spawn([...serverCommand(), "terminate", "--port", String(server.port)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    readers.push(command);
    expect(await command.exited).toBe(1);
    expect(await new Response(command.stderr).text()).toBe(
      `numbers-server: the server at 127.0.0.1:${server.port} has stopped, but its stop failed (its stderr says why): not every number sent may be in its log\n`,
    );
    const result = await outcome(server);
    await sending; // cut short, unless a connection's 10 MB all fitted in the kernel's buffers
    expect(result.code).toBe(1);
    expect(result.stderr).toHaveLength(3);
    expect(result.stderr[2]).toMatch(new RegExp(`^numbers-server: cannot write log file '${pipe.path}': its reader did not take the last lines within 0.5 s of the stop \\(--stop-timeout\\): \\d+ bytes of them are not written$`));
    // What the pipe took is whole lines, each new once (the server wrote a pipe in pieces of
    // whole lines that a pipe takes whole or not at all; before, it ended in part of a line).
    const log = pipe.reader();
    while ((await log.next()) !== null);
    const logged = parseLog(log.text, "the FIFO");
    expect(logged.length).toBeGreaterThan(0);
    expect(distinct(logged)).toBe(logged.length);
  });

  test("a FIFO whose reader falls behind and catches up: clients are held meanwhile (and /metrics says so), then served again; every line whole and once", async () => {
    const pipe = new StuckPipe();
    const server = servers.spawn(["serve", "--port", "0", "--workers", workers, "--warmup", "0", "--log", pipe.path, ...METRICS_ON]);
    const base = await metricsBase(server);
    const port = await readyPort(server);
    pipe.closeWriteEnd();
    const count = 2_500_000; // 25 MB of new lines from five clients
    const lines = sequence(0, count);
    const share = count / 5;
    const sending = sendPayloads("127.0.0.1", port, [0, 1, 2, 3, 4].map((i) => encodeLines(lines.subarray(i * share, (i + 1) * share))));
    expect(await server.stderr.next()).toBe(BEHIND);
    // Held, more than 16 MiB waiting for the reader: before, no metric showed it.
    const held = pick(await scrape(base), ["numbers_clients_held", "numbers_log_waiting_bytes"]);
    expect(held.numbers_clients_held).toBe(1);
    expect(held.numbers_log_waiting_bytes).toBeGreaterThan(16 << 20);
    const log = pipe.reader();
    expect(await server.stderr.next()).toBe("the log's reader caught up: clients are served again");
    await expectReadWhole(await sending, server);
    expect(pick(await scrape(base), ["numbers_clients_held"])).toEqual({ numbers_clients_held: 0 });
    (await connect(port)).write("terminate\n");
    expect((await outcome(server)).code).toBe(0);
    while ((await log.next()) !== null);
    const logged = sorted(parseLog(log.text));
    const sent = sorted(lines);
    expect(logged.length).toBe(count);
    expect(logged.findIndex((v, i) => v !== sent[i])).toBe(-1);
    // 1.5 s alone; 25 MB through a FIFO takes longer than Bun's default 5 s on a loaded machine.
  }, 20_000);

  // Before, such a client got its FIN once its lines were queued for the writer: with the
  // reader stalled they were still in the server, and lost if the reader then left.
  test("a FIFO whose reader stalls: a client that half-closed is closed only once the reader has made room for its lines", async () => {
    const pipe = new StuckPipe();
    const server = servers.spawn(["serve", "--port", "0", "--workers", workers, "--warmup", "0", "--log", pipe.path, ...METRICS_ON]);
    const base = await metricsBase(server);
    const port = await readyPort(server);
    pipe.closeWriteEnd();
    // 1 MB: far more than the pipe holds (64 KiB), far less than holds the clients (16 MiB).
    const values = numbers({ kind: "random" }, 100_000, 0, 7);
    const count = new Set(values).size;
    const peer = await connect(port);
    peer.write(encodeLines(values));
    peer.end();
    const UNIQUE = 'numbers_received_total{result="unique"}';
    const SERIES = [UNIQUE, 'numbers_clients_closed_total{reason="eof"}', "numbers_log_waiting_bytes"];
    // Every number counted (the client's FIN has then been read: it came after them) ...
    let seen = pick(await scrape(base), SERIES);
    while (seen[UNIQUE] !== count) seen = pick(await scrape(base), SERIES);
    // ... and a scrape later (the close came at once, before), the client is still open.
    seen = pick(await scrape(base), SERIES);
    expect(seen['numbers_clients_closed_total{reason="eof"}']).toBe(0);
    expect(seen.numbers_log_waiting_bytes).toBeGreaterThan(0);
    expect(peer.isClosed).toBe(false);
    const log = pipe.reader();
    expect(await peer.how).toBe("fin");
    (await connect(port)).write("terminate\n");
    expect((await outcome(server)).code).toBe(0);
    while ((await log.next()) !== null);
    expect(sorted(parseLog(log.text))).toEqual(Uint32Array.from(new Set(values)).sort());
  });

  // Before, the failed write also released the held clients, with a "caught up" line after the error.
  test("a FIFO whose reader leaves while it is behind: one line for the failure, nothing after it, exit 1", async () => {
    const pipe = new StuckPipe();
    const server = await servers.start(["--workers", workers, "--warmup", "0", "--log", pipe.path]);
    pipe.closeWriteEnd();
    const lines = sequence(0, 2_000_000);
    const sending = sendPayloads("127.0.0.1", server.port, [encodeLines(lines.subarray(0, 1_000_000)), encodeLines(lines.subarray(1_000_000))]);
    expect(await server.stderr.next()).toBe(BEHIND);
    pipe.closeHeldEnd();
    const result = await outcome(server);
    await sending;
    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([
      `listening on 127.0.0.1:${server.port}`,
      BEHIND,
      `numbers-server: cannot write log file '${pipe.path}': its reader has gone (broken pipe)`,
    ]);
  });

  test("a FIFO whose reader leaves: the next write fails, one line, every client closed, exit 1", async () => {
    const pipe = new StuckPipe();
    const server = await servers.start(["--workers", workers, "--warmup", "0", "--flush-interval", "0.05", "--log", pipe.path]);
    pipe.closeWriteEnd();
    pipe.closeHeldEnd();
    const peer = await connect(server.port);
    peer.write("000000001\n");
    await peer.closed;
    const result = await outcome(server);
    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([
      `listening on 127.0.0.1:${server.port}`,
      `numbers-server: cannot write log file '${pipe.path}': its reader has gone (broken pipe)`,
    ]);
  });
});

test("a socket as the log: refused with one line, exit 1", async () => {
  const path = join(tempDir(), "log.sock");
  const listener = Bun.listen({ unix: path, socket: { data() {} } });
  try {
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--log", path]));
    expect(result).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot open log file '${path}': it is a socket (a log is a file, a pipe, a FIFO, a device, or standard output)`],
    });
  } finally {
    listener.stop(true);
  }
});

// Before, a block device was taken for a stream: written from its start (O_APPEND does
// nothing there), with or without --resume. The node made here names no device (loop minor
// 250 is never set up), so even a server that opened it could write nothing.
test.skipIf(process.getuid?.() !== 0)("a block device as the log, with or without --resume: refused with one line, exit 1, before it is opened", async () => {
  const path = join(tempDir(), "disk");
  expect(Bun.spawnSync(["mknod", path, "b", "7", "250"]).exitCode).toBe(0);
  for (const resume of [[], ["--resume"]]) {
    const result = await outcome(servers.spawn(["serve", "--port", "0", "--log", path, ...resume]));
    expect(result).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot use log file '${path}': it is a block device (a disk or a partition), which would be written over from its start`],
    });
  }
});

// Before, such a file was opened, "emptied" and written: a setting that takes a number
// (/proc/sys/vm/min_free_kbytes) would have been set by the first flush. /proc/self/comm is
// harmless if written: the server's own name.
test("a file of the kernel's (procfs) as the log: refused with one line, exit 1, before it is opened", async () => {
  const result = await outcome(servers.spawn(["serve", "--port", "0", "--log", "/proc/self/comm"]));
  expect(result).toEqual({
    code: 1,
    stdout: [],
    stderr: ["numbers-server: cannot use log file '/proc/self/comm': it is a file of the kernel's procfs, where a write sets what it controls"],
  });
});

// Before, `--log /dev/stdout` with standard output closed (Bun gives a closed descriptor
// /dev/null) served and exited 0 without a word, every number lost.
test.each([
  ["/dev/null", "/dev/null"],
  ["/dev/stdout", "/dev/null"],
  ["/dev/zero", "/dev/zero"],
])("--log %s that is %s: a warning after the readiness line, and the server serves", async (log, device) => {
  const proc = Bun.spawn([...serverCommand(), "serve", "--port", "0", ...QUIET, "--log", log], { cwd: tempDir(), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  readers.push(proc);
  const stderr = new Lines(proc.stderr);
  const port = Number(/^listening on 127\.0\.0\.1:(\d+)$/.exec((await stderr.next()) ?? "")?.[1]);
  expect(port).toBeGreaterThan(0);
  expect(await stderr.next()).toBe(`warning: the log '${log}' keeps nothing (it is ${device}): every number is discarded`);
  (await connect(port)).write("123456789\nterminate\n");
  expect(await proc.exited).toBe(0);
  expect(await stderr.next()).toBeNull();
});
