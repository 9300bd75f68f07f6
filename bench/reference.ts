// The C yardstick (reference.c): compiled with `cc -O2` into a temp directory when a C
// compiler is on the PATH, and started like our server (`serve --port 0` in the run's
// directory, readiness line on stderr). It is never part of the build or the binary.

import { join } from "node:path";
import { makeDir, removeDir, startTarget, type Target } from "./procs.ts";

const SOURCE = join(import.meta.dir, "reference.c");

export interface Reference {
  /** The compiled yardstick. */
  binary: string;
  /** Removes the temp directory that holds it. */
  remove(): void;
}

/** Compiles reference.c; `{ skipped }` says why when there is no C compiler or the build fails. */
export function buildReference(): Reference | { skipped: string } {
  const cc = Bun.which("cc");
  if (cc === null) return { skipped: "no C compiler (cc) on the PATH: the C yardstick is skipped" };
  const dir = makeDir("numbers-bench-c-");
  const binary = join(dir, "reference");
  const built = Bun.spawnSync([cc, "-O2", "-o", binary, SOURCE], { stdout: "pipe", stderr: "pipe" });
  if (built.exitCode !== 0) {
    removeDir(dir);
    const why = built.stderr.toString().trim().split("\n")[0] ?? `exit code ${built.exitCode}`;
    return { skipped: `cc -O2 reference.c failed (${why}): the C yardstick is skipped` };
  }
  return { binary, remove: () => removeDir(dir) };
}

/** Starts the yardstick in `dir` on a free port; resolves at its readiness line. */
export function startReference(ref: Reference, dir: string, args: string[]): Promise<Target> {
  return startTarget([ref.binary, "serve", "--port", "0", ...args], dir);
}
