// src/server/codepages.ts: the code pages given back are the file-backed code mappings', they
// leave the process's resident set, and the code runs on (its pages mapped back on use).

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { releaseCodePages } from "../../src/server/codepages.ts";

/** The size and resident KiB of the process's file-backed code (r-xp) mappings (/proc/self/smaps). */
function codeKiB(): { size: number; rss: number } {
  let code = false;
  const kib = { size: 0, rss: 0 };
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s+(\S*)/.exec(line);
    if (head) code = head[1] === "r-xp" && head[2] !== "0" && head[3]!.startsWith("/");
    else if (code && line.startsWith("Size:")) kib.size += Number(/\d+/.exec(line)![0]);
    else if (code && line.startsWith("Rss:")) kib.rss += Number(/\d+/.exec(line)![0]);
  }
  return kib;
}

test.skipIf(process.platform !== "linux")("every file-backed code mapping is released; most of it stays out of the resident set while the same code runs on", () => {
  const before = codeKiB();
  expect(before.rss).toBeGreaterThan(4096);
  const released = releaseCodePages();
  const after = codeKiB();
  expect(released / 1024).toBe(before.size);
  expect(after.rss).toBeLessThan(before.rss / 2);
  // The same code again: its pages come back from the page cache.
  expect(codeKiB().size).toBe(before.size);
});
