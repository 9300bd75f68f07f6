// The client and terminate commands against the real server (from source, or the compiled
// executable when NUMBERS_SERVER_BIN is set). Their option parsing and --help text are in
// test/unit/usage.test.ts.

import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { readFileSync } from "node:fs";
import { connectionNumbers, numbers, parseDist } from "../../src/client/payload.ts";
import { connect } from "../support/peer.ts";
import { spawnServer, type Server } from "../support/server.ts";
import { serverPool } from "../support/servers.ts";

// Every server a test starts is ended once no test of the file runs, a failed one's too.
const servers = serverPool();

/** Runs `numbers-server <args>` to the end. */
async function run(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const p = spawnServer(args);
  const code = await p.exited;
  while ((await p.stdout.next()) !== null);
  while ((await p.stderr.next()) !== null);
  return { code, stdout: p.stdout.all, stderr: p.stderr.all };
}

/** Stops the server with the terminate command; afterwards its log is complete. */
async function terminate(server: Server): Promise<void> {
  const result = await run(["terminate", "--port", String(server.port)]);
  expect(result).toEqual({ code: 0, stdout: [], stderr: [] });
  expect(await server.exited).toBe(0);
}

/** The log's numbers, sorted. */
function logged(server: Server): number[] {
  const text = readFileSync(server.log, "latin1");
  return text === "" ? [] : text.slice(0, -1).split("\n").map(Number).sort((a, b) => a - b);
}

/** A port nobody listens on (free a moment ago). */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

describe("client", () => {
  test("--dist seq over 3 connections logs exactly 0..N-1", async () => {
    const server = await servers.start();
    const count = 30_001;
    const result = await run(["client", "--port", String(server.port), "--dist", "seq", "--count", String(count), "--connections", "3"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toHaveLength(1);
    expect(result.stdout[0]).toMatch(/^sent 30,001 numbers in \d+\.\d\d s \(\d+\.\d+ M numbers\/s\)$/);
    await terminate(server);
    expect(logged(server)).toEqual(Array.from(numbers({ kind: "seq" }, count, 0, 1)));
  });

  test("--dist dup:K logs each of the at most K values drawn exactly once", async () => {
    const server = await servers.start();
    const dist = parseDist("dup:50")!;
    const result = await run(["client", "--port", String(server.port), "--dist", "dup:50", "--count", "10000", "--connections", "3", "--seed", "7"]);
    expect(result.code).toBe(0);
    await terminate(server);
    const drawn = new Set<number>();
    for (let conn = 0; conn < 3; conn++) for (const n of connectionNumbers(dist, 10_000, 3, conn, 7)) drawn.add(n);
    expect(drawn.size).toBeLessThanOrEqual(50);
    expect(logged(server)).toEqual([...drawn].sort((a, b) => a - b));
  });

  test("--duration repeats the same numbers until the time is up", async () => {
    const server = await servers.start();
    const started = performance.now();
    const result = await run(["client", "--port", String(server.port), "--dist", "seq", "--count", "1000", "--duration", "0.3"]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(result.code).toBe(0);
    const sent = Number(/^sent ([\d,]+) numbers \(repeating the same 1,000\) in /.exec(result.stdout[0])![1].replaceAll(",", ""));
    expect(sent).toBeGreaterThan(1000);
    await terminate(server);
    expect(logged(server)).toEqual(Array.from(numbers({ kind: "seq" }, 1000, 0, 1)));
  });

  test("nobody listening: exit 1 and one line on stderr", async () => {
    const port = freePort();
    const result = await run(["client", "--port", String(port)]);
    expect(result).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot connect to 127.0.0.1:${port}: ECONNREFUSED (is the server running?)`],
    });
  });

  // Not a numbers server: an HTTP server's answer, or a greeting on a connection kept open
  // (then the exit comes at once, not at --timeout, here off).
  test.each([
    ["answers the line as an HTTP server would and closes", { data: (s: Socket) => void s.write("HTTP/1.0 400 Bad Request\r\n\r\n"), end: (s: Socket) => void s.end() }],
    ["greets and keeps the connection open", { open: (s: Socket) => void s.write("?"), data() {} }],
  ] as const)("a peer that %s: exit 1 and one line on stderr", async (_, socket) => {
    const fake = Bun.listen({ hostname: "127.0.0.1", port: 0, socket });
    try {
      const result = await run(["client", "--port", String(fake.port), "--count", "1", "--connections", "1", "--timeout", "0"]);
      expect(result).toEqual({
        code: 1,
        stdout: [],
        stderr: [`numbers-server: the peer at 127.0.0.1:${fake.port} sent bytes back on 1 of 1 connections: a numbers server never does (is it one?)`],
      });
    } finally {
      fake.stop(true);
    }
  });

  test("a peer that takes nothing and never closes: --timeout 0.3 gives up with exit 1 and one line", async () => {
    // Accepts and never reads, so the client's end of input is never seen either.
    const fake = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => socket.pause(), data() {} } });
    try {
      const result = await run(["client", "--port", String(fake.port), "--count", "1", "--connections", "2", "--timeout", "0.3"]);
      expect(result).toEqual({
        code: 1,
        stdout: [],
        stderr: [`numbers-server: the server at 127.0.0.1:${fake.port} took no byte and closed no connection for 0.3 s (--timeout)`],
      });
    } finally {
      fake.stop(true);
    }
  });

  test("refused as a client over the limit: exit 1 and one line on stderr", async () => {
    const server = await servers.start(["--max-clients", "1"]);
    const idle = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
    // 20 MB is more than the kernel buffers of the refused connection can take, so the
    // server's close always arrives while the client is still sending.
    const result = await run(["client", "--port", String(server.port), "--count", "2000000", "--connections", "1"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toStartWith("numbers-server: the server closed 1 of 1 connections before it had read all their numbers");
    idle.end();
    await terminate(server);
    expect(logged(server)).toEqual([]);
  });
});

describe.each([1, 2])("a full server (5 clients held, --workers %d)", (workers) => {
  test("client --count 1 and --count 1000 are refused: exit 1 and one line, though all was sent before the refusal", async () => {
    const server = await servers.start(["--workers", String(workers)]);
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await connect(server.port));
    // Accepted in order: once a sixth is refused, the five hold every slot.
    await (await connect(server.port)).closed;
    for (const count of ["1", "1000"]) {
      const result = await run(["client", "--port", String(server.port), "--count", count, "--connections", "1"]);
      expect({ code: result.code, stdout: result.stdout }, `--count ${count}`).toEqual({ code: 1, stdout: [] });
      expect(result.stderr).toEqual([
        "numbers-server: the server closed 1 of 1 connections before it had read all their numbers (it was full, shutting down, or gone)",
      ]);
    }
    for (const peer of held) peer.end();
    await Promise.all(held.map((peer) => peer.closed));
    await terminate(server);
    expect(logged(server)).toEqual([]);
  });
});

describe("terminate", () => {
  test("stops the server; both exit 0", async () => {
    const server = await servers.start();
    await terminate(server);
  });

  test("nobody listening: exit 1 and one line on stderr", async () => {
    const port = freePort();
    const result = await run(["terminate", "--port", String(port)]);
    expect(result).toEqual({
      code: 1,
      stdout: [],
      stderr: [`numbers-server: cannot connect to 127.0.0.1:${port}: ECONNREFUSED (is the server running?)`],
    });
  });

  test("a full server that refuses the connection: exit 1, and it keeps running", async () => {
    const server = await servers.start(["--max-clients", "1"]);
    const idle = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
    const result = await run(["terminate", "--port", String(server.port)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toEqual([
      `numbers-server: the server at 127.0.0.1:${server.port} closed the connection but is still running (is it full?)`,
    ]);
    idle.end();
    await terminate(server);
  });

  // Not a numbers server, which never sends a byte. Before, the greeting one was waited on for
  // the whole --timeout (30 s by default); here that would be 60 s.
  const peers: [string, Parameters<typeof Bun.listen>[0]["socket"]][] = [
    ["answers terminate with bytes and closes", { data: (socket) => void socket.end("HTTP/1.0 400 Bad Request\r\n\r\n") }],
    ["greets with bytes and keeps the connection open (a banner)", { open: (socket) => void socket.write("220 mail ready\r\n"), data() {} }],
  ];
  test.each(peers)("a peer that %s: exit 1 and one line, before --timeout", async (_what, socket) => {
    const fake = Bun.listen({ hostname: "127.0.0.1", port: 0, socket });
    try {
      const result = await run(["terminate", "--port", String(fake.port), "--timeout", "60"]);
      expect(result).toEqual({
        code: 1,
        stdout: [],
        stderr: [`numbers-server: the peer at 127.0.0.1:${fake.port} answered terminate with bytes: a numbers server never does (is it one?)`],
      });
    } finally {
      fake.stop(true);
    }
  });

  test("a server that never closes the connection: --timeout 0.2 gives up with exit 1 and one line", async () => {
    // A fake server: takes the connection, reads the line, and never closes.
    let received = "";
    const gotLine = Promise.withResolvers<void>();
    const fake = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(_socket, data) {
          received += data.toString();
          if (received.endsWith("\n")) gotLine.resolve();
        },
      },
    });
    try {
      const result = await run(["terminate", "--port", String(fake.port), "--timeout", "0.2"]);
      expect(result).toEqual({
        code: 1,
        stdout: [],
        stderr: [`numbers-server: the server at 127.0.0.1:${fake.port} accepted terminate but had not closed the connection within 0.2 s`],
      });
      await gotLine.promise;
      expect(received).toBe("terminate\n");
    } finally {
      fake.stop(true);
    }
  });
});
