// A worker for test/unit/atomic.test.ts: feeds the lines it is given to an atomic Engine on
// the shared bitmap it is given, then posts back the log bytes and its counts.

import { Engine } from "../../src/core/engine.ts";
import { newLineCarry } from "../../src/core/protocol.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ bits: Uint8Array; lines: Uint8Array; chunk: number; start: Int32Array }>) => {
  const { bits, lines, chunk, start } = event.data;
  // Start together with the other feeders, so that they race over the same numbers.
  Atomics.sub(start, 0, 1);
  while (Atomics.load(start, 0) > 0);
  const logged: Uint8Array[] = [];
  const engine = new Engine({ bitmap: bits, atomic: true, write: (bytes) => void logged.push(bytes.slice()) });
  const conn = newLineCarry();
  for (let at = 0; at < lines.length; at += chunk) engine.frameAndCount(conn, lines.subarray(at, at + chunk));
  engine.drain();
  self.postMessage({ log: Buffer.concat(logged).toString("latin1"), counts: engine.takeCounts() });
};
