// The client command: sends valid numbers to a server as fast as it takes them, with a
// progress line on stderr and a summary line on stdout. The payloads are built before the
// first byte is sent, so the rate measures the server (and the kernel), not the formatting.

import { writeSync } from "node:fs";
import type { ClientConfig } from "./config.ts";
import { encodeLines, LINE_BYTES } from "../core/protocol.ts";
import { connectionNumbers } from "./payload.ts";
import { SendError, sendPayloads, type SendProgress } from "./sender.ts";
import { printResult } from "../output/print.ts";
import { address } from "../address.ts";

/** One payload per connection; never more connections than numbers. */
export function clientPayloads(config: ClientConfig): Uint8Array[] {
  const connections = Math.min(config.connections, config.count);
  return Array.from({ length: connections }, (_, conn) =>
    encodeLines(connectionNumbers(config.dist, config.count, connections, conn, config.seed)),
  );
}

const group = new Intl.NumberFormat("en-US");

/** "12.3 M" style, for rates. */
function millions(n: number): string {
  return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)} M`;
}

function status(lines: number, seconds: number): string {
  const rate = seconds > 0 ? lines / seconds : 0;
  return `sent ${group.format(lines)} numbers, ${millions(rate)}/s, ${seconds.toFixed(1)} s`;
}

/**
 * Shows progress on stderr until stopped: redrawn in place several times a second on a
 * terminal, one plain line per second otherwise (a log file or pipe).
 */
function showProgress(progress: SendProgress, started: number): () => void {
  const tty = process.stderr.isTTY === true;
  const draw = () => {
    const line = status(Math.floor(progress.sentBytes / LINE_BYTES), (performance.now() - started) / 1000);
    writeSync(2, tty ? `\r\x1b[K${line}` : `${line}\n`);
  };
  const timer = setInterval(draw, tty ? 200 : 1000);
  return () => {
    clearInterval(timer);
    if (tty) writeSync(2, "\r\x1b[K");
  };
}

/** What the client says of a peer that sent bytes back on `answered` of `connections`. */
const notOurs = (where: string, answered: number, connections: number) =>
  `the peer at ${where} sent bytes back on ${answered} of ${connections} connections: a numbers server never does (is it one?)`;

/**
 * Aborts `abort` as soon as the peer has sent bytes (a connection it keeps open would
 * otherwise be waited for), or once `progress` has stood still (no byte taken, no connection
 * closed) for `seconds` (0: never); returns the function that stops watching.
 */
function watchPeer(progress: SendProgress, seconds: number, abort: AbortController, where: string, connections: number): () => void {
  let seen = "";
  let since = performance.now();
  const timer = setInterval(() => {
    if (progress.answered) return abort.abort(new SendError(notOurs(where, progress.answered, connections)));
    const now = `${progress.sentBytes} ${progress.closed ?? 0}`;
    if (now !== seen) [seen, since] = [now, performance.now()];
    else if (seconds > 0 && performance.now() - since >= seconds * 1000) {
      abort.abort(new SendError(`the server at ${where} took no byte and closed no connection for ${seconds} s (--timeout)`));
    }
  }, seconds > 0 ? Math.min(100, seconds * 250) : 100);
  return () => clearInterval(timer);
}

export async function runClient(config: ClientConfig): Promise<number> {
  const payloads = clientPayloads(config);
  const progress: SendProgress = { sentBytes: 0 };
  const started = performance.now();
  const repeat = config.duration > 0 ? { seconds: config.duration, wholeFirst: false } : undefined;
  const where = address(config.host, config.port);
  const abort = new AbortController();
  const stopWatching = watchPeer(progress, config.timeout, abort, where, payloads.length);
  const stop = showProgress(progress, started);
  let result;
  try {
    result = await sendPayloads(config.host, config.port, payloads, progress, repeat, abort.signal);
  } finally {
    stopWatching();
    stop();
  }
  if (result.answered > 0) throw new Error(notOurs(where, result.answered, payloads.length));
  if (result.cutShort > 0) {
    throw new Error(
      `the server closed ${result.cutShort} of ${payloads.length} connections before it had read all their numbers ` +
        `(it was full, shutting down, or gone)`,
    );
  }
  const seconds = (result.lastCloseAt - result.firstByteAt) / 1000;
  const lines = result.sentBytes / LINE_BYTES;
  const repeated = result.repeated ? ` (repeating the same ${group.format(config.count)})` : "";
  printResult(`sent ${group.format(lines)} ${lines === 1 ? "number" : "numbers"}${repeated} in ${seconds.toFixed(2)} s (${millions(lines / seconds)} numbers/s)\n`);
  return 0;
}
