// The benchmark's workloads and how each run's numbers are split over the connections.
// The driver (which sends them) and the verifier (which regenerates them to know the
// expected set) both call `connectionNumbers`, so the two always agree on the numbers.

import { numbers, parseDist, type Dist } from "../payload.ts";

/** Connections per run: the server's client limit, all of them busy. */
export const CONNECTIONS = 5;

/** Fixed, so every run of a workload sends (and must log) the very same numbers. */
const SEED = 20_240_601;

export const WORKLOADS = {
  /** Uniform over 0..999999999: nearly all new, bitmap misses everywhere. */
  random: parseDist("random")!,
  /** 0,1,2,... with each connection a contiguous range: all new, cache-friendly. */
  seq: parseDist("seq")!,
  /** Uniform over 1,000 values: almost all duplicates, tiny log. */
  dup: parseDist("dup:1000")!,
} satisfies Record<string, Dist>;

export type WorkloadName = keyof typeof WORKLOADS;

export function isWorkload(name: string): name is WorkloadName {
  return Object.hasOwn(WORKLOADS, name);
}

/** Line counts of each connection's share of `count`; they differ by at most one. */
export function shares(count: number): number[] {
  const base = Math.floor(count / CONNECTIONS);
  return Array.from({ length: CONNECTIONS }, (_, c) => base + (c < count % CONNECTIONS ? 1 : 0));
}

/** The numbers connection `conn` sends in a run of `count` numbers of `workload`. */
export function connectionNumbers(workload: WorkloadName, count: number, conn: number): Uint32Array {
  const all = shares(count);
  let first = 0;
  for (let c = 0; c < conn; c++) first += all[c];
  return numbers(WORKLOADS[workload], all[conn], first, SEED + conn);
}
