// The report line (src/server/report.ts): the exact text the server prints to stdout.

import { expect, test } from "bun:test";
import { formatReport, nextReportDue } from "../../src/server/report.ts";

test("the report line, exactly", () => {
  expect(formatReport({ unique: 50, duplicates: 2, total: 567231 }))
    .toBe("Received 50 unique numbers, 2 duplicates. Unique total: 567231");
});

test("zeros and large counts are plain integers, no separators", () => {
  expect(formatReport({ unique: 0, duplicates: 0, total: 0 })).toBe("Received 0 unique numbers, 0 duplicates. Unique total: 0");
  expect(formatReport({ unique: 1_000_000, duplicates: 12_345_678, total: 1_000_000_000 }))
    .toBe("Received 1000000 unique numbers, 12345678 duplicates. Unique total: 1000000000");
});

test("the next report is due on the grid set at readiness, however late this one fired", () => {
  // Due at 1000, every 2000 ms: fired on time, or 5 ms late, the next is due at 3000, not 3005.
  expect(nextReportDue(1000, 2000, 1000)).toBe(3000);
  expect(nextReportDue(1000, 2000, 1005)).toBe(3000);
  // Stopped past one or more grid points (SIGSTOP): the next point after now, none missed twice.
  expect(nextReportDue(1000, 2000, 3000)).toBe(5000);
  expect(nextReportDue(1000, 2000, 3001)).toBe(5000);
  expect(nextReportDue(1000, 2000, 8500)).toBe(9000);
  // On the grid two or more intervals late: the next point, not `now` (before, 7000 and 9000).
  expect(nextReportDue(1000, 2000, 7000)).toBe(9000);
  expect(nextReportDue(1000, 2000, 9000)).toBe(11000);
  expect(nextReportDue(1000, 50, 1000.5)).toBe(1050);
});
