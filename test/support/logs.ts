// Reading numbers.log in tests: its numbers in file order (every line checked to be nine
// digits and LF), how many distinct, and a wait for the file to reach a size while the
// server still runs. All of it works on bytes and typed arrays, not a string per line.

import { readFileSync, statSync, watch } from "node:fs";

/**
 * The numbers of the log at `path`, in file order; throws naming the first bad line. Reads
 * the bytes as they are (no string per line): a log of a million lines takes a few ms.
 */
export function logNumbers(path: string): Uint32Array {
  return parseLog(readFileSync(path), path);
}

/** The numbers of a log's content, as logNumbers reads a file; `name` is for the error. */
export function parseLog(bytes: Uint8Array | string, name = "the log"): Uint32Array {
  if (typeof bytes === "string") bytes = Buffer.from(bytes, "latin1");
  const values = new Uint32Array(Math.ceil(bytes.length / 10));
  for (let at = 0, i = 0; at < bytes.length; at += 10, i++) {
    let value = 0;
    let good = at + 10 <= bytes.length && bytes[at + 9] === 10;
    for (let k = 0; k < 9 && good; k++) {
      const d = bytes[at + k] - 48;
      good = d >= 0 && d <= 9;
      value = value * 10 + d;
    }
    if (!good) {
      const line = Buffer.from(bytes.subarray(at, at + 10)).toString("latin1");
      throw new Error(`${name} line ${i + 1} is ${JSON.stringify(line)}, not nine digits and LF`);
    }
    values[i] = value;
  }
  return values;
}

/** How many distinct values there are (a sorted copy, not a Set of a million entries). */
export function distinct(values: ArrayLike<number>): number {
  const s = sorted(values);
  let n = s.length > 0 ? 1 : 0;
  for (let i = 1; i < s.length; i++) if (s[i] !== s[i - 1]) n++;
  return n;
}

/** The values sorted ascending, to compare logs whose lines interleave connections. */
export function sorted(values: ArrayLike<number>): Uint32Array {
  return Uint32Array.from(values).sort();
}

const size = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
};

/**
 * Resolves once the file at `path` holds at least `bytes` bytes, woken by inotify (fs.watch);
 * rejects after `withinMs` with the size it reached.
 */
export function waitForSize(path: string, bytes: number, withinMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(path, () => check());
    // Bun's fs.watch can miss the last of a burst of writes from another process (the event
    // comes, the size read then is older, and no event follows: a small write right after a
    // big one, as a report line after the log's flush, was missed in one run of two), so the
    // size is also looked at every 25 ms, and the deadline looks once more.
    const poll = setInterval(() => check(), 25);
    const timer = setTimeout(() => {
      if (size(path) >= bytes) finish();
      else finish(new Error(`${path} has ${size(path)} bytes after ${withinMs} ms, waited for ${bytes}`));
    }, withinMs);
    function finish(err?: Error) {
      clearTimeout(timer);
      clearInterval(poll);
      watcher.close();
      if (err) reject(err);
      else resolve();
    }
    function check() {
      if (size(path) >= bytes) finish();
    }
    check();
  });
}
