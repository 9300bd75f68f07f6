// The de-duplication set: one bit for each of the 10^9 possible numbers (119 MiB).

export const NUMBER_SPACE = 1_000_000_000;
export const BITMAP_BYTES = NUMBER_SPACE / 8;

const PAGE_BYTES = 4096;

/**
 * A zeroed bitmap with every page already mapped. Left to the first touch, the ~30k page
 * faults land in the middle of the probe loops, where each stalls the misses in flight,
 * and threads sharing the bitmap queue on the kernel's page-table lock: touching each page
 * up front made the random workload faster on one thread and let two threads scale
 * (docs/experiments.md). The cost is that the whole 119 MiB is
 * resident from the start.
 */
export function createBitmap(shared = false): Uint8Array {
  const bits = shared ? new Uint8Array(new SharedArrayBuffer(BITMAP_BYTES)) : new Uint8Array(BITMAP_BYTES);
  for (let i = 0; i < BITMAP_BYTES; i += PAGE_BYTES) bits[i] = 0;
  return bits;
}

/** Sets the bit for `n` and returns true when it was not set before. */
export function testAndSet(bits: Uint8Array, n: number): boolean {
  const i = n >>> 3;
  const mask = 1 << (n & 7);
  const old = bits[i];
  bits[i] = old | mask;
  return (old & mask) === 0;
}
