// The commands of the one executable, each a parser and a runner, and their --help text.

import { describeOptions, parseServerConfig, SERVER_OPTIONS, type ServerConfig } from "./config.ts";
import { startServer } from "./server.ts";
import { writeSync } from "node:fs";

async function serve(config: ServerConfig): Promise<number> {
  const server = await startServer(config);
  writeSync(2, `listening on ${config.host}:${server.port}\n`);
  return server.done;
}

export const COMMANDS = {
  serve: {
    summary: "run the server (the default command)",
    options: SERVER_OPTIONS,
    parse: parseServerConfig,
    run: serve,
  },
};

export function usage(name: keyof typeof COMMANDS): string {
  const command = COMMANDS[name];
  const list = Object.entries(COMMANDS)
    .map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`)
    .join("\n");
  return `Usage: numbers-server [${name}] [options]\n\n${command.summary}\n\nOptions (flag, environment variable, default):\n` +
    `${describeOptions(command.options)}\n  --help, -h  show this help\n\nCommands:\n${list}\n  --version   print the version\n`;
}
