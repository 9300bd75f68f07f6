// The report line (src/report.ts): the exact text the server prints to stdout.

import { expect, test } from "bun:test";
import { formatReport } from "../../src/server/report.ts";

test("the report line, exactly", () => {
  expect(formatReport({ unique: 50, duplicates: 2, total: 567231 }))
    .toBe("Received 50 unique numbers, 2 duplicates. Unique total: 567231");
});

test("zeros and large counts are plain integers, no separators", () => {
  expect(formatReport({ unique: 0, duplicates: 0, total: 0 })).toBe("Received 0 unique numbers, 0 duplicates. Unique total: 0");
  expect(formatReport({ unique: 1_000_000, duplicates: 12_345_678, total: 1_000_000_000 }))
    .toBe("Received 1000000 unique numbers, 12345678 duplicates. Unique total: 1000000000");
});
