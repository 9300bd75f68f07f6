// The compiled executable (NUMBERS_SERVER_BIN, made by `bun run build`) stands alone: it
// runs with an empty PATH (no Bun) from a directory whose .env and bunfig.toml it ignores.

import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { Lines, tempDir } from "../support/server.ts";

const bin = process.env.NUMBERS_SERVER_BIN;

/** Runs the binary in a temp dir holding a .env and bunfig.toml that would break it if read. */
function spawnAlone(args: string[]) {
  const cwd = tempDir();
  writeFileSync(join(cwd, ".env"), "NUMBERS_HOST=not-a-host.invalid\n");
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./missing.ts"]\n');
  const proc = Bun.spawn([resolve(bin!), ...args], {
    cwd,
    env: { PATH: tempDir() },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { proc, stdout: new Lines(proc.stdout), stderr: new Lines(proc.stderr) };
}

test.skipIf(!bin)("--version prints package.json's version", async () => {
  const p = spawnAlone(["--version"]);
  expect(await p.proc.exited).toBe(0);
  expect(await p.stdout.next()).toBe(pkg.version);
});

test.skipIf(!bin)("serve --port 0 starts with the default host, and stops on SIGTERM", async () => {
  const p = spawnAlone(["serve", "--port", "0"]);
  expect(await p.stderr.next()).toMatch(/^listening on 127\.0\.0\.1:\d+$/);
  p.proc.kill("SIGTERM");
  expect(await p.proc.exited).toBe(0);
});

// Without building: the build script's own command line.
test("bun run build --help lists --target and its twin; an unknown option or a target that is none is one line, exit 2", () => {
  const script = resolve(import.meta.dir, "../../build.ts");
  const help = Bun.spawnSync([process.execPath, script, "--help"]);
  expect(help.exitCode).toBe(0);
  expect(help.stdout.toString()).toMatch(/--target <v> +NUMBERS_BUILD_TARGET +default none/);
  const bad = Bun.spawnSync([process.execPath, script, "--bogus"]);
  expect({ code: bad.exitCode, stderr: bad.stderr.toString() }).toEqual({ code: 2, stderr: "build: Unknown option '--bogus' (see --help)\n" });
  // A target that is not one is a usage error too (it was a failed build, exit 1).
  const target = Bun.spawnSync([process.execPath, script, "--target", "bogus"]);
  expect({ code: target.exitCode, stderr: target.stderr.toString() }).toEqual({
    code: 2,
    stderr: "build: --target must be bun-<os>-<arch>[-<variant>] (e.g. bun-linux-arm64), got 'bogus' (see --help)\n",
  });
});
