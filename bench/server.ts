// The server under test in the benchmark: which executable runs (the compiled binary when
// there is one, else the source), and how a run starts it and stops it.

import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { terminate } from "../src/client/terminate.ts";
import { BenchError, startTarget, type Target } from "./procs.ts";

const ROOT = resolve(import.meta.dir, "..");
const BINARY = join(ROOT, "dist/numbers-server");

const binary = existsSync(BINARY);
/** The server's command: the binary when it is built, else the source. */
export const serverCommand = binary ? [BINARY] : [process.execPath, join(ROOT, "src/main.ts")];

/** Whether some server source changed after the binary was built, so it may not be what src/ says. */
function binaryIsStale(): boolean {
  const built = statSync(BINARY).mtimeMs;
  for (const file of new Bun.Glob("src/**/*.ts").scanSync(ROOT)) {
    if (statSync(join(ROOT, file)).mtimeMs > built) return true;
  }
  return false;
}
export const stale = binary && binaryIsStale();
export const serverForm = !binary
  ? "source (bun src/main.ts)"
  : `binary dist/numbers-server${stale ? " (STALE: older than src/, run `bun run build`)" : ""}`;

/**
 * Starts `serve --port 0` in `dir` with `args`, and `--workers W` when `workers` is given;
 * resolves at its readiness line.
 */
export function startServer(dir: string, workers: number | undefined, args: string[], stdout: "ignore" | "pipe" = "ignore"): Promise<Target> {
  const workerArgs = workers === undefined ? [] : ["--workers", String(workers)];
  return startTarget([...serverCommand, "serve", "--port", "0", ...workerArgs, ...args], dir, stdout);
}

/** Stops the server as any client may, with a `terminate` line, and checks that it exits 0. */
export async function stopServer(server: Target): Promise<void> {
  await terminate({ host: server.host, port: server.port, timeout: 60 }).catch((err: Error) => {
    throw new BenchError(`terminate failed: ${err.message}\n${server.stderr()}`);
  });
  const code = await server.proc.exited;
  if (code !== 0) throw new BenchError(`the server exited with code ${code} after terminate:\n${server.stderr()}`);
}
