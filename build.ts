#!/usr/bin/env bun
// Compiles src/main.ts into one standalone executable, dist/numbers-server, that carries the
// Bun runtime: `bun run build [--target bun-linux-x64]` (the host by default). Targets other
// than the host need Bun to download that runtime once.

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { describeOptions, parseOptions, UsageError } from "./src/options.ts";

const OUTFILE = resolve(import.meta.dir, "dist/numbers-server");

/** A target's shape, bun-<os>-<arch>[-<variant>...]: another is a usage error here, not a failed build. */
function compileTarget(text: string, name: string): string {
  if (text !== "" && !/^bun-[a-z]+-[a-z0-9]+(-[a-z0-9]+)*$/.test(text)) {
    throw new UsageError(`${name} must be bun-<os>-<arch>[-<variant>] (e.g. bun-linux-arm64), got '${text}'`);
  }
  return text;
}

const OPTIONS = {
  target: {
    flag: "target", env: "NUMBERS_BUILD_TARGET", default: "", read: compileTarget,
    help: "Bun's compile target, bun-<os>-<arch>[-<variant>] (e.g. bun-linux-arm64); none = this host",
  },
};

let target: Bun.Build.CompileTarget | undefined;
try {
  const parsed = parseOptions(OPTIONS, process.argv.slice(2), process.env);
  if (parsed.help) {
    console.log(`Usage: bun run build [options]\n\nBuilds ${OUTFILE}.\n\nOptions (flag, environment variable, default):\n${describeOptions(OPTIONS)}`);
    process.exit(0);
  }
  target = (parsed.config.target || undefined) as Bun.Build.CompileTarget | undefined;
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`build: ${err.message} (see --help)`);
  process.exit(2);
}

const started = performance.now();
let result;
try {
  result = await Bun.build({
    // The worker thread of --workers is its own entry point inside the executable.
    entrypoints: [resolve(import.meta.dir, "src/main.ts"), resolve(import.meta.dir, "src/server/worker.ts")],
    compile: {
      outfile: OUTFILE,
      // Bun rejects `target: undefined`, so the key is left out for the host.
      ...(target ? { target } : {}),
      // The binary must behave the same wherever it is started, so it ignores any .env,
      // bunfig.toml, package.json or tsconfig.json in the working directory.
      autoloadDotenv: false,
      autoloadBunfig: false,
      autoloadPackageJson: false,
      autoloadTsconfig: false,
    },
    throw: false,
  });
} catch (err) {
  // An unknown target is thrown rather than logged.
  console.error(`build failed: ${(err as Error).message}`);
  process.exit(1);
}
if (!result.success) {
  for (const log of result.logs) console.error(log);
  console.error("build failed");
  process.exit(1);
}
const mib = statSync(OUTFILE).size / (1 << 20);
const ms = performance.now() - started;
console.log(`built ${OUTFILE} (${mib.toFixed(1)} MiB, ${target ?? "host target"}) in ${(ms / 1000).toFixed(1)} s`);
