// The server's two output channels: report lines on stdout, everything else on stderr.
// Both are written synchronously, so each line reaches a pipe or file at once.

import { writeSync } from "node:fs";

let stdoutOpen = true;

/**
 * Prints a report line. When nobody reads stdout any more (`| head -1`), the server goes
 * on serving and logging: it says so once on stderr and prints no more reports.
 */
export function printReport(line: string): void {
  if (!stdoutOpen) return;
  try {
    writeSync(1, line + "\n");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPIPE" && code !== "EBADF") throw err;
    stdoutOpen = false;
    printError(`standard output is closed (${code}); reports are no longer printed, the server goes on`);
  }
}

/** Readiness, warnings and errors, one line each. */
export function printNotice(message: string): void {
  writeSync(2, message + "\n");
}

export function printError(message: string): void {
  printNotice(`numbers-server: ${message}`);
}
