// Feeds a schedule of chunks to one real Engine and records what it did in the shape of
// the reference model's answer (test/support/model.ts), so tests can compare the two.

import { Engine } from "../../src/core/engine.ts";
import { CLOSE, KEEP, newLineCarry, TERMINATE_SERVER, TERMINATE_SERVER_RESET, type Verdict } from "../../src/core/protocol.ts";
import type { ModelVerdict, Slice } from "./model.ts";

const NAMES: Record<Verdict, ModelVerdict> = { [KEEP]: "KEEP", [CLOSE]: "CLOSE", [TERMINATE_SERVER]: "TERMINATE", [TERMINATE_SERVER_RESET]: "TERMINATE_RESET" };

export interface EngineRun {
  /** Per slice: the engine's verdict, or null when the slice was not fed. */
  verdicts: (ModelVerdict | null)[];
  /** Everything handed to `write`, cut into 10-byte records (`ddddddddd\n` when well formed). */
  log: string[];
  unique: number;
  duplicates: number;
  total: number;
  /** The length of each buffer handed to `write` before the final drain(). */
  writes: number[];
}

/**
 * Feeds the slices in order, each connection with its own LineCarry, skipping a
 * connection after its CLOSE and everything after a TERMINATE_SERVER, as the server does.
 * A fresh 125 MB bitmap costs an allocation and its page faults, so runs in a loop may pass one `reused` bitmap
 * (all clear): it is cleared again afterwards (see clearTouched).
 */
export function driveEngine(streams: Uint8Array[], slices: Slice[], reused?: Uint8Array): EngineRun {
  let text = "";
  const writes: number[] = [];
  const write = (b: Uint8Array) => {
    // The bytes are only valid during the call, so they are copied out at once.
    text += Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
    writes.push(b.length);
  };
  const engine = new Engine({ bitmap: reused, write });
  const carries = streams.map(newLineCarry);
  const closed = streams.map(() => false);
  const verdicts: (ModelVerdict | null)[] = [];
  let stopped = false;
  for (const { conn, start, end } of slices) {
    if (stopped || closed[conn]) {
      verdicts.push(null);
      continue;
    }
    const verdict = engine.frameAndCount(carries[conn], streams[conn].subarray(start, end));
    verdicts.push(NAMES[verdict]);
    if (verdict === CLOSE) closed[conn] = true;
    if (verdict === TERMINATE_SERVER || verdict === TERMINATE_SERVER_RESET) stopped = true;
  }
  const fedWrites = writes.length;
  engine.drain();
  const log = text.match(/[^]{1,10}/g) ?? [];
  if (reused) clearTouched(reused, streams);
  return { verdicts, log, ...engine.takeCounts(), writes: writes.slice(0, fedWrites) };
}

/**
 * Clears every bit the engine could have set from these streams: the value of each run of
 * nine ASCII digits at any offset, so even a misaligned parse leaves no bit behind.
 */
function clearTouched(bits: Uint8Array, streams: Uint8Array[]): void {
  for (const stream of streams) {
    let value = 0;
    let digits = 0;
    for (const b of stream) {
      const d = b - 48;
      digits = d >= 0 && d <= 9 ? digits + 1 : 0;
      value = digits > 0 ? (value * 10 + d) % 1_000_000_000 : 0;
      if (digits >= 9) bits[value >>> 3] = 0;
    }
  }
}
