// Per-thread CPU time of a process under test, from /proc/<pid>/task/*/schedstat (Linux,
// nanoseconds), so the bench can say where the time of a run went: the main thread, the
// worker threads, the JIT compiler threads, or the rest (garbage collector helpers, the
// allocator's scavenger). Threads are told apart by the names Bun gives them.

import { readdirSync, readFileSync } from "node:fs";

/** CPU seconds of one run, by kind of thread. */
export interface CpuSplit {
  main: number;
  workers: number;
  jit: number;
  other: number;
}

export type ThreadTimes = Map<number, { name: string; ns: number }>;

/** Each live thread's name and CPU time so far; threads that end meanwhile are left out. */
export function threadTimes(pid: number): ThreadTimes {
  const times: ThreadTimes = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return times;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      times.set(Number(tid), { name, ns });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return times;
}

/** Every kind of thread's CPU seconds together. */
export function cpuTotal(c: CpuSplit): number {
  return c.main + c.workers + c.jit + c.other;
}

/** All of a process's CPU seconds since `before`, every kind of thread together. */
export function totalSince(pid: number, before: ThreadTimes): number {
  return cpuTotal(cpuSince(pid, before));
}

/** The CPU time each kind of thread of `pid` used since `before` (threads born since count from 0). */
export function cpuSince(pid: number, before: ThreadTimes, after = threadTimes(pid)): CpuSplit {
  const split: CpuSplit = { main: 0, workers: 0, jit: 0, other: 0 };
  for (const [tid, { name, ns }] of after) {
    const seconds = (ns - (before.get(tid)?.ns ?? 0)) / 1e9;
    if (tid === pid) split.main += seconds;
    else if (name === "Worker") split.workers += seconds;
    else if (name.startsWith("JIT")) split.jit += seconds;
    else split.other += seconds;
  }
  return split;
}
