#!/usr/bin/env bun
// The in-process engine benchmark (`bun run bench:engine [count]`): feeds an Engine pre-built
// lines in 512 KiB chunks, as the network would, with no sockets and no disk, and prints
// numbers/s for each workload: the first pass (every number new, except for dup) and a
// second pass of the same lines (every number a duplicate). Plain is the one-thread engine,
// atomic the one threads share. Each pass's counts are checked (unique and duplicate against
// the distinct numbers drawn, and the bytes handed to the log), so a figure is never that of
// a wrong engine; each is one pass, not a median: the in-process figures in
// docs/experiments.md are several invocations' or A/B rounds', as each entry says.

import { machineName } from "./procs.ts";
import { createBitmap } from "../src/core/bitmap.ts";
import { Engine } from "../src/core/engine.ts";
import { encodeLines, LINE_BYTES, newLineCarry } from "../src/core/protocol.ts";
import { numbers, type Dist } from "../src/client/payload.ts";

const USAGE = "usage: bun run bench:engine [count, default 20000000]\n";
if (process.argv[2] === "--help" || process.argv[2] === "-h") {
  process.stdout.write(USAGE);
  process.exit(0);
}
const count = Number(process.argv[2] ?? 20_000_000);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const CHUNK = 524_288 - (524_288 % LINE_BYTES);
const workloads: [string, Dist][] = [["random", { kind: "random" }], ["seq", { kind: "seq" }], ["dup", { kind: "dup", distinct: 1000 }]];

console.log(`${machineName()}; ${count} lines per pass, ${CHUNK}-byte chunks, one pass per figure`);
console.log("engine  workload  first pass M/s  second pass M/s");
for (const atomic of [false, true]) {
  for (const [name, dist] of workloads) {
    const drawn = numbers(dist, count, 0, 1);
    const distinct = new Set(drawn).size;
    const lines = encodeLines(drawn);
    let written = 0;
    const engine = new Engine({ bitmap: createBitmap(atomic), atomic, write: (bytes) => void (written += bytes.length) });
    const conn = newLineCarry();
    const rates = [0, 1].map((pass) => {
      const started = performance.now();
      for (let at = 0; at < lines.length; at += CHUNK) engine.frameAndCount(conn, lines.subarray(at, at + CHUNK));
      const rate = count / ((performance.now() - started) / 1000) / 1e6;
      engine.drain();
      const got = engine.takeCounts();
      const want = pass === 0 ? { unique: distinct, duplicates: count - distinct } : { unique: 0, duplicates: count };
      if (got.unique !== want.unique || got.duplicates !== want.duplicates || written !== distinct * LINE_BYTES) {
        process.stderr.write(`bench:engine: WRONG COUNTS (${atomic ? "atomic" : "plain"} ${name}, pass ${pass + 1}): ${got.unique} unique, ${got.duplicates} duplicates, ${written} bytes written; expected ${want.unique}, ${want.duplicates}, ${distinct * LINE_BYTES}\n`);
        process.exit(1);
      }
      return rate;
    });
    const label = atomic ? "atomic" : "plain";
    console.log(`${label.padEnd(6)}  ${name.padEnd(8)}  ${rates[0].toFixed(1).padStart(14)}  ${rates[1].toFixed(1).padStart(15)}`);
  }
}
