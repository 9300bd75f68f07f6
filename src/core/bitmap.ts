// The de-duplication set: one bit for each of the 10^9 possible numbers (119 MiB), on huge
// pages where Linux gives them, its pages mapped when it is made or later (touchPages).

import { libc } from "../sys/libc.ts";

export const NUMBER_SPACE = 1_000_000_000;
export const BITMAP_BYTES = NUMBER_SPACE / 8;

const PAGE_BYTES = 4096;
const HUGE_PAGE_BYTES = 2 << 20;
/** From Linux's <asm-generic/mman-common.h>. */
const MADV_HUGEPAGE = 14;

/**
 * A zeroed bitmap with every page already mapped. Left to the first touch, the ~30k page
 * faults land in the middle of the probe loops, where each stalls the misses in flight,
 * and threads sharing the bitmap queue on the kernel's page-table lock: touching each page
 * up front made the random workload faster on one thread and let two threads scale
 * (docs/experiments.md). The cost is that the whole 119 MiB is
 * resident from then on. `touch: false` leaves the pages to the first touch or to a later
 * touchPages(): the server's, once its start is done (coordinator.ts), and the in-process
 * tests', which touch a few (test/support/bitmaps.ts).
 */
export function createBitmap(shared = false, { touch = true } = {}): Uint8Array {
  const bits = shared ? new Uint8Array(new SharedArrayBuffer(BITMAP_BYTES)) : new Uint8Array(BITMAP_BYTES);
  adviseHugePages(bits);
  if (touch) touchPages(bits);
  return bits;
}

/**
 * Maps every page of `bits` now (createBitmap's touch, made later by the server: see
 * coordinator.ts). A write, since a read would map the kernel's shared zero page; an atomic
 * or of 0, since numbers may already be set in it, by this thread or another.
 */
export function touchPages(bits: Uint8Array): void {
  for (let i = 0; i < bits.length; i += PAGE_BYTES) Atomics.or(bits, i, 0);
}

/**
 * Asks Linux for transparent huge pages (2 MiB) under the bitmap, before its pages are
 * touched: ~60 page faults instead of ~30k. Where a fault is slow (a virtual machine whose
 * memory the host backs on demand) that shortened a server's start severalfold; the probes'
 * speed is the same either way (docs/experiments.md, 2026-12-05, evening).
 * Only a hint: where THP is off, or libc.so.6 cannot be loaded (musl, another system), the
 * pages stay 4 KiB and nothing else changes. True when Linux took the advice.
 */
export function adviseHugePages(bits: Uint8Array): boolean {
  const c = libc();
  if (c === undefined) return false;
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const at = ptr(bits);
  // The advice takes whole huge pages: the aligned interior of the buffer.
  const start = Math.ceil(at / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES;
  const end = Math.floor((at + bits.length) / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES;
  return end > start && c.madvise(start, end - start, MADV_HUGEPAGE) === 0;
}

/** Sets the bit for `n` and returns true when it was not set before. */
export function testAndSet(bits: Uint8Array, n: number): boolean {
  const i = n >>> 3;
  const mask = 1 << (n & 7);
  const old = bits[i];
  bits[i] = old | mask;
  return (old & mask) === 0;
}
