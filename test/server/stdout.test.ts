// When nobody reads the server's stdout any more (as with `| head -1`), the server says so
// once on stderr and goes on serving and logging.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Lines, serverCommand, tempDir } from "../support/server.ts";

test("a closed stdout stops the reports, not the server", async () => {
  const dir = tempDir();
  const proc = Bun.spawn([...serverCommand(), "serve", "--port", "0", "--report-interval", "0.05"], {
    cwd: dir,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const stderr = new Lines(proc.stderr);
    const ready = await stderr.next();
    const port = Number(/:(\d+)$/.exec(ready ?? "")?.[1]);
    expect(port).toBeGreaterThan(0);
    // Read one report, then close our end of the pipe, like `head -1` exiting.
    const reader = proc.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^Received 0 unique numbers, 0 duplicates\. Unique total: 0\n/);
    await reader.cancel();
    expect(await stderr.next()).toBe(
      "numbers-server: standard output is closed (EPIPE); reports are no longer printed, the server goes on",
    );
    // Still serving: a number is logged, and terminate ends it cleanly.
    const closed = Promise.withResolvers<void>();
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, close: () => closed.resolve() } });
    socket.write("123456789\nterminate\n");
    await closed.promise;
    expect(await proc.exited).toBe(0);
    expect(readFileSync(join(dir, "numbers.log"), "latin1")).toBe("123456789\n");
    expect(await stderr.next()).toBeNull();
  } finally {
    proc.kill();
  }
});
