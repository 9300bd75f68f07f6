// A worker for test/unit/atomic.test.ts: feeds rounds of lines to an atomic Engine on the
// shared bitmap it is given, starting each round together with the other feeders (a barrier
// on `start`), then posts back the log bytes and its counts.

import { Engine } from "../../src/core/engine.ts";
import { newLineCarry } from "../../src/core/protocol.ts";

declare const self: Worker;

interface Work {
  bits: Uint8Array;
  rounds: Uint8Array[];
  chunk: number;
  /** Feeders that have reached the barrier so far, over all rounds. */
  start: Int32Array;
  feeders: number;
}

self.onmessage = (event: MessageEvent<Work>) => {
  const { bits, rounds, chunk, start, feeders } = event.data;
  const logged: Uint8Array[] = [];
  const engine = new Engine({ bitmap: bits, atomic: true, write: (bytes) => void logged.push(bytes.slice()) });
  for (const [r, lines] of rounds.entries()) {
    // Every feeder starts the round at once, so that they race over the same bytes.
    Atomics.add(start, 0, 1);
    while (Atomics.load(start, 0) < feeders * (r + 1));
    const conn = newLineCarry();
    for (let at = 0; at < lines.length; at += chunk) engine.frameAndCount(conn, lines.subarray(at, at + chunk));
  }
  engine.drain();
  self.postMessage({ log: Buffer.concat(logged).toString("latin1"), counts: engine.takeCounts() });
};
