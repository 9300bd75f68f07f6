// Starts real servers for one test file and kills (SIGKILL) any still running once its
// tests are done, so a failed assertion never leaves a server behind; collects a server's
// output once it has exited.

import { afterAll, afterEach, beforeEach } from "bun:test";
import { spawnServer, startServer, type Spawned } from "./server.ts";

/**
 * Runs `cleanup` whenever none of the tests of this file (or of the describe block it is
 * called in) runs, and after the last. The tests of a server file run concurrently
 * (bunfig.toml) and a hook cannot tell which test just ended, so an afterEach that cleans
 * up "the test's" processes would clean up the others' too; this one waits until every
 * test that could own them is over. A test that passes cleans up after itself.
 */
export function afterTests(cleanup: () => void): void {
  let running = 0;
  beforeEach(() => void running++);
  afterEach(() => {
    if (--running === 0) cleanup();
  });
  afterAll(cleanup);
}

export function serverPool() {
  const live = new Set<Spawned>();
  afterTests(() => {
    for (const server of live) if (server.proc.exitCode === null && !server.proc.killed) server.proc.kill(9);
    live.clear();
  });
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
  const ended = (async () => {
    const code = await server.exited;
    while ((await server.stdout.next()) !== null);
    while ((await server.stderr.next()) !== null);
    return { code, stdout: server.stdout.all, stderr: server.stderr.all };
  })();
  // Not a wait for the server but a watchdog for a failure's message: now and then (a few in
  // a hundred runs of test/server/lifecycle.test.ts, two copies at once) a test waited here
  // until its timeout, and the timeout said nothing of what was missing.
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => {
      const state = server.proc.exitCode !== null || server.proc.signalCode !== null ? `exited (${server.proc.signalCode ?? server.proc.exitCode})` : "still running";
      reject(new Error(`outcome: after 10 s the server (pid ${server.proc.pid}) is ${state}; its stderr so far: ${JSON.stringify(server.stderr.text)}`));
    }, 10_000);
  });
  try {
    return await Promise.race([ended, stuck]);
  } finally {
    clearTimeout(watchdog);
  }
}
