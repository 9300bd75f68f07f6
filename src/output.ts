// The server's two output channels: report lines on stdout, everything else on stderr.
// Both are written synchronously, so each line reaches a pipe or file at once.

import { writeSync } from "node:fs";

export function printReport(line: string): void {
  writeSync(1, line + "\n");
}

/** Readiness, warnings and errors, one line each. */
export function printNotice(message: string): void {
  writeSync(2, message + "\n");
}

export function printError(message: string): void {
  printNotice(`numbers-server: ${message}`);
}
