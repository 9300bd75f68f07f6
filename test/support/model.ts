// A plain reference model of the line protocol, the oracle for the engine and fuzz tests.
// It is written to be obviously right, not fast: split on LF, test each line with a regex.

/** TERMINATE_RESET: a terminate line with bytes after it in the same chunk (a slice's verdict, never a stream's). */
export type ModelVerdict = "KEEP" | "CLOSE" | "TERMINATE" | "TERMINATE_RESET";

export interface StreamModel {
  /** The valid lines before the stream ends or turns bad, each with the index of its LF. */
  lines: { value: string; lf: number }[];
  /** KEEP when no byte of the stream is bad and it has no `terminate` line. */
  verdict: ModelVerdict;
  /** The byte that decides the verdict: the first that no valid line can have there, or terminate's LF; -1 for KEEP. */
  at: number;
}

/** Whether `prefix` (a line's bytes, maybe with its LF) can still be or become a valid line. */
function canBecomeValid(prefix: string): boolean {
  // No `u` flag: \d is ASCII 0-9 only; `$` without `m` is the very end of the string.
  return /^\d{0,9}$/.test(prefix) || /^\d{9}\n$/.test(prefix) || "terminate\n".startsWith(prefix);
}

/** What one connection's whole byte stream should yield. */
export function modelStream(bytes: Uint8Array): StreamModel {
  // latin1 maps each byte to one char, so string indexes are byte indexes.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  const lines: StreamModel["lines"] = [];
  let start = 0;
  for (;;) {
    const lf = text.indexOf("\n", start);
    const line = lf < 0 ? text.slice(start) : text.slice(start, lf);
    if (lf >= 0 && /^\d{9}$/.test(line)) {
      lines.push({ value: line, lf });
      start = lf + 1;
      continue;
    }
    if (lf >= 0 && line === "terminate") return { lines, verdict: "TERMINATE", at: lf };
    // A bad line, or the unfinished last one: find the first byte that rules it out.
    const seen = lf < 0 ? line : line + "\n";
    for (let k = 1; k <= seen.length; k++) {
      if (!canBecomeValid(seen.slice(0, k))) return { lines, verdict: "CLOSE", at: start + k - 1 };
    }
    return { lines, verdict: "KEEP", at: -1 };
  }
}

/** The verdict of the slice ending before `end` that decides a stream's `verdict` at byte `at`. */
export function sliceVerdict(verdict: ModelVerdict, at: number, end: number): ModelVerdict {
  return verdict === "TERMINATE" && end > at + 1 ? "TERMINATE_RESET" : verdict;
}

/** One chunk of a schedule: bytes [start, end) of connection `conn`'s stream. */
export interface Slice {
  conn: number;
  start: number;
  end: number;
}

/** Slices of connection `conn`'s stream of `length` bytes, cut before each offset in `cuts` (ascending). */
export function cutAt(conn: number, length: number, cuts: number[]): Slice[] {
  const bounds = [0, ...cuts, length];
  return bounds.slice(1).map((end, k) => ({ conn, start: bounds[k], end }));
}

export interface ScheduleModel {
  /** Per slice: the verdict the engine must give, or null when the slice must not be fed. */
  verdicts: (ModelVerdict | null)[];
  /** The log record (`ddddddddd\n`) of each new number, once, in the order the slices bring them. */
  log: string[];
  duplicates: number;
}

/**
 * What feeding the slices in order to one engine should give: a connection is not fed
 * after its CLOSE, and nothing is fed after a TERMINATE.
 */
export function modelSchedule(streams: Uint8Array[], slices: Slice[]): ScheduleModel {
  const models = streams.map(modelStream);
  const next = streams.map(() => 0);
  const closed = streams.map(() => false);
  const seen = new Set<string>();
  const result: ScheduleModel = { verdicts: [], log: [], duplicates: 0 };
  let stopped = false;
  for (const { conn, start, end } of slices) {
    if (stopped || closed[conn]) {
      result.verdicts.push(null);
      continue;
    }
    const m = models[conn];
    for (; next[conn] < m.lines.length && m.lines[next[conn]].lf < end; next[conn]++) {
      const value = m.lines[next[conn]].value;
      if (seen.has(value)) result.duplicates++;
      else result.log.push(value + "\n");
      seen.add(value);
    }
    const decided = m.at >= start && m.at < end;
    result.verdicts.push(decided ? sliceVerdict(m.verdict, m.at, end) : "KEEP");
    if (decided && m.verdict === "CLOSE") closed[conn] = true;
    if (decided && m.verdict === "TERMINATE") stopped = true;
  }
  return result;
}
