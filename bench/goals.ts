// The goals the bench shows beside its figures, so that every run says how far it is from
// them: our median over the C yardstick's, over the sink's (the loopback ceiling), two threads
// over one, and the highest peak RSS of the runs. Set by issue 19 (2026-12-04) for the
// default settings; docs/performance.md has the figures.

import type { WorkloadName } from "../src/client/workloads.ts";

export interface Goal {
  /** Our median over the C yardstick's median. */
  ofC: number;
  /** Our median over the sink's median, where a goal is set. */
  ofSink?: number;
}

export const GOALS: Record<WorkloadName, Goal> = {
  random: { ofC: 4 },
  seq: { ofC: 1.8, ofSink: 0.3 },
  dup: { ofC: 1.6, ofSink: 0.55 },
};

/** Two threads' median over one thread's, on every workload (runs of --workers 1,2). */
export const SCALING = 1.5;

/** The highest peak RSS of the runs, in MiB, by serving threads. */
export const RSS_MIB: Record<number, number> = { 1: 175, 2: 190 };

/** A goal's cell: the bar, then whether `value` reaches it. */
export function goalCell(value: number | undefined, goal: number | undefined, format: (v: number) => string): string {
  if (goal === undefined || value === undefined) return "-";
  return `≥${format(goal)} ${value >= goal ? "met" : "short"}`;
}

/** A bound's cell: the bound, then whether `value` stays within it. */
export function boundCell(value: number | undefined, bound: number | undefined, format: (v: number) => string): string {
  if (bound === undefined || value === undefined) return "-";
  return `≤${format(bound)} ${value <= bound ? "met" : "over"}`;
}
