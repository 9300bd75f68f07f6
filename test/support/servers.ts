// Starts real servers for one test file and kills (SIGKILL) any still running once its
// tests are done, so a failed assertion never leaves a server behind; collects a server's
// output once it has exited.

import { afterAll, afterEach, beforeEach } from "bun:test";
import { spawnServer, startServer, type Spawned } from "./server.ts";

export function serverPool() {
  const live = new Set<Spawned>();
  const killAll = () => {
    for (const server of live) if (server.proc.exitCode === null && !server.proc.killed) server.proc.kill(9);
    live.clear();
  };
  // The tests of a server file run concurrently (bunfig.toml), and a hook cannot tell which
  // test just ended, so what a test left running is killed once none of the file's tests
  // runs: by then every test that started a server is over. A test that passes ends its own.
  let running = 0;
  beforeEach(() => void running++);
  afterEach(() => {
    if (--running === 0) killAll();
  });
  afterAll(killAll);
  const track = <T extends Spawned>(server: T): T => {
    live.add(server);
    void server.exited.then(() => live.delete(server));
    return server;
  };
  return {
    start: async (...args: Parameters<typeof startServer>) => track(await startServer(...args)),
    spawn: (...args: Parameters<typeof spawnServer>) => track(spawnServer(...args)),
  };
}

/** Waits for the exit and for the end of both output streams. */
export async function outcome(server: Spawned): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const code = await server.exited;
  while ((await server.stdout.next()) !== null);
  while ((await server.stderr.next()) !== null);
  return { code, stdout: server.stdout.all, stderr: server.stderr.all };
}
