// The terminate command: sends `terminate` to a server and waits until it has shut down.
// A server that is full resets a new connection without reading it (once no slot has freed for
// a moment), which may look like a shutdown from this side (or fail the connect itself); so, once
// closed, it checks that nobody listens: a refused probe means the server is gone, a reset one
// that it is full.
// The whole command, connecting included, is bounded by --timeout: a server that does not
// shut down (or a host that never answers) is an error, not a wait forever.

import type { TerminateConfig } from "./config.ts";
import { connectError } from "./sender.ts";
import { address } from "../address.ts";


class Timeout extends Error {}

/** Settles like `promise`, or rejects with a Timeout once `deadline` (performance.now()) has passed. */
async function before<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout()), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects (`connected` rejects as Bun.connect does); `closed` resolves once the server has
 * closed the connection, with whether it reset it; `answered` resolves when the peer sends
 * bytes, which a numbers server never does.
 */
function connect(config: TerminateConfig, open: (socket: Bun.Socket) => void) {
  const closed = Promise.withResolvers<boolean>();
  const answered = Promise.withResolvers<void>();
  const state = { answered: false };
  const close = (_socket: Bun.Socket, err?: Error) => closed.resolve(err !== undefined && isReset(err));
  const data = () => {
    state.answered = true;
    answered.resolve();
  };
  const connected = Bun.connect({ hostname: config.host, port: config.port, socket: { open, data, close, error() {} } });
  // A connect that fails after the deadline has passed is no longer anyone's concern.
  connected.catch(() => {});
  return { connected, closed: closed.promise, answered: answered.promise, state };
}

export async function terminate(config: TerminateConfig): Promise<number> {
  const deadline = performance.now() + config.timeout * 1000;
  const where = address(config.host, config.port);
  const within = `within ${config.timeout} s`;

  // No half-close after the line: the server closes this connection only after every
  // listener of every thread is closed, which the probe below relies on.
  const first = connect(config, (socket) => void socket.write("terminate\n"));
  let socket: Bun.Socket;
  try {
    socket = await before(first.connected, deadline);
  } catch (err) {
    if (err instanceof Timeout) throw new Error(`cannot connect to ${where}: no answer ${within}`);
    if (isReset(err)) throw stillRunning(where);
    throw connectError(config.host, config.port, err);
  }
  // Bytes back settle it at once: before, a peer that greets and waits (a banner, SMTP) was
  // waited on for the whole --timeout.
  let ended: { reset: boolean } | "answered";
  try {
    ended = await before(Promise.race([first.closed.then((reset) => ({ reset })), first.answered.then(() => "answered" as const)]), deadline);
  } catch {
    socket.terminate();
    throw new Error(`the server at ${where} accepted terminate but had not closed the connection ${within}`);
  }
  if (ended === "answered" || first.state.answered) {
    socket.terminate();
    throw notOurs(where);
  }
  const reset = ended.reset;

  // The server stops listening before it closes its clients, so a refused probe means it is gone.
  const probe = connect(config, (socket) => socket.end());
  try {
    await before(probe.connected, deadline);
  } catch (err) {
    if (err instanceof Timeout) throw new Error(`the server at ${where} closed the connection, but a new one got no answer ${within}`);
    if (!isReset(err)) {
      // Gone. The client that sent terminate is reset, not closed, when the stop failed.
      if (reset) throw new Error(`the server at ${where} has stopped, but its stop failed (its stderr says why): not every number sent may be in its log`);
      return 0;
    }
  }
  throw stillRunning(where);
}

/** A connect that failed with a reset: the server took the connection and refused it. */
function isReset(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ECONNRESET";
}

function notOurs(where: string): Error {
  return new Error(`the peer at ${where} answered terminate with bytes: a numbers server never does (is it one?)`);
}

function stillRunning(where: string): Error {
  return new Error(`the server at ${where} closed the connection but is still running (is it full?)`);
}
