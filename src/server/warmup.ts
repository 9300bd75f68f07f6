// The JIT warm-up before readiness: made-up lines go through the very functions that count
// clients' lines (Dispatcher.feed in the main thread, consume() in a worker), into scratch
// shards with a bitmap and a log (/dev/null) of their own, so that JavaScriptCore has compiled
// them to its top tier before the first client's bytes arrive. Without it, a server's first
// numbers (millions of them: docs/experiments.md) run partly in lower tiers while the
// compiler threads take CPU from the threads that read and count them.

import { Dispatcher } from "./dispatch.ts";
import { encodeLines, LINE_BYTES, newLineCarry } from "../core/protocol.ts";
import { closeSync, openSync } from "node:fs";
import { appendLog } from "./logfile.ts";
import { Shard } from "./shard.ts";

/** Numbers the scratch bitmap holds (128 KiB); every made-up line is below it. */
const SPACE = 1 << 20;
/** Lines in the made-up stream: ~1 MiB, seen again and again. */
const STREAM_LINES = 104_857;
/**
 * Bytes per made-up chunk, about what a loopback data event carries (~64 KiB): the functions
 * called once per chunk then run as often as under a busy client and reach a compiled tier
 * too. Not a multiple of 10, so lines are cut.
 */
const CHUNK_BYTES = (64 << 10) - 3;
/** ...and a multiple of 10 for a worker, which is handed whole lines. */
const WHOLE_BYTES = 6_553 * LINE_BYTES;

function scratch(atomic: boolean): { shard: Shard; bits: Uint8Array; end: () => Promise<void> } {
  const bits = atomic ? new Uint8Array(new SharedArrayBuffer(SPACE / 8)) : new Uint8Array(SPACE / 8);
  const fd = openSync("/dev/null", "w");
  const log = { fd, path: "/dev/null", stream: false };
  const shard = new Shard({ bits, atomic, openLog: (onError) => appendLog(log, onError), flushInterval: 3600, onWriteError: () => {} });
  const end = async () => {
    await shard.stop();
    closeSync(fd);
  };
  return { shard, bits, end };
}

/**
 * The main thread's warm-up: `lines` made-up lines from two connections, in fresh Buffers
 * cut mid-line, through Dispatcher.feed into two scratch shards in turn. A pass finds every
 * number new, all of them duplicates, or most new (nextPass()). It ends early, at the end of
 * a pass, once `stopping()` says the server stops.
 */
export async function warmUpMain(atomic: boolean, lines: number, stopping: () => boolean): Promise<void> {
  // Without this, --warmup 0 still made the scratch shards and lines, at every start
  // (docs/experiments.md, 2026-12-06).
  if (lines <= 0) return;
  // Two scratch shards, taken in turn: with one, the compiler took its engine for a constant,
  // and the real engine's first lines sent commit() back to be compiled again
  // (docs/experiments.md, 2026-12-06).
  const scratches = [scratch(atomic), scratch(atomic)];
  const dispatchers = scratches.map(({ shard }) => new Dispatcher(shard, []));
  const stream = madeUp();
  const conns = [newLineCarry(), newLineCarry()];
  for (let done = 0, pass = 0; done < lines && !stopping(); pass++, done += STREAM_LINES) {
    for (let at = 0; at < stream.length; at += CHUNK_BYTES) {
      const bytes = stream.subarray(at, at + CHUNK_BYTES);
      dispatchers[pass % 2].feed(conns[pass % 2], Buffer.from(bytes));
    }
    nextPass(scratches[pass % 2].bits, pass >> 1);
    // A pass takes a few milliseconds; between passes the event loop runs, so that a signal,
    // a `terminate` or an early client waits for one pass, not for the whole warm-up.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  for (const { end } of scratches) await end();
}

/**
 * A worker's warm-up: `lines` made-up whole lines in fresh buffers through `consume`, ended
 * early, at the end of a pass, once `stopping()` says the server stops (a worker reads no
 * message until it has started, so the main thread says so in shared memory).
 */
export async function warmUpWorker(
  atomic: boolean,
  lines: number,
  consume: (shard: Shard, counter: Int32Array, bytes: ArrayBuffer, start: number, end: number) => void,
  stopping: () => boolean,
): Promise<void> {
  if (lines <= 0) return;
  // Two scratch shards, taken in turn, as in warmUpMain().
  const scratches = [scratch(atomic), scratch(atomic)];
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const stream = madeUp();
  for (let done = 0, pass = 0; done < lines && !stopping(); pass++, done += STREAM_LINES) {
    for (let at = 0, k = 0; at < stream.length; at += WHOLE_BYTES, k++) {
      // A client's lines reach a worker at any offset of their buffer (after the rest of a
      // line cut by the previous chunk): so do these, 0 to 9 bytes in.
      const run = stream.subarray(at, at + WHOLE_BYTES);
      const lead = k % LINE_BYTES;
      const chunk = new Uint8Array(lead + run.length);
      chunk.set(run, lead);
      Atomics.add(counter, 0, run.length);
      consume(scratches[pass % 2].shard, counter, chunk.buffer, lead, chunk.length);
    }
    nextPass(scratches[pass % 2].bits, pass >> 1);
  }
  for (const { end } of scratches) await end();
}

/**
 * Readies the scratch bitmap for the pass after `pass`, in a cycle of three: every number
 * new, then every number a duplicate, then most new and some duplicates (as a random
 * workload's passes are), so that commit() meets each of its paths before the first client,
 * the copy of new lines from among duplicates included.
 */
function nextPass(bits: Uint8Array, pass: number): void {
  if (pass % 3 === 1) bits.fill(0, 0, bits.length - (bits.length >> 4));
  else if (pass % 3 === 2) bits.fill(0);
}

/**
 * STREAM_LINES lines of numbers below SPACE: runs of 16,384 consecutive numbers, and as many
 * scattered ones, alternately, so that both of commit()'s probe loops are taken. The
 * scattered ones come from a full-period generator: one that fed its own 20-bit output back
 * (as before 2026-12-06) repeated itself after ~4,000 numbers, so its lines were duplicates
 * and the scattered loop was first compiled on a client's numbers.
 */
function madeUp(): Uint8Array {
  const values = new Uint32Array(STREAM_LINES);
  let run = 0;
  let state = 1;
  for (let k = 0; k < STREAM_LINES; k++) {
    if ((k >> 14) % 2 === 0) {
      run = (run + 1) % SPACE;
      values[k] = run;
    } else {
      state = (Math.imul(state, 1_103_515_245) + 12_345) | 0;
      values[k] = (state >>> 12) % SPACE;
    }
  }
  return encodeLines(values);
}
