// Giving back the machine code that only the start ran. Loading the runtime and the program,
// and the JIT warm-up's compilers, page in much of the executable's code (and the shared
// libraries'); serving runs a fraction of it (docs/performance.md, Memory). Those pages are
// the file's, clean, so MADV_DONTNEED only unmaps them: the page cache keeps them, a page
// used again is mapped back on its first use, and the kernel could evict them under memory
// pressure anyway. Done before the bitmap's pages are made resident, it takes that much off
// the server's peak resident set. Only the code (r-xp) is released: a read-only mapping may
// hold relocated pages, which are the process's own.

import { readFileSync } from "node:fs";
import { libc } from "../sys/libc.ts";

/** From Linux's <asm-generic/mman-common.h>. */
const MADV_DONTNEED = 4;

/** Releases the pages of every file-backed code mapping; the bytes advised (0 where Linux or libc is missing). */
export function releaseCodePages(): number {
  const c = libc();
  if (c === undefined) return 0;
  let maps: string;
  try {
    maps = readFileSync("/proc/self/maps", "latin1");
  } catch {
    return 0;
  }
  let released = 0;
  // "start-end perms offset dev inode path"
  for (const row of maps.split("\n")) {
    const [range, perms, , , inode, path] = row.split(/\s+/);
    if (perms !== "r-xp" || inode === "0" || path === undefined || !path.startsWith("/")) continue;
    const [start, end] = range.split("-").map((h) => parseInt(h, 16));
    if (c.madvise(start, end - start, MADV_DONTNEED) === 0) released += end - start;
  }
  return released;
}
