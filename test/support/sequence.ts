// A fixed sequence of distinct numbers that look random: line i is (A·i + B) mod 10^9, a
// bijection of 0..999999999 (A is coprime to 10^9). Tests send its lines in order, so
// "was this number sent?" is "is its index below the count sent?", with no set to keep.

const M = 1_000_000_000;
const A = 7_777_777;
const B = 12_345;

/** A⁻¹ mod 10^9, by the extended Euclidean algorithm. */
const A_INVERSE = (() => {
  let [r0, r1, s0, s1] = [M, A, 0, 1];
  while (r1 !== 0) {
    const q = Math.floor(r0 / r1);
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return ((s0 % M) + M) % M;
})();

/** a·b mod 10^9 for a, b < 10^9, exact in doubles (b split at 2^15). */
function mulMod(a: number, b: number): number {
  const high = (a * Math.floor(b / 32768)) % M;
  return (high * 32768 + a * (b % 32768)) % M;
}

/** The numbers at indices first..first+count-1. */
export function sequence(first: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = (A * (first + i) + B) % M;
  return out;
}

/** The index of `value` in the sequence. */
export function indexOf(value: number): number {
  return mulMod((value - B + M) % M, A_INVERSE);
}
