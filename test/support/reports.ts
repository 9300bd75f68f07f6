// Reading the server's report lines in tests: they are also the one signal that the
// server has read a client's numbers while the client stays connected.

import { expect } from "bun:test";

export const REPORT = /^Received (\d+) unique numbers, (\d+) duplicates\. Unique total: (\d+)$/;

export interface ReportSums {
  unique: number;
  duplicates: number;
  /** The Unique total of the last report read. */
  total: number;
}

/**
 * Reads report lines until their sums satisfy `enough` and returns the sums. Each line's
 * total must continue from `loaded`, the numbers the server started with.
 */
export async function reportsUntil(
  stdout: { next(): Promise<string | null> },
  enough: (sums: ReportSums) => boolean,
  loaded = 0,
): Promise<ReportSums> {
  const sums = { unique: 0, duplicates: 0, total: loaded };
  while (!enough(sums)) {
    const line = await stdout.next();
    const m = line === null ? null : REPORT.exec(line);
    if (!m) throw new Error(`expected a report line, got ${JSON.stringify(line)}`);
    sums.unique += Number(m[1]);
    sums.duplicates += Number(m[2]);
    sums.total = Number(m[3]);
    expect(sums.total).toBe(loaded + sums.unique);
  }
  return sums;
}
