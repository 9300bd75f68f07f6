// The server's two output channels: report lines on stdout, everything else on stderr; and
// the other commands' results on stdout (printResult).
// Neither ever blocks the event loop: a line is written at once when the descriptor takes
// it (the usual case, so a line reaches a pipe or file as soon as it is printed), else it
// waits in a bounded backlog retried on a timer, the oldest dropped first. The report
// totals are computed by the server whether or not a line gets out, so the next report
// printed always carries the true total. At exit the backlogs get one last try that stops
// at the first write that would block.

import { writeSync } from "node:fs";
import { LineBacklog } from "./backlog.ts";
import { openWriter, type Writer } from "./stdio.ts";

/** Bytes kept per channel when nobody reads: about 290 report lines. */
export const BACKLOG_BYTES = 16 * 1024;
/** How often a backed-up channel tries again. */
const RETRY_MS = 20;

const encoder = new TextEncoder();

class Channel {
  private writer?: Writer;
  private backlog = new LineBacklog(BACKLOG_BYTES);
  private retry?: ReturnType<typeof setTimeout>;
  private closed = false;
  private warned = false;

  constructor(
    private readonly fd: number,
    private readonly onFirstDrop: () => void,
    private readonly onClosed: (code: string) => void,
  ) {}

  print(line: string): void {
    if (this.closed) return;
    const dropped = this.backlog.push(encoder.encode(line + "\n"));
    if (dropped > 0 && !this.warned) {
      this.warned = true;
      this.onFirstDrop();
    }
    // While backed up, the pending retry writes it: each print stays cheap, lines in order.
    if (this.retry === undefined) this.flush();
  }

  /** Writes what the descriptor takes now; schedules a retry for the rest unless `final`. */
  flush(final = false): void {
    if (this.closed || this.backlog.length === 0) return;
    try {
      this.writer ??= openWriter(this.fd);
      if (this.backlog.drain(this.writer.write) || final) return;
    } catch (err) {
      this.closed = true;
      this.backlog.clear();
      this.onClosed((err as NodeJS.ErrnoException).code ?? String(err));
      return;
    }
    // Unref'd: a backlog alone never keeps the process alive; the exit hook has the last word.
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      this.flush();
    }, RETRY_MS).unref();
  }

  restore(): void {
    this.writer?.restore();
  }
}

const stderr: Channel = new Channel(
  2,
  // Said on stderr itself, so a reader that catches up learns that lines are missing.
  () => stderr.print("numbers-server: standard error is not being read; dropping the oldest lines"),
  () => {}, // Nowhere left to say it.
);

const stdout = new Channel(
  1,
  () => printError("standard output is not being read; dropping the oldest reports (each report printed still carries the true total)"),
  (code) =>
    printError(
      code === "EPIPE" || code === "EBADF"
        ? `standard output is closed (${code}); reports are no longer printed, the server goes on`
        : `cannot write to standard output (${code}); reports are no longer printed, the server goes on`,
    ),
);

process.on("exit", () => {
  stdout.flush(true);
  stderr.flush(true);
  stdout.restore();
  stderr.restore();
});

/**
 * Prints a report line. When nobody reads stdout any more (`| head -1`), the server goes
 * on serving and logging: it says so once on stderr and prints no more reports.
 */
export function printReport(line: string): void {
  stdout.print(line);
}

/** Readiness, warnings and errors, one line each. */
export function printNotice(message: string): void {
  stderr.print(message);
}

export function printError(message: string): void {
  printNotice(`numbers-server: ${message}`);
}

/**
 * Nobody reads stdout any more (`check --list | head -1`): the command ends quietly, as a
 * program killed by SIGPIPE does (main.ts), not with an error line.
 */
export class StdoutClosed extends Error {}

/** A command's result on stdout (`--help`, `client`'s summary, `check`'s scorecard), written whole. */
export function printResult(text: string): void {
  const bytes = encoder.encode(text);
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(1, bytes, at);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EPIPE") throw new StdoutClosed();
    throw err;
  }
}
