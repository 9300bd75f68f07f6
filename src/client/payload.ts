// Pre-generated request payloads for the client command and the benchmark: `count` valid
// lines from a seeded generator, built once so that sending never formats a number.

import { LINE_BYTES } from "../core/protocol.ts";

export type Dist = { kind: "random" } | { kind: "seq" } | { kind: "dup"; distinct: number };

export function parseDist(text: string): Dist | undefined {
  if (text === "random" || text === "seq") return { kind: text };
  const m = /^dup:(\d+)$/.exec(text);
  const distinct = m ? Number(m[1]) : 0;
  return distinct >= 1 && distinct <= 1_000_000_000 ? { kind: "dup", distinct } : undefined;
}

/** A small, fast, seedable PRNG (mulberry32); returns 32-bit unsigned integers. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * The numbers of one connection's share: `count` values starting at line `first` of the
 * whole stream (seq continues across connections; random and dup draw from `seed`).
 */
export function numbers(dist: Dist, count: number, first: number, seed: number): Uint32Array {
  const out = new Uint32Array(count);
  if (dist.kind === "seq") {
    for (let i = 0; i < count; i++) out[i] = (first + i) % 1_000_000_000;
    return out;
  }
  const next = rng(seed);
  const range = dist.kind === "dup" ? dist.distinct : 1_000_000_000;
  // Two draws make 53 bits, so the modulo bias is negligible even for range 10^9.
  for (let i = 0; i < count; i++) out[i] = ((next() * 0x200000 + (next() >>> 11)) % range);
  return out;
}

/** Line counts of each connection's share of `count`; they differ by at most one. */
export function shares(count: number, connections: number): number[] {
  const base = Math.floor(count / connections);
  return Array.from({ length: connections }, (_, c) => base + (c < count % connections ? 1 : 0));
}

/**
 * The generator seed of connection `conn` in a run with `seed`: spread by an odd multiplier,
 * so that runs whose seeds are close draw different numbers (with seed + conn, --seed 1 to 5
 * against one server sent 80% the same numbers).
 */
export function connectionSeed(seed: number, conn: number): number {
  return (Math.imul(seed, 0x9e3779b1) + conn) >>> 0;
}

/**
 * The numbers connection `conn` of `connections` sends when they share `count` numbers:
 * seq continues from the shares before it, random and dup draw from connectionSeed().
 */
export function connectionNumbers(dist: Dist, count: number, connections: number, conn: number, seed: number): Uint32Array {
  const all = shares(count, connections);
  let first = 0;
  for (let c = 0; c < conn; c++) first += all[c];
  return numbers(dist, all[conn], first, connectionSeed(seed, conn));
}
