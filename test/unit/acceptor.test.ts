// The acceptor (src/server/acceptor.ts) in-process, with a stand-in intake: a client that has sent
// everything is closed only once the intake says every line has been counted; while the
// clients are held (a log's reader behind), a terminate from a new client still gets through.

import { expect, test } from "bun:test";
import { READ_AHEAD_BYTES, STASH_BYTES, startAcceptor, TURNOVER_MS, type Acceptor, type AcceptorOptions, type Intake } from "../../src/server/acceptor.ts";
import { frame, KEEP } from "../../src/core/protocol.ts";

/**
 * Two round trips on a loopback connection of this process's own: every socket event the
 * kernel held before the first (a FIN or a reset the acceptor already sent to a client of
 * this process among them) has been handled by the time it resolves. One is not enough: an
 * event reported in the same poll as the round trip's data may be handled after it.
 */
async function loopbackRoundTrips(): Promise<void> {
  let echoed = () => {};
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket, bytes) => void socket.write(bytes) } });
  const peer = await Bun.connect({ hostname: "127.0.0.1", port: listener.port, socket: { data: () => echoed() } });
  try {
    for (let i = 0; i < 2; i++) {
      const back = new Promise<void>((resolve) => (echoed = resolve));
      peer.write("x");
      await back;
    }
  } finally {
    peer.end();
    listener.stop(true);
  }
}

/** An acceptor on a free port with `intake`: five slots, no idle timeout, no waiting room, a fault thrown; `more` changes any of it. */
function acceptorWith(intake: Intake, more: Partial<AcceptorOptions> = {}) {
  return startAcceptor({ host: "127.0.0.1", port: 0, maxClients: 5, idleTimeout: 0, waitingRoom: 0, intake, onTerminate: () => {}, onFault: (err) => { throw err; }, ...more });
}

test("a half-closed client is closed only after the intake has counted what it sent", async () => {
  const received: string[] = [];
  let consumed: ((counted: boolean) => void) | undefined;
  let onAsked = () => {};
  const intake: Intake = {
    feed: (_conn, chunk) => {
      received.push(Buffer.from(chunk).toString("latin1"));
      return KEEP;
    },
    whenWritten: (done) => {
      consumed = done;
      onAsked();
    },
  };
  const acceptor = acceptorWith(intake);
  try {
    const asked = new Promise<void>((resolve) => (onAsked = resolve));
    let closed = false;
    let onClose = () => {};
    const closing = new Promise<void>((resolve) => (onClose = resolve));
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port: acceptor.port,
      socket: {
        data() {},
        close() {
          closed = true;
          onClose();
        },
      },
    });
    client.write("000000001\n000000002\n");
    // Half-close: the client goes on reading until the server closes its side.
    client.shutdown();
    await asked;
    // The intake has been asked; the client must still be open until it answers (a FIN sent
    // meanwhile would have reached the client by the end of the round trips).
    await loopbackRoundTrips();
    expect(received.join("")).toBe("000000001\n000000002\n");
    expect(closed).toBe(false);
    consumed!(true);
    await closing;
    expect(closed).toBe(true);
  } finally {
    acceptor.stop();
  }
});

// A client waiting for its numbers to be written (a slow worker sync, a slow disk) has sent
// everything: the idle sweep must not close it first, or its FIN would come before its numbers.
test("idle sweep: a half-closed client waiting for its numbers to be written is not idle", async () => {
  let written: ((ok: boolean) => void) | undefined;
  let onAsked = () => {};
  const asked = new Promise<void>((resolve) => (onAsked = resolve));
  const intake: Intake = { feed: () => KEEP, whenWritten: (done) => ((written = done), onAsked()) };
  const acceptor = acceptorWith(intake, { idleTimeout: 1000 });
  try {
    const peer = await client(acceptor.port);
    peer.socket.write("000000001\n");
    peer.socket.shutdown();
    await asked;
    acceptor.sweepIdle(performance.now() + 10_000_000);
    expect(acceptor.stats()).toMatchObject({ connected: 1, closed: { idle: 0, eof: 0 } });
    written!(true);
    expect(await peer.closed).toMatchObject({ reset: false });
    expect(acceptor.stats()).toMatchObject({ connected: 0, closed: { idle: 0, eof: 1 } });
  } finally {
    acceptor.stop();
  }
});

test("an intake that answers at once closes the client at once", async () => {
  const intake: Intake = { feed: () => KEEP, whenWritten: (done) => done(true) };
  const acceptor = acceptorWith(intake);
  try {
    let onClose = () => {};
    const closing = new Promise<void>((resolve) => (onClose = resolve));
    const client = await Bun.connect({ hostname: "127.0.0.1", port: acceptor.port, socket: { data() {}, close: () => onClose() } });
    client.write("000000001\n");
    client.shutdown();
    await closing;
  } finally {
    acceptor.stop();
  }
});

/**
 * An acceptor whose intake records every chunk fed and answers terminate for a connection
 * whose bytes so far end in a terminate line; `terminated` resolves at its onTerminate.
 */
function recordingAcceptor(limits: { maxClients: number; waitingRoom: number; turnoverMs?: number; idleTimeout?: number } = { maxClients: 5, waitingRoom: 0 }) {
  const received: string[] = [];
  let onFed = () => {};
  let onTerminate = () => {};
  const terminated = new Promise<void>((resolve) => (onTerminate = resolve));
  const intake: Intake = {
    // Framed as the dispatcher frames, so that the connection's carry is what it would be.
    feed: (conn, chunk) => {
      received.push(Buffer.from(chunk).toString("latin1"));
      onFed();
      return frame(conn, chunk).verdict;
    },
    whenWritten: (done) => done(true),
  };
  const acceptor = acceptorWith(intake, { ...limits, onTerminate: () => onTerminate() });
  /** Resolves at the next chunk fed. */
  const fed = () => new Promise<void>((resolve) => (onFed = resolve));
  /** A client that sent `line` and was admitted: resolves once the line has been fed. */
  const admitted = async (line: string) => {
    const first = fed();
    const peer = await client(acceptor.port);
    peer.socket.write(line);
    await first;
    return peer;
  };
  return { acceptor, received, terminated, fed, admitted };
}

// A server whose log's reader stalls holds its clients; the terminate command connects anew.
test("held: a terminate from a client admitted meanwhile is fed at once, with the lines before it", async () => {
  const { acceptor, received, terminated } = recordingAcceptor();
  try {
    acceptor.hold(true);
    const client = await Bun.connect({ hostname: "127.0.0.1", port: acceptor.port, socket: { data() {} } });
    client.write("000000001\n");
    client.write("terminate\n");
    await terminated;
    expect(received.join("")).toBe("000000001\nterminate\n");
    client.end();
  } finally {
    acceptor.stop();
  }
});

// Before, every client connected when the hold began was no longer read: its terminate waited
// for the log's reader, for good if that had stalled.
test("held: a terminate from a client connected before the hold, split over two writes, is fed at once", async () => {
  const { acceptor, received, terminated, fed } = recordingAcceptor();
  try {
    const client = await Bun.connect({ hostname: "127.0.0.1", port: acceptor.port, socket: { data() {} } });
    const first = fed();
    client.write("000000001\n000000002\ntermi");
    await first; // admitted and read before the hold, "termi" carried into it
    acceptor.hold(true);
    client.write("nate\n");
    await terminated;
    expect(received.join("")).toBe("000000001\n000000002\nterminate\n");
    client.end();
  } finally {
    acceptor.stop();
  }
});

/**
 * An acceptor with --idle-timeout 1000 s, whose timer's own ticks (every 250 s) never come
 * during a test: only the test's calls sweep, with its own clock. `first` runs before the one
 * client connects; resolves once the client's line has been read (its last data just now).
 * `idle()` is [clients connected, clients closed as idle].
 */
async function idleClient(first?: (acceptor: Acceptor) => void) {
  const read = Promise.withResolvers<void>();
  const intake: Intake = { feed: () => (read.resolve(), KEEP), whenWritten: (done) => done(true) };
  const acceptor = acceptorWith(intake, { idleTimeout: 1000 });
  first?.(acceptor);
  const closing = Promise.withResolvers<void>();
  const client = await Bun.connect({ hostname: "127.0.0.1", port: acceptor.port, socket: { data() {}, close: () => closing.resolve() } });
  client.write("000000001\n");
  await read.promise;
  return { acceptor, closed: closing.promise, idle: () => [acceptor.stats().connected, acceptor.stats().closed.idle] };
}

// A held client is not read (its log's reader is behind), so its silence says nothing: before,
// nothing tested that the idle sweep spares it.
test("held: a client silent past --idle-timeout is not swept as idle; once released, it is swept a timeout after the release", async () => {
  const { acceptor, closed, idle } = await idleClient();
  try {
    const start = performance.now();
    acceptor.hold(true, start);
    // Ten timeouts of silence while held.
    acceptor.sweepIdle(start + 10_000_000);
    expect(idle()).toEqual([1, 0]);
    // Released after those ten timeouts: its clock starts again there, so it is not idle just
    // under a timeout later (it would be, counted from its last data), and is at one.
    const released = start + 10_000_000;
    acceptor.hold(false, released);
    acceptor.sweepIdle(released + 990_000);
    expect(idle()).toEqual([1, 0]);
    acceptor.sweepIdle(released + 1_000_000);
    expect(idle()).toEqual([0, 1]);
    await closed;
  } finally {
    acceptor.stop();
  }
});

/** Resolves once `condition()` holds, looked at every millisecond; rejects after `ms`. */
async function until(condition: () => boolean, what: string, ms = 5000) {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(1);
  }
}

// Lines read from a held client (its log's reader behind) were read before the stop: they count,
// as the client's FIN then says. Before, nothing tested that the stop feeds them.
test("held: at the stop, the lines read from a held client are fed before it is closed", async () => {
  const { acceptor, received, admitted } = recordingAcceptor();
  const peer = await admitted("000000001\n");
  acceptor.hold(true);
  peer.socket.write("000000002\n");
  await until(() => acceptor.stats().stashedBytes === 10, "the held client's line read into its stash");
  expect(received.join("")).toBe("000000001\n");
  acceptor.stop();
  expect(received.join("")).toBe("000000001\n000000002\n");
  expect(acceptor.stats()).toMatchObject({ connected: 0, stashedBytes: 0, closed: { shutdown: 1 } });
  acceptor.closeLast(false);
  expect(await peer.closed).toMatchObject({ reset: false });
});

// Before, the time the process stood still (SIGSTOP, then SIGCONT) counted as every client's
// silence: clients that had sent all along were closed as idle, their lines waiting unread.
test("idle: a tick that comes late (the process stood still) does not count that time as the clients' silence", async () => {
  const { acceptor, closed, idle } = await idleClient();
  try {
    let now = performance.now();
    // On time, a quarter timeout after its data; then 2,000 s late: 1,750 s stood still.
    acceptor.idleTick((now += 250_000));
    acceptor.idleTick((now += 2_000_000));
    expect(idle()).toEqual([1, 0]);
    // 500 s of silence counted so far (the late tick's own interval counts): ticks on time
    // again, and it is idle 1000 s on.
    acceptor.idleTick((now += 250_000));
    acceptor.idleTick((now += 240_000));
    expect(idle()).toEqual([1, 0]);
    acceptor.idleTick((now += 10_000));
    expect(idle()).toEqual([0, 1]);
    await closed;
  } finally {
    acceptor.stop();
  }
});

// Before, the stop fed the stash and closed such a client with a FIN, as if every line it
// sent had been taken: an unfinished line gets a reset on every other path.
test("held: at the stop, a client whose FIN came after an unfinished line is reset, the lines before it fed", async () => {
  // An intake that frames, as the Dispatcher does: the line state is its to keep.
  const fed: string[] = [];
  const first = Promise.withResolvers<void>();
  const intake: Intake = {
    feed: (carry, chunk) => {
      fed.push(Buffer.from(chunk).toString("latin1"));
      first.resolve();
      return frame(carry, chunk).verdict;
    },
    whenWritten: (done) => done(true),
  };
  const acceptor = acceptorWith(intake);
  try {
    const peer = await client(acceptor.port);
    peer.socket.write("000000001\n");
    await first.promise;
    acceptor.hold(true);
    peer.socket.write("000000002\n12");
    peer.socket.shutdown();
    await until(() => acceptor.stats().stashedBytes === 12 && acceptor.stats().ending === 1, "the held client's bytes and FIN read");
    acceptor.stop();
    expect(fed.join("")).toBe("000000001\n000000002\n12");
    expect(acceptor.stats()).toMatchObject({ connected: 0, closed: { invalid: 1, shutdown: 0 } });
    acceptor.closeLast(false);
    expect(await peer.closed).toMatchObject({ reset: true });
  } finally {
    acceptor.stop();
  }
});

// A client read after the standstill (after SIGCONT, before the late tick) has its own last
// data: before, the standstill was added to it too, and it stayed open that much longer.
test("idle: a late tick leaves alone a client read after the standstill; it is idle a timeout after its data", async () => {
  // The last tick 2,250 s before the client comes: the next one is 2,000 s late.
  const { acceptor, idle } = await idleClient((a) => a.idleTick(performance.now() - 2_250_000));
  try {
    const readAt = performance.now();
    acceptor.idleTick(readAt);
    // Ticks on time from here (a quarter timeout apart, or less).
    for (const at of [250_000, 500_000, 750_000, 990_000]) acceptor.idleTick(readAt + at);
    expect(idle()).toEqual([1, 0]);
    acceptor.idleTick(readAt + 1_000_000);
    expect(idle()).toEqual([0, 1]);
  } finally {
    acceptor.stop();
  }
});

/** Clients numbered 1 to `n`, one after another, each sending its number as a line and ending. */
/**
 * How long a connection over the limit waits in the tests whose clients must all still be
 * waiting when the slot frees: they connect one by one, which takes longer than TURNOVER_MS
 * on a loaded machine.
 */
const LONG_WAIT = 60_000;

async function oneLineClients(port: number, n: number) {
  const peers = [];
  for (let k = 1; k <= n; k++) {
    const peer = await client(port);
    peer.socket.write(`${String(k).padStart(9, "0")}\n`);
    peer.socket.shutdown();
    peers.push(peer);
  }
  return peers;
}

/** Connects; `closed` resolves at the close, with whether it came with an error (a reset). */
async function client(port: number) {
  const { promise: closed, resolve } = Promise.withResolvers<{ at: number; reset: boolean }>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: { data() {}, error() {}, close: (_s, err) => resolve({ at: performance.now(), reset: err !== undefined }) },
  });
  return { socket, closed };
}

test("over the limit beside a client that stays: it waits, then is reset, none of its bytes fed", async () => {
  const { acceptor, received, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 4 });
  try {
    const holder = await admitted("000000001\n");
    const started = performance.now();
    const late = await client(acceptor.port);
    late.socket.write("000000002\n");
    const { at, reset } = await late.closed;
    expect(reset).toBe(true);
    // It waited for a slot to free (timers never fire early) and was refused.
    expect(at - started).toBeGreaterThanOrEqual(TURNOVER_MS);
    expect(received.join("")).toBe("000000001\n");
    expect(acceptor.stats()).toMatchObject({ connected: 1, admitted: 1, refused: 1 });
    holder.socket.end();
  } finally {
    acceptor.stop();
  }
});

// A slot whose client has ended its input frees once its numbers are written, which on a
// loaded machine (a worker thread to answer, a slow disk) took longer than the turnover:
// before, the connections waiting since before that client's FIN were refused meanwhile.
test("a slot begins to turn over when its client ends its input: a connection waiting since before is not refused a turnover after its accept", async () => {
  const turnoverMs = 1000;
  const received: string[] = [];
  const asked = Promise.withResolvers<(written: boolean) => void>();
  let fed = Promise.withResolvers<void>();
  const intake: Intake = {
    feed: (conn, chunk) => (received.push(Buffer.from(chunk).toString("latin1")), fed.resolve(), frame(conn, chunk).verdict),
    // The holder's numbers are written when the test says; the waiting one's at once.
    whenWritten: (done) => (received.length === 1 ? asked.resolve(done) : done(true)),
  };
  const acceptor = acceptorWith(intake, { maxClients: 1, waitingRoom: 4, turnoverMs });
  try {
    const holder = await client(acceptor.port);
    holder.socket.write("000000001\n");
    await fed.promise;
    fed = Promise.withResolvers<void>();
    const late = await client(acceptor.port);
    late.socket.write("000000002\n");
    late.socket.shutdown();
    await until(() => acceptor.stats().waiting === 1, "the late client waits");
    const accepted = performance.now();
    // Half a turnover later the holder ends its input; its numbers are written once the
    // turnover since the late client's accept has passed, but not the one since its FIN.
    // (These waits are the subject, a span of the turnover's own clock, not a wait for an
    // event; the margins are 400 ms either way.)
    await Bun.sleep(turnoverMs / 2);
    holder.socket.shutdown();
    const written = await asked.promise;
    await Bun.sleep(accepted + turnoverMs * 1.1 - performance.now());
    written(true);
    expect((await holder.closed).reset).toBe(false);
    expect((await late.closed).reset).toBe(false);
    expect(received.join("")).toBe("000000001\n000000002\n");
    expect(acceptor.stats()).toMatchObject({ admitted: 2, refused: 0 });
  } finally {
    acceptor.stop();
  }
});

// A slot freed by a reset (or an idle close), not by a FIN: the connection seated in it had
// its silence counted from the last turnover before (none here: from the beginning of time),
// and was swept as idle at once. A review's mutant; nothing tested it.
test("a connection seated in a slot freed by a reset is not idle: its silence counts from its seating", async () => {
  const { acceptor, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 4, turnoverMs: LONG_WAIT, idleTimeout: 1 });
  try {
    const holder = await admitted("000000001\n");
    const late = await client(acceptor.port);
    await until(() => acceptor.stats().waiting === 1, "the late client waits");
    holder.socket.write("bad line\n");
    expect((await holder.closed).reset).toBe(true);
    await until(() => acceptor.stats().waiting === 0, "the late client seated");
    acceptor.sweepIdle(performance.now());
    expect(acceptor.stats()).toMatchObject({ connected: 1, closed: { idle: 0, invalid: 1 } });
    late.socket.end();
  } finally {
    acceptor.stop();
  }
});

/** The most one read adds to a connection's stash: a chunk, which Bun makes at most 512 KiB. */
const CHUNK_MOST = 512 << 10;

// What a client holds in the server's memory while it is not counted is bounded: it is read
// no more past its bound, and the rest waits in the kernel (TCP's own backpressure). Before,
// nothing tested either bound: with the pause removed, each held all 8 MB sent.
test.each([
  ["held (a log's reader behind)", STASH_BYTES, false],
  ["waiting for a slot, read ahead", READ_AHEAD_BYTES, true],
])("a client %s is read no further than its bound, plus one chunk", async (_, bound, waits) => {
  const { acceptor, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 4, turnoverMs: LONG_WAIT });
  try {
    const holder = await admitted("000000000\n");
    if (!waits) {
      holder.socket.end();
      await holder.closed;
      acceptor.hold(true);
    }
    const peer = await client(acceptor.port);
    peer.socket.write(Buffer.alloc(8 << 20, "000000001\n"));
    await until(() => acceptor.stats().stashedBytes >= bound, "the bound reached");
    // Time for many more reads, were the connection still read.
    for (let i = 0; i < 5; i++) await loopbackRoundTrips();
    expect(acceptor.stats().stashedBytes).toBeLessThan(bound + CHUNK_MOST);
    peer.socket.terminate();
  } finally {
    acceptor.stop();
  }
});

/** Blocks the event loop for `ms` in every turn until stopped; `turned()` resolves after the next such turn. */
function busyLoop(ms: number) {
  let onTurn = () => {};
  const timer = setInterval(() => {
    const end = performance.now() + ms;
    while (performance.now() < end);
    onTurn();
  }, 0);
  return { turned: () => new Promise<void>((resolve) => (onTurn = resolve)), stop: () => clearInterval(timer) };
}

// Every timer fires some 100 ms late here. Before, a late timer put the refusal off each time:
// the connection waited as long as the load lasted, and was seated and counted once a slot freed.
test("over the limit while the event loop is busy in every turn: refused after one more look, not kept until a slot frees", async () => {
  const { acceptor, received, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 4 });
  const busy = busyLoop(3 * TURNOVER_MS);
  try {
    const holder = await admitted("000000001\n");
    const late = await client(acceptor.port);
    late.socket.write("000000002\n");
    let closed = false;
    void late.closed.then(() => (closed = true));
    // Six busy turns (each three times TURNOVER_MS), or fewer if it is refused first; then
    // the slot frees.
    for (let turn = 0; turn < 6 && !closed; turn++) await busy.turned();
    holder.socket.end();
    expect((await late.closed).reset).toBe(true);
    expect(received.join("")).toBe("000000001\n");
    expect(acceptor.stats()).toMatchObject({ admitted: 1, refused: 1 });
  } finally {
    busy.stop();
    acceptor.stop();
  }
});

// The FIN that frees the slot is sent before a turn of the loop that lasts past the waiting
// connection's TURNOVER_MS: the slot is free before anyone looks.
test("a slot freed while the event loop was busy past TURNOVER_MS goes to the connection waiting for it, which is not refused", async () => {
  const { acceptor, received, admitted, fed } = recordingAcceptor({ maxClients: 1, waitingRoom: 4 });
  try {
    const holder = await admitted("000000001\n");
    const waiter = await client(acceptor.port);
    waiter.socket.write("000000002\n");
    waiter.socket.end();
    const seated = fed();
    // The holder's FIN is sent; the loop is busy past the waiter's TURNOVER_MS before it can read it.
    holder.socket.end();
    const end = performance.now() + 3 * TURNOVER_MS;
    while (performance.now() < end);
    await seated;
    expect(received.join("")).toBe("000000001\n000000002\n");
    expect((await waiter.closed).reset).toBe(false);
    expect(acceptor.stats()).toMatchObject({ admitted: 2, refused: 0 });
  } finally {
    acceptor.stop();
  }
});

test("with no room to wait (waitingRoom 0), a connection over the limit is reset at once, unread", async () => {
  const { acceptor, received, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 0 });
  try {
    const holder = await admitted("000000001\n");
    const late = await client(acceptor.port).catch(() => undefined);
    // Reset before or after Bun called it open: either way refused, and nothing fed.
    if (late !== undefined) expect((await late.closed).reset).toBe(true);
    expect(received.join("")).toBe("000000001\n");
    expect(acceptor.stats()).toMatchObject({ admitted: 1, refused: 1 });
    holder.socket.end();
  } finally {
    acceptor.stop();
  }
});

// Before, nothing tested the bound itself: one connection more than the room could wait.
test("with the waiting room full, the next connection over the limit is reset at once", async () => {
  const { acceptor, received, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 1, turnoverMs: LONG_WAIT });
  try {
    const holder = await admitted("000000001\n");
    const waiter = await client(acceptor.port);
    await until(() => acceptor.stats().waiting === 1, "the second connection waiting");
    const late = await client(acceptor.port).catch(() => undefined);
    // Reset before or after Bun called it open: either way refused.
    if (late !== undefined) expect((await late.closed).reset).toBe(true);
    expect(acceptor.stats()).toMatchObject({ connected: 1, waiting: 1, admitted: 1, refused: 1 });
    expect(received.join("")).toBe("000000001\n");
    // One that gives up waiting (a reset) is refused too: every connection accepted is admitted
    // or refused (numbers_clients_refused_total). Before, nothing tested this.
    waiter.socket.terminate();
    await until(() => acceptor.stats().waiting === 0, "the waiting connection gone");
    expect(acceptor.stats()).toMatchObject({ connected: 1, waiting: 0, admitted: 1, refused: 2 });
    holder.socket.end();
  } finally {
    acceptor.stop();
  }
});

// Bun hands a socket handler's exception to the socket's error handler, not to
// uncaughtException: before, such a bug lost the client's line in silence, and the server
// went on to exit 0.
test("an exception in a socket handler reaches onFault, and its client is reset", async () => {
  const faults: unknown[] = [];
  const { promise: faulted, resolve } = Promise.withResolvers<void>();
  const intake: Intake = {
    feed: () => {
      throw new Error("a bug");
    },
    whenWritten: (done) => done(true),
  };
  const onFault = (err: unknown) => {
    faults.push(err);
    resolve();
  };
  const acceptor = acceptorWith(intake, { onFault });
  try {
    const peer = await client(acceptor.port);
    peer.socket.write("000000001\n");
    await faulted;
    expect((faults[0] as Error).message).toBe("a bug");
    expect((await peer.closed).reset).toBe(true);
  } finally {
    acceptor.stop();
  }
});

// A worker that died with lines of this client (the server then fails): before, the client
// was closed with a FIN, as if every number it sent had been counted.
test("a client some of whose lines were lost is reset at its end, not closed", async () => {
  const intake: Intake = { feed: () => KEEP, whenWritten: (done) => done(false) };
  const acceptor = acceptorWith(intake);
  try {
    const peer = await client(acceptor.port);
    peer.socket.write("000000001\n");
    peer.socket.shutdown();
    expect((await peer.closed).reset).toBe(true);
  } finally {
    acceptor.stop();
  }
});

test("a stop after a failure resets the clients at once; another keeps them until closeLast(), which closes or resets them", async () => {
  for (const [failed, failedLater] of [[true, false], [false, false], [false, true]]) {
    const { acceptor, admitted } = recordingAcceptor();
    const peer = await admitted("000000001\n");
    let closed = false;
    void peer.closed.then(() => (closed = true));
    acceptor.stop(failed);
    if (!failed) {
      // Still open while the log is flushed: a FIN now would claim numbers not yet on disk.
      await loopbackRoundTrips();
      expect(closed).toBe(false);
      acceptor.closeLast(failedLater);
    }
    expect({ failed, failedLater, reset: (await peer.closed).reset }).toEqual({ failed, failedLater, reset: failed || failedLater });
  }
});

test("clients that each send a line and end while the slot is taken are all fed and closed once it frees", async () => {
  const { acceptor, received, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 100, turnoverMs: LONG_WAIT });
  try {
    const holder = await admitted("000000000\n");
    const burst = await oneLineClients(acceptor.port, 50);
    holder.socket.shutdown();
    const endings = await Promise.all(burst.map((p) => p.closed));
    expect(endings.every((e) => !e.reset)).toBe(true);
    expect(received.join("").split("\n").filter(Boolean).sort()).toEqual(Array.from({ length: 51 }, (_, k) => String(k).padStart(9, "0")));
    expect(acceptor.stats()).toMatchObject({ admitted: 51, refused: 0, waiting: 0 });
  } finally {
    acceptor.stop();
  }
});

// Before, the terminate line's slot went to the waiting connections before the stop began:
// they were counted and closed with a FIN ahead of the flush.
test("a terminate line's slot goes to no waiting connection; the stop then refuses them", async () => {
  const { acceptor, received, terminated, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 10, turnoverMs: LONG_WAIT });
  try {
    const holder = await admitted("000000000\n");
    const waiting = await oneLineClients(acceptor.port, 3);
    holder.socket.write("terminate\n");
    await terminated;
    acceptor.stop();
    const endings = await Promise.all(waiting.map((p) => p.closed));
    expect(endings.map((e) => e.reset)).toEqual([true, true, true]);
    expect(received.join("")).toBe("000000000\nterminate\n");
    acceptor.closeLast(false);
  } finally {
    acceptor.stop();
  }
});

// Before, the seating loop went on after a seated connection's terminate: the waiting ones
// behind it were counted and closed with a FIN before the stop could refuse them.
test("a terminate read ahead from a waiting connection ends the seating when it gets a slot", async () => {
  const { acceptor, received, terminated, admitted } = recordingAcceptor({ maxClients: 1, waitingRoom: 10, turnoverMs: LONG_WAIT });
  try {
    const holder = await admitted("000000000\n");
    const stopper = await client(acceptor.port);
    stopper.socket.write("terminate\n");
    const behind = await oneLineClients(acceptor.port, 3);
    holder.socket.shutdown();
    await terminated;
    acceptor.stop();
    expect((await Promise.all(behind.map((p) => p.closed))).map((e) => e.reset)).toEqual([true, true, true]);
    expect(received.join("")).toBe("000000000\nterminate\n");
    acceptor.closeLast(false);
  } finally {
    acceptor.stop();
  }
});
