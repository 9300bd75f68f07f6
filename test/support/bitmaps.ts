// A bitmap for the in-process tests: zeroed and on huge pages like the server's, but with its
// pages mapped on first touch. createBitmap() touches all 119 MiB up front, for the probes'
// sake (src/core/bitmap.ts); these tests touch a few pages, and the pre-touch was a good
// share of the unit tier's time (docs/testing.md). Without the huge-page advice, first
// touches of 4 KiB pages cost more than the pre-touch saved. test/unit/bitmap.test.ts tests
// the pre-touched bitmap itself.

import { createBitmap } from "../../src/core/bitmap.ts";

export function untouchedBitmap(shared = false): Uint8Array {
  return createBitmap(shared, { touch: false });
}
