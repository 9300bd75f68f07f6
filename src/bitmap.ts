// The de-duplication set: one bit for each of the 10^9 possible numbers (119 MiB).
// Pages are committed by the OS only when first touched, so memory grows with the
// spread of the numbers seen, not with the full size up front.

export const NUMBER_SPACE = 1_000_000_000;
export const BITMAP_BYTES = NUMBER_SPACE / 8;

export function createBitmap(shared = false): Uint8Array {
  return shared ? new Uint8Array(new SharedArrayBuffer(BITMAP_BYTES)) : new Uint8Array(BITMAP_BYTES);
}

/** Sets the bit for `n` and returns true when it was not set before. */
export function testAndSet(bits: Uint8Array, n: number): boolean {
  const i = n >>> 3;
  const mask = 1 << (n & 7);
  const old = bits[i];
  bits[i] = old | mask;
  return (old & mask) === 0;
}
