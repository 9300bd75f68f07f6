// The benchmark's and the checker's workloads: their distributions and the fixed seed of their numbers.
// The driver (which sends them) and the verifier (which regenerates them to know the
// expected set) both call `workloadNumbers`, so the two always agree on the numbers.

import { connectionNumbers, parseDist, type Dist } from "./payload.ts";

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

/** The numbers connection `conn` sends in a run of `count` numbers of `workload`. */
export function workloadNumbers(workload: WorkloadName, count: number, conn: number): Uint32Array {
  return connectionNumbers(WORKLOADS[workload], count, CONNECTIONS, conn, SEED);
}
