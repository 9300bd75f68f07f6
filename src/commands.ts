// The commands of the one executable, each a parser and a runner, and their --help text.

import { describeOptions, UsageError } from "./options.ts";
import { parseServerConfig, SERVER_OPTIONS, type ServerConfig } from "./server/config.ts";
import { CLIENT_OPTIONS, parseClientConfig, parseTerminateConfig, TERMINATE_OPTIONS, type ClientConfig, type TerminateConfig } from "./client/config.ts";
import { CHECK_OPTIONS, parseCheckConfig, type CheckConfig } from "./check/config.ts";
import { address } from "./address.ts";
import { parseTestHooks } from "./server/testhooks.ts";
import { printNotice } from "./output/print.ts";

// A command's code is loaded only when it runs; only the parsers and a few small helpers are
// imported here. Imported up front, the checker cost every server several MiB of RSS it
// never uses, and the client's number format CPU at every server start
// (docs/experiments.md, 2026-12-06).

/** Test hooks come from the environment alone, apart from the flags (testhooks.ts). */
async function serve(config: ServerConfig): Promise<number> {
  const { runServer } = await import("./server/coordinator.ts");
  return runServer(config, parseTestHooks(process.env), (port) => printNotice(`listening on ${address(config.host, port)}`));
}

async function client(config: ClientConfig): Promise<number> {
  return (await import("./client/client.ts")).runClient(config);
}

async function terminate(config: TerminateConfig): Promise<number> {
  return (await import("./client/terminate.ts")).terminate(config);
}

async function check(config: CheckConfig): Promise<number> {
  return (await import("./check/run.ts")).runCheck(config);
}

export const COMMANDS = {
  serve: {
    summary: "run the server (the default command)",
    options: SERVER_OPTIONS,
    parse: parseServerConfig,
    run: serve,
  },
  client: {
    summary: "send valid numbers to a server as fast as it takes them",
    options: CLIENT_OPTIONS,
    parse: parseClientConfig,
    run: client,
  },
  terminate: {
    summary: "shut a server down (sends terminate) and wait until it has",
    options: TERMINATE_OPTIONS,
    parse: parseTerminateConfig,
    run: terminate,
  },
  check: {
    summary: "check a server against the job, case by case, and print a scorecard",
    options: CHECK_OPTIONS,
    parse: parseCheckConfig,
    run: check,
  },
};

export type CommandName = keyof typeof COMMANDS;

/**
 * The command the arguments name (serve when the first is an option, or there is none) and
 * the arguments left for it. A first word that is no command is a usage error that says so.
 */
export function pickCommand(argv: string[]): { name: CommandName; args: string[] } {
  const [first, ...rest] = argv;
  // Own keys only: `in` also found `constructor` and `toString`, which crashed as commands.
  if (first !== undefined && Object.hasOwn(COMMANDS, first)) return { name: first as CommandName, args: rest };
  if (first !== undefined && !first.startsWith("-")) {
    throw new UsageError(`unknown command '${first}' (the commands: ${Object.keys(COMMANDS).join(", ")})`);
  }
  return { name: "serve", args: argv };
}

/**
 * Whether a command's arguments ask for the version: `--version` (or `-v`) first, as every
 * --help lists it (`numbers-server --version`, `numbers-server client --version`); with
 * anything after it, a usage error, not the version with the rest ignored. Elsewhere it is
 * an option the command does not know (or the value of one: `check -k -v`).
 */
export function askedVersion(args: string[]): boolean {
  if (args[0] !== "--version" && args[0] !== "-v") return false;
  if (args.length > 1) throw new UsageError("--version takes no other argument");
  return true;
}

export function usage(name: CommandName): string {
  const command = COMMANDS[name];
  const list = Object.entries(COMMANDS)
    .map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`)
    .join("\n");
  return `Usage: numbers-server ${name === "serve" ? "[serve]" : name} [options]\n\n${command.summary}\n\nOptions (flag, environment variable, default):\n` +
    `${describeOptions(command.options, [["-h, --help", "show this help"]])}\n\nCommands:\n${list}\n\n` +
    `numbers-server --version prints the version.\n`;
}
