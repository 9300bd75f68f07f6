// The listening socket and the connections, all in the main thread: admission of at most
// maxClients (and the short wait of a connection over it while the slots turn over), the idle
// sweep, each connection's line state, and its bytes handed to the intake (dispatch.ts), whose
// verdict says what becomes of the connection.

import type { Socket, TCPSocketListener } from "bun";
import { guarded, listen } from "./listen.ts";
import { CLOSE, endsInsideLine, holdsTerminateLine, KEEP, newLineCarry, TERMINATE_SERVER_RESET, type LineCarry, type Verdict } from "../core/protocol.ts";

/** Where every connection's bytes go (a Dispatcher). */
export interface Intake {
  /** Consumes one chunk of a connection and returns the connection's verdict. */
  feed(conn: LineCarry, chunk: Uint8Array): Verdict;
  /**
   * Calls `done` once every line fed so far has been counted and its new numbers handed to
   * the log (at once, or later); `written` is false when some may have been lost (a worker
   * died, a write failed).
   */
  whenWritten(done: (written: boolean) => void): void;
}

export interface AcceptorOptions {
  host: string;
  port: number;
  maxClients: number;
  idleTimeout: number;
  /** Connections over maxClients that may wait for a slot at once (see TURNOVER_MS). */
  waitingRoom: number;
  /**
   * How long a connection over the limit waits for a slot: TURNOVER_MS unless given. (The
   * in-process tests that connect clients one by one, slower than that on a loaded machine,
   * give more; the server never does.)
   */
  turnoverMs?: number;
  intake: Intake;
  /** A client sent `terminate`. */
  onTerminate: () => void;
  /** A socket handler threw (a bug): the server fails (listen.ts, guarded()). */
  onFault: (err: unknown) => void;
}

/** Why the server let go of an admitted client (see vacate()). */
export type CloseReason = "invalid" | "idle" | "eof" | "terminate" | "shutdown";

/**
 * Connection figures for /metrics: every connection accepted is admitted or refused (a
 * waiting one counts as refused once it is reset, or leaves before a slot frees), and every
 * admitted client is connected or closed for one reason.
 */
export interface ConnectionStats {
  connected: number;
  /** Connections over the limit waiting for a slot now. */
  waiting: number;
  admitted: number;
  refused: number;
  closed: Record<CloseReason, number>;
  /** The clients are held: read no more until the log's reader catches up (hold()). */
  held: boolean;
  /** Bytes read from held or waiting clients and not yet fed (their stashes). */
  stashedBytes: number;
  /** Clients whose FIN has come that are not closed yet (their stash or their writes pending). */
  ending: number;
}

/** Per-connection state, kept on socket.data. */
interface Client {
  id: number;
  /** The connection's line state while it is held; undefined once vacated. */
  carry: LineCarry | undefined;
  /** performance.now() of the last data, for --idle-timeout. */
  lastSeen: number;
  /**
   * Bytes read but not yet fed: while the clients are held (hold()), fed when the hold ends
   * (or at a terminate line); while it waits for a slot, fed once it has one.
   */
  stash?: Uint8Array;
  /** Its FIN came while it had a stash, or while it waited: it is finished once the stash is fed. */
  ended?: boolean;
  /**
   * finish() has asked the intake: its close waits for its numbers to be written. Not idle
   * then (sweepIdle()), or its FIN could come before its numbers are in the log.
   */
  finishing?: boolean;
  /** performance.now() when it came over the limit, while it waits for a slot (counted nothing). */
  waitingSince?: number;
  /** It waits and is read ahead (one of READ_AHEAD_CONNECTIONS). */
  readingAhead?: boolean;
}

/**
 * A held client's stash past which it is no longer read (hold()): room for a few lines and a
 * `terminate` after them, from a client that was idle or has just connected.
 */
export const STASH_BYTES = 64 << 10;

/**
 * How long a connection over the limit waits for a slot (counting nothing), counted from its
 * accept or from the last slot freed (or begun to: its client ended its input), whichever is
 * later: it is refused once no slot has freed or begun to for that long. Clients that
 * connect one after another, each closing before the next connects, reach a busy server
 * together: its event loop accepts them all in one go, before it has read the
 * earlier ones' FINs that free their slots (before 2026-12-07 all but five of such a burst
 * were refused: docs/behaviour.md). A sixth client beside five that stay is still refused,
 * after this long, none of its bytes counted.
 */
export const TURNOVER_MS = 50;

/** Connections that may wait for a slot at once, at most (the descriptor limit may allow fewer). */
export const WAITING_MOST = 4096;

/**
 * The oldest waiting connections, up to READ_AHEAD_CONNECTIONS of them, are read ahead (never
 * counted before they have a slot), each until it holds READ_AHEAD_BYTES; the others wait
 * unread until they are among the oldest. A client that sent a line and its FIN is then
 * seated, fed and finished at once when a slot frees, and frees it again in the same turn of
 * the event loop: a burst of such clients passes through one slot as fast as the main thread
 * takes them, not one per turn of a loop busy with other clients' chunks (where, unread, most
 * of such a burst beside busy clients were refused). Bounded by connections, not bytes: a
 * read takes what the kernel holds (a chunk of up to 512 KiB), so 32 connections hold at
 * most 16 MiB, where a bound in bytes held a whole chunk of every waiting connection
 * (docs/experiments.md, 2026-12-07).
 */
export const READ_AHEAD_CONNECTIONS = 32;
export const READ_AHEAD_BYTES = 1 << 10;
/** Binds the port and starts admitting clients; a port that cannot be had is a ListenError. */
export function startAcceptor(o: AcceptorOptions): Acceptor {
  return new Acceptor(o);
}

export class Acceptor {
  readonly port: number;
  private readonly clients = new Map<number, Socket<Client>>();
  private nextId = 1;
  private stopping = false;
  /**
   * Clients read no more and closed last, by closeLast(), once the log is flushed: those that
   * sent `terminate`, and at the stop every other.
   */
  private readonly closingLast = new Set<Socket<Client>>();
  /** Of those, the ones that held part of a line at the stop: a reset, not a FIN (closeLast()). */
  private readonly resetLast = new Set<Socket<Client>>();
  private readonly counts = { admitted: 0, refused: 0, closed: { invalid: 0, idle: 0, eof: 0, terminate: 0, shutdown: 0 } };
  private readonly listener: TCPSocketListener<Client>;
  private readonly idleTimer?: ReturnType<typeof setInterval>;
  /** performance.now() at the idle timer's last tick (idleTick()). */
  private lastTick = performance.now();
  /** The clients are held (hold()): the log's reader is behind. */
  private held = false;
  /** Connections over the limit waiting for a slot, oldest first (see TURNOVER_MS). */
  private readonly waiting: Socket<Client>[] = [];
  /** Waiting connections read ahead: the first ones of `waiting` (READ_AHEAD_CONNECTIONS). */
  private readingAhead = 0;
  /** A client sent `terminate`: no connection is admitted or seated any more. */
  private terminated = false;
  /** seatWaiting() is running: a slot freed meanwhile is taken by its loop. */
  private seating = false;
  /**
   * performance.now() when a slot last freed, or began to: its client ended its input (FIN),
   * and its slot frees once its numbers are written, which on a loaded machine (a worker
   * thread to answer, a slow disk) can take longer than TURNOVER_MS.
   */
  private lastTurnover = -Infinity;
  private waitTimer?: ReturnType<typeof setTimeout>;
  /** performance.now() when waitTimer is due. */
  private waitDue = 0;
  /** How long a connection over the limit waits for a slot (ms). */
  private readonly turnover: number;

  constructor(private readonly o: AcceptorOptions) {
    this.turnover = o.turnoverMs ?? TURNOVER_MS;
    this.listener = listen<Client>(o.host, o.port, guarded<Client>({
      open: (socket) => this.admit(socket),
      data: (socket, chunk) => this.take(socket, chunk),
      end: (socket) => this.finish(socket),
      // A client still held here closed or reset its side (eof): every close the server
      // makes vacates the client first. A waiting one leaves the queue.
      close: (socket) => {
        if (socket.data.waitingSince !== undefined) this.unwait(socket);
        this.vacate(socket, "eof");
      },
      // The close handler follows a socket's error; the error itself needs no action. (A
      // handler's exception, which Bun also hands here, is caught by guarded().)
      error() {},
    }, o.onFault));
    this.port = this.listener.port;
    if (o.idleTimeout > 0) this.idleTimer = setInterval(() => this.idleTick(performance.now()), o.idleTimeout * 250);
  }

  stats(): ConnectionStats {
    const { clients, counts } = this;
    let stashedBytes = 0;
    let ending = 0;
    for (const socket of [...clients.values(), ...this.waiting]) {
      stashedBytes += socket.data.stash?.length ?? 0;
      if (socket.data.ended || socket.data.finishing) ending++;
    }
    return { connected: clients.size, waiting: this.waiting.length, admitted: counts.admitted, refused: counts.refused, closed: { ...counts.closed }, held: this.held, stashedBytes, ending };
  }

  /**
   * Closes the listener, refuses the connections waiting for a slot, and reads the clients no
   * more: closeLast() closes them once the log is flushed, so that a client that sees a FIN
   * has its numbers on disk. When the server has `failed` already (a log write, a worker) they
   * are reset at once, so that a client can tell its numbers may be lost.
   */
  stop(failed = false): void {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.idleTimer);
    this.listener.stop();
    clearTimeout(this.waitTimer);
    for (const socket of this.waiting.splice(0)) {
      this.leaveQueue(socket);
      this.refuse(socket);
    }
    for (const socket of [...this.clients.values()]) {
      // Bytes read while held count, as any read before the stop: the client's FIN says so.
      const stash = socket.data.stash;
      socket.data.stash = undefined;
      if (stash !== undefined) this.feed(socket, stash);
      if (socket.data.carry === undefined) continue;
      // Its FIN came while it was held, after an unfinished line: a reset, as finish() gives.
      if (socket.data.ended && endsInsideLine(socket.data.carry)) {
        this.judge(socket, CLOSE);
        continue;
      }
      // Part of a line, discarded: reset at the end, as an idle client's (drop()).
      if (endsInsideLine(socket.data.carry)) this.resetLast.add(socket);
      this.vacate(socket, "shutdown");
      if (failed) socket.terminate();
      else {
        socket.pause();
        this.closingLast.add(socket);
      }
    }
  }

  /**
   * Holds the clients until called with false, for a log whose reader is behind
   * (logfile.ts): their bytes are no longer counted, only kept in each client's stash, and a
   * client whose stash reaches STASH_BYTES is no longer read (its bytes then wait in the
   * kernel and in the client: TCP's own backpressure), so memory stays bounded by the slots.
   * A stash that comes to hold a `terminate` line is fed at once, from any client, so that
   * `terminate` still stops the server (unless more than STASH_BYTES of lines come before
   * it). A held client is not idle: it may not be read, so its silence counts from `now`
   * (performance.now(); a test may pass its own, as to sweepIdle()).
   */
  hold(held: boolean, now = performance.now()): void {
    if (held === this.held) return;
    this.held = held;
    for (const socket of [...this.clients.values()]) {
      socket.data.lastSeen = now;
      if (!held) this.release(socket);
    }
  }

  /**
   * Closes the clients the stop kept (see stop()), those that sent `terminate` among them: the
   * last step of the shutdown, once the log is flushed. A FIN (a reset where bytes they sent
   * are unread: the kernel's answer; or where part of a line was discarded); after a failed
   * stop (a log write, a worker) a reset, so that a client can tell that its numbers may not
   * be in the log (the terminate command then exits 1).
   */
  closeLast(failed: boolean): void {
    for (const socket of this.closingLast) {
      if (failed || this.resetLast.has(socket)) socket.terminate();
      else socket.end();
    }
    this.closingLast.clear();
    this.resetLast.clear();
  }

  /**
   * A new connection: admitted while there is a free slot; else it waits for one while the
   * slots turn over (TURNOVER_MS), read ahead a little (READ_AHEAD_BYTES) but counting
   * nothing, if there is room to wait; else it is refused.
   */
  private admit(socket: Socket<Client>) {
    const now = performance.now();
    socket.data = { id: this.nextId++, carry: undefined, lastSeen: now };
    if (this.stopping || this.terminated) return this.refuse(socket);
    // A slot is free only while nobody waits: seatWaiting() fills every slot that frees.
    if (this.clients.size < this.o.maxClients) return this.seat(socket);
    if (this.waiting.length >= this.o.waitingRoom) return this.refuse(socket);
    socket.data.waitingSince = now;
    this.waiting.push(socket);
    if (this.readingAhead < READ_AHEAD_CONNECTIONS) {
      this.readingAhead++;
      socket.data.readingAhead = true;
    } else socket.pause();
    if (this.waitTimer === undefined) this.lookAtWaiting(this.turnover);
  }

  private lookAtWaiting(ms: number) {
    this.waitDue = performance.now() + ms;
    this.waitTimer = setTimeout(() => this.refuseStale(true), ms);
  }

  /** Gives the connection a slot. */
  private seat(socket: Socket<Client>) {
    this.counts.admitted++;
    socket.data.carry = newLineCarry();
    this.clients.set(socket.data.id, socket);
  }

  /**
   * A reset (RST), none of its bytes counted. Not a FIN: a client that has sent all its bytes
   * and half-closed before this accept cannot tell a FIN here from the one that follows a
   * complete exchange, but it sees a reset as an error (the client command then exits 1;
   * docs/edges.md).
   */
  private refuse(socket: Socket<Client>) {
    this.counts.refused++;
    socket.terminate();
  }

  /** A waiting connection that closed first leaves the queue: never admitted, it counts as refused. */
  private unwait(socket: Socket<Client>) {
    const at = this.waiting.indexOf(socket);
    if (at >= 0) this.waiting.splice(at, 1);
    this.leaveQueue(socket);
    this.counts.refused++;
  }

  /**
   * Out of the queue (taken off `waiting` by the caller). If it was read ahead, the oldest
   * waiting connection not yet read is read from now on: those read are always the first of
   * `waiting`, so it is the one at index `readingAhead`.
   */
  private leaveQueue(socket: Socket<Client>) {
    socket.data.waitingSince = undefined;
    if (!socket.data.readingAhead) return;
    socket.data.readingAhead = false;
    this.readingAhead--;
    const next = this.waiting[this.readingAhead];
    if (next === undefined) return;
    this.readingAhead++;
    next.data.readingAhead = true;
    next.resume();
  }

  /** A waiting connection's chunk: read ahead, counted only once it has a slot. */
  private readAheadOf(socket: Socket<Client>, chunk: Uint8Array) {
    const client = socket.data;
    client.stash = client.stash === undefined ? chunk : Buffer.concat([client.stash, chunk]);
    if (client.stash.length >= READ_AHEAD_BYTES) socket.pause();
  }

  /**
   * A slot freed: the oldest waiting connections take the free slots. Each one's bytes read
   * ahead are fed at once (kept, while the clients are held), and one whose FIN came is
   * finished at once: its slot then frees in this loop, for the next.
   */
  private seatWaiting() {
    this.lastTurnover = performance.now();
    if (this.seating || this.terminated) return;
    this.seating = true;
    try {
      // A `terminate` in the bytes fed here ends the seating: the stop refuses the rest.
      while (this.waiting.length > 0 && this.clients.size < this.o.maxClients && !this.terminated) {
        const socket = this.waiting.shift()!;
        this.leaveQueue(socket);
        socket.data.lastSeen = this.lastTurnover;
        this.seat(socket);
        if (!this.held) this.release(socket);
        else this.keepAhead(socket);
      }
    } finally {
      this.seating = false;
    }
  }

  /** A client seated while the clients are held: its bytes read ahead become its stash (see keep()). */
  private keepAhead(socket: Socket<Client>) {
    const ahead = socket.data.stash;
    socket.data.stash = undefined;
    if (ahead !== undefined) this.keep(socket, ahead);
    if (socket.data.carry === undefined) return; // closed by the verdict of a terminate line in it
    if (socket.data.stash === undefined && socket.data.ended) return this.finish(socket);
    if ((socket.data.stash?.length ?? 0) < STASH_BYTES) socket.resume();
  }

  /**
   * Refuses the waiting connections for which no slot has freed for TURNOVER_MS; looks again
   * later for the rest. `mayDefer`: a timer that fires late may put the look off once.
   */
  private refuseStale(mayDefer: boolean) {
    this.waitTimer = undefined;
    const now = performance.now();
    // Late, the timer says the event loop was busy (a long chunk, a compile): FINs that free
    // slots may be waiting to be read, so the look is made again once the loop has had a turn
    // to read them. Only once: under steady load every timer is late, and put off at each,
    // a connection over the limit waited for as long as the load lasted, to be seated and
    // counted (a `terminate` among its bytes too) whenever a slot freed at last.
    if (mayDefer && now - this.waitDue > this.turnover / 2) {
      this.waitTimer = setTimeout(() => this.refuseStale(false), 0);
      return;
    }
    const since = (socket: Socket<Client>) => Math.max(socket.data.waitingSince!, this.lastTurnover);
    while (this.waiting.length > 0 && now - since(this.waiting[0]) >= this.turnover) {
      const socket = this.waiting.shift()!;
      this.leaveQueue(socket);
      this.refuse(socket);
    }
    if (this.waiting.length > 0) this.lookAtWaiting(since(this.waiting[0]) + this.turnover - now);
  }

  /** One chunk of an admitted client, handed to the intake, whose verdict decides. */
  private take(socket: Socket<Client>, chunk: Uint8Array) {
    const client = socket.data;
    if (client.waitingSince !== undefined) return this.readAheadOf(socket, chunk);
    if (client.carry === undefined) return;
    client.lastSeen = performance.now();
    if (this.held || client.stash !== undefined) return this.keep(socket, chunk);
    this.feed(socket, chunk);
  }

  private feed(socket: Socket<Client>, chunk: Uint8Array) {
    const verdict = this.o.intake.feed(socket.data.carry!, chunk);
    if (verdict !== KEEP) this.judge(socket, verdict);
  }

  /** A held client's chunk (see hold()): kept in its stash, unless that holds a `terminate` line. */
  private keep(socket: Socket<Client>, chunk: Uint8Array) {
    const client = socket.data;
    client.stash = client.stash === undefined ? chunk : Buffer.concat([client.stash, chunk]);
    if (holdsTerminateLine(client.carry!, client.stash)) this.release(socket);
    else if (client.stash.length >= STASH_BYTES) socket.pause();
  }

  /** Feeds a client's stash, then finishes it (its FIN came meanwhile) or reads it again unless held. */
  private release(socket: Socket<Client>) {
    const client = socket.data;
    const stash = client.stash;
    client.stash = undefined;
    if (stash !== undefined && client.carry !== undefined) this.feed(socket, stash);
    if (client.carry === undefined) return; // closed by its verdict
    if (client.ended) this.finish(socket);
    else if (!this.held) socket.resume();
  }

  /**
   * The client has sent everything (FIN). It is closed once every line it sent has been
   * counted and its new numbers handed to the log: at once in this thread, and after the
   * workers' queues, so that a client (and the bench) sees the close only when its numbers
   * are in the log.
   */
  private finish(socket: Socket<Client>) {
    if (socket.data.waitingSince !== undefined) return void (socket.data.ended = true);
    const carry = socket.data.carry;
    if (carry === undefined) return;
    if (socket.data.stash !== undefined) return void (socket.data.ended = true);
    if (socket.data.finishing) return;
    // Its last line has no LF and never will: invalid input, a reset as for any bad line
    // (the lines before it count). A FIN would say every line it sent was taken.
    if (endsInsideLine(carry)) return this.judge(socket, CLOSE);
    socket.data.finishing = true;
    // Its slot is turning over: the connections waiting for one wait on from here. Once per
    // client, so a slot whose numbers are never written does not keep them waiting for good.
    this.lastTurnover = performance.now();
    this.o.intake.whenWritten((written) => {
      if (socket.data.carry !== carry) return;
      if (written) return this.drop(socket, "eof");
      // Lines it sent were lost (the server fails on it): a reset, so that the client can tell.
      this.vacate(socket, "eof");
      socket.terminate();
    });
  }

  /** Frees the connection's slot and line state; safe to call twice (the first reason counts). */
  private vacate(socket: Socket<Client>, reason: CloseReason) {
    if (socket.data.carry === undefined) return;
    this.counts.closed[reason]++;
    socket.data.carry = undefined;
    this.clients.delete(socket.data.id);
    if (!this.stopping) this.seatWaiting();
  }

  /**
   * A graceful close (FIN): the client is done or idle; a reset instead where part of a line
   * is left unread-for-good (an idle client's), since a FIN says every line it sent was taken.
   */
  private drop(socket: Socket<Client>, reason: CloseReason) {
    const cut = socket.data.carry !== undefined && endsInsideLine(socket.data.carry);
    this.vacate(socket, reason);
    if (cut) socket.terminate();
    else socket.end();
  }

  /**
   * Invalid input gets an abortive close (RST), as the reference server's does: the client's
   * next send fails with ECONNRESET, and nothing it sent after the bad line is read.
   */
  private judge(socket: Socket<Client>, verdict: Verdict) {
    if (verdict === CLOSE) {
      this.vacate(socket, "invalid");
      return void socket.terminate();
    }
    // Closed last, once the log is flushed and fsynced: when this client sees the close, the
    // listener is long closed and its numbers are on disk (the terminate command relies on it).
    // Its slot goes to no waiting connection: the stop begins (onTerminate), which refuses them.
    this.terminated = true;
    this.vacate(socket, "terminate");
    socket.pause();
    // Bytes after its terminate line were discarded: a reset, as for part of a line.
    if (verdict === TERMINATE_SERVER_RESET) this.resetLast.add(socket);
    this.closingLast.add(socket);
    this.o.onTerminate();
  }

  /**
   * The idle timer's tick at `now` (performance.now(); a test passes its own). A tick late by
   * more than a sweep interval says the event loop, or the whole process (SIGSTOP, a
   * suspended VM), stood still meanwhile: what the clients sent then waits in the kernel,
   * unread, and after SIGCONT the timer could run before the reads. So that time is not
   * counted as their silence: the last data of every client last read before it moves on by
   * it; one read since (after SIGCONT, before this tick) keeps its own. (Before, clients
   * that sent every 100 ms were closed as idle on SIGCONT, their lines lost.)
   */
  idleTick(now: number): void {
    const interval = this.o.idleTimeout * 250;
    const due = this.lastTick + interval;
    const stood = now - due;
    this.lastTick = now;
    if (stood > interval) {
      for (const socket of this.clients.values()) if (socket.data.lastSeen < due) socket.data.lastSeen += stood;
    }
    this.sweepIdle(now);
  }

  /**
   * Closes the clients whose last data is --idle-timeout or more before `now`
   * (performance.now()). Bun's socket.timeout() only fires on a ~4 s tick (oven-sh/bun#35935),
   * so a timer calls this every quarter timeout: each idle client is closed between 1 and
   * 1.25 timeouts after its last data. Held clients are not idle: they may not be read; nor is
   * one that has sent everything (its close waits for its numbers to be written). (Not
   * private, so that a test can pass a `now` of its own.)
   */
  sweepIdle(now: number): void {
    const limit = this.o.idleTimeout * 1000;
    if (this.held || limit <= 0) return;
    for (const socket of this.clients.values()) {
      if (!socket.data.finishing && now - socket.data.lastSeen >= limit) this.drop(socket, "idle");
    }
  }
}
