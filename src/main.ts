#!/usr/bin/env bun
// Entry point of numbers-server: picks the command, parses its configuration, runs it and
// maps failures to exit codes (2 for usage errors, 141 without a word when nobody reads
// stdout any more, as for a program killed by SIGPIPE, 1 for everything else).

import { UsageError } from "./options.ts";
import { askedVersion, COMMANDS, pickCommand, usage } from "./commands.ts";
import { printError, printResult, StdoutClosed } from "./output/print.ts";
import pkg from "../package.json" with { type: "json" };

function fail(message: string, code: number): never {
  printError(message);
  process.exit(code);
}

/** The exit code of a program killed by SIGPIPE, as a shell shows it (128 + 13). */
const EXIT_SIGPIPE = 141;

try {
  const { name, args } = pickCommand(process.argv.slice(2));
  if (askedVersion(args)) {
    printResult(`${pkg.version}\n`);
    process.exit(0);
  }
  const command = COMMANDS[name];
  const parsed = command.parse(args, process.env);
  if (parsed.help) {
    printResult(usage(name));
    process.exit(0);
  }
  process.exit(await command.run(parsed.config as never));
} catch (err) {
  if (err instanceof StdoutClosed) process.exit(EXIT_SIGPIPE);
  if (err instanceof UsageError) fail(`${err.message} (see --help)`, 2);
  fail((err as Error).message, 1);
}
