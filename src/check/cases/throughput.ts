// Throughput cases (--throughput N, off by default): N numbers of the benchmark's random,
// seq and dup workloads from five connections through the client machinery, timed from the
// first byte to the exit after `terminate` (a complete log), and the log verified.

import { fail, pass, stopWithTerminate, type Case } from "../scenario.ts";
import type { WorkloadName } from "../../client/workloads.ts";
import { sendWorkload } from "./log.ts";

function throughputCase(workload: WorkloadName): Case {
  return {
    name: `throughput/${workload}`,
    needs: "spawn",
    why: "it times the log to completion, which needs --spawn",
    controls: true,
    optional: (config) => config.throughput > 0,
    async run(ctx) {
      const count = ctx.config.throughput;
      const target = await ctx.start();
      const { result, check } = await sendWorkload(target.host, target.port, workload, count);
      const note = await stopWithTerminate(target, Math.max(ctx.timeoutMs, 60_000));
      const seconds = (performance.now() - result.firstByteAt) / 1000;
      if (note) return fail(`${count} numbers sent; ${note}`);
      if (result.cutShort > 0) return fail(`the server closed ${result.cutShort} of 5 connections before all their numbers were sent`);
      const v = check(target.readLog());
      const rate = `${(count / seconds / 1e6).toFixed(2)} M numbers/s (${count} in ${seconds.toFixed(2)} s to a complete log)`;
      return v.ok ? pass(`${rate}; ${v.evidence}`) : fail(`${rate}; ${v.evidence}`);
    },
  };
}

export const THROUGHPUT_CASES: Case[] = (["random", "seq", "dup"] as const).map(throughputCase);
