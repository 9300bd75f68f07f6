// Starts real servers for one test file and kills (SIGKILL) any still running after each
// test, so a failed assertion never leaves a server behind; collects a server's output
// once it has exited.

import { afterEach } from "bun:test";
import { spawnServer, startServer, type Spawned } from "./server.ts";

export function serverPool() {
  const live: Spawned[] = [];
  afterEach(() => {
    for (const server of live.splice(0)) if (server.proc.exitCode === null && !server.proc.killed) server.proc.kill(9);
  });
  return {
    start: async (...args: Parameters<typeof startServer>) => {
      const server = await startServer(...args);
      live.push(server);
      return server;
    },
    spawn: (...args: Parameters<typeof spawnServer>) => {
      const spawned = spawnServer(...args);
      live.push(spawned);
      return spawned;
    },
  };
}

/** Waits for the exit and for the end of both output streams. */
export async function outcome(server: Spawned): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const code = await server.exited;
  while ((await server.stdout.next()) !== null);
  while ((await server.stderr.next()) !== null);
  return { code, stdout: server.stdout.all, stderr: server.stderr.all };
}
