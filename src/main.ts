#!/usr/bin/env bun
// Entry point of numbers-server: picks the command, parses its configuration, runs it and
// maps failures to exit codes (2 for usage errors, 141 without a word when nobody reads
// stdout any more, as for a program killed by SIGPIPE, 1 for everything else).

import { UsageError } from "./options.ts";
import { COMMANDS, usage } from "./commands.ts";
import { printError, printResult, StdoutClosed } from "./output/print.ts";
import pkg from "../package.json" with { type: "json" };

const args = process.argv.slice(2);
const name = args[0] !== undefined && args[0] in COMMANDS ? args.shift()! : "serve";

function fail(message: string, code: number): never {
  printError(message);
  process.exit(code);
}

/** The exit code of a program killed by SIGPIPE, as a shell shows it (128 + 13). */
const EXIT_SIGPIPE = 141;

try {
  // As every command's --help lists it: `numbers-server --version`, `numbers-server client --version`.
  if (args[0] === "--version" || args[0] === "-v") {
    printResult(`${pkg.version}\n`);
    process.exit(0);
  }
  const command = COMMANDS[name as keyof typeof COMMANDS];
  const parsed = command.parse(args, process.env);
  if (parsed.help) {
    printResult(usage(name as keyof typeof COMMANDS));
    process.exit(0);
  }
  process.exit(await command.run(parsed.config as never));
} catch (err) {
  if (err instanceof StdoutClosed) process.exit(EXIT_SIGPIPE);
  if (err instanceof UsageError) fail(`${err.message} (see --help)`, 2);
  fail((err as Error).message, 1);
}
