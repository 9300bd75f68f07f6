// Preloaded for every test run (bunfig.toml): after the last test, removes the temp dirs
// that the tests made (test/support/server.ts), logs and all.

import { afterAll } from "bun:test";
import { rmSync } from "node:fs";
import { TEMP_ROOT } from "./server.ts";

afterAll(() => {
  try {
    rmSync(TEMP_ROOT, { recursive: true, force: true });
  } catch {
    // A tmpfs that a failed test left mounted inside stays behind; the rest is gone.
  }
});
