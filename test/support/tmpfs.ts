// A size-limited tmpfs: a real file system that fills, for the disk-full tests. Mounting
// needs root (as in CI); elsewhere the tests that need it are skipped, saying why.

import { tempDir } from "./server.ts";

export const canMount = process.getuid?.() === 0;
export const cannotMountReason = "needs root to mount a tmpfs";

function run(args: string[]): void {
  const result = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${args.join(" ")} failed (${result.exitCode}): ${result.stderr.toString().trim()}`);
}

/** Mounts a fresh tmpfs of `size` (mount's syntax: "1m") on a new temp dir and returns the dir. */
export function mountTmpfs(size: string): string {
  const dir = tempDir();
  run(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  return dir;
}

/** Gives the tmpfs at `dir` a new size; its files stay. */
export function resizeTmpfs(dir: string, size: string): void {
  run(["mount", "-o", `remount,size=${size}`, dir]);
}

/** Unmounts; lazily (at once, freed when no longer used) if a server left behind still has it open. */
export function unmount(dir: string): void {
  try {
    run(["umount", dir]);
  } catch {
    run(["umount", "--lazy", dir]);
  }
}
