// src/server/codepages.ts: the code pages given back are the file-backed code mappings', they
// leave the process's resident set, and the code runs on (its pages mapped back on use). In a
// process of its own, where no JIT compiler thread maps code back meanwhile.

import { expect, test } from "bun:test";
import { join } from "node:path";

const SCRIPT = `
import { readFileSync } from "node:fs";
import { releaseCodePages } from ${JSON.stringify(join(import.meta.dir, "../../src/server/codepages.ts"))};
/** The size and resident KiB of the process's file-backed code (r-xp) mappings (/proc/self/smaps). */
function codeKiB() {
  let code = false;
  const kib = { size: 0, rss: 0 };
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\\S+) \\S+ \\S+ (\\d+)\\s+(\\S*)/.exec(line);
    if (head) code = head[1] === "r-xp" && head[2] !== "0" && head[3].startsWith("/");
    else if (code && line.startsWith("Size:")) kib.size += Number(/\\d+/.exec(line)[0]);
    else if (code && line.startsWith("Rss:")) kib.rss += Number(/\\d+/.exec(line)[0]);
  }
  return kib;
}
const before = codeKiB();
const released = releaseCodePages();
const after = codeKiB();
console.log(JSON.stringify({ before, releasedKiB: released / 1024, after, again: codeKiB() }));
`;

test.skipIf(process.platform !== "linux")("every file-backed code mapping is released; most of it stays out of the resident set while the same code runs on", async () => {
  const proc = Bun.spawn([process.execPath, "-e", SCRIPT], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const { before, releasedKiB, after, again } = JSON.parse(out);
  expect(before.rss).toBeGreaterThan(4096);
  expect(releasedKiB).toBe(before.size);
  expect(after.rss).toBeLessThan(before.rss / 2);
  // The same code again: its pages come back from the page cache, and it still runs.
  expect(again.size).toBe(before.size);
});
