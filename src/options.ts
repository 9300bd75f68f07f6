// The option-table machinery every command uses: an option's flag, environment twin,
// default and reader, the readers themselves, and one strict parse of argv and env.
// Every flag has an environment twin; a flag beats its twin, and the twin beats the default.

import { isIPv6 } from "node:net";
import { parseArgs } from "node:util";

/** A bad flag, value or environment variable: exit code 2. */
export class UsageError extends Error {}

/** One option of a command: its flag, environment twin, default and how to read a value. */
export interface OptionSpec<T> {
  flag: string;
  /** A switch takes no value on the command line; its env twin says true/false. */
  switch?: true;
  /** A one-letter alias (`-k`). */
  short?: string;
  /** The value may start with a dash (`--spawn-args '--workers 1'`): the next argument is always the value. */
  dashValue?: true;
  env: string;
  default: string;
  /**
   * An empty value given on purpose means something (`--svg ""`: no chart). Otherwise an
   * empty flag or twin is a usage error, never the default: a mistyped `$VAR` is caught.
   */
  empty?: true;
  help: string;
  read: (text: string, name: string) => T;
}

export const integer = (min: number, max: number) => (text: string, name: string): number => {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  return n;
};

/**
 * The shortest interval any seconds option takes: a millisecond. Shorter, a typo (an extra
 * `0.0000`) asked for a report line every microsecond, which the timers cannot keep, and got
 * a flood on stdout.
 */
const SHORTEST_SECONDS = 0.001;

export const seconds = (text: string, name: string): number => {
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(n >= SHORTEST_SECONDS && n <= 86400)) throw new UsageError(`${name} must be a number of seconds from ${SHORTEST_SECONDS} to 86400, in digits with an optional decimal point, got '${text}'`);
  return n;
};

/** Seconds, or 0 for off; the error names 0 as allowed too. */
export const secondsOrOff = (text: string, name: string): number => {
  if (/^0*(\.0*)?$/.test(text) && text !== "" && text !== ".") return 0;
  try {
    return seconds(text, name);
  } catch {
    throw new UsageError(`${name} must be 0 (off) or a number of seconds from ${SHORTEST_SECONDS} to 86400, in digits with an optional decimal point, got '${text}'`);
  }
};

export const bool = (text: string, name: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new UsageError(`${name} must be true or false (or 1/0, yes/no, on/off), got '${text}'`);
};

export const nonEmpty = (text: string, name: string): string => {
  if (text === "") throw new UsageError(`${name} must not be empty`);
  return text;
};

/** A file's path: not empty, and not ending in `/` (the open would say only "it is a directory"). */
export const filePath = (text: string, name: string): string => {
  if (nonEmpty(text, name).endsWith("/")) throw new UsageError(`${name} must name a file, not a directory (it ends in /), got '${text}'`);
  return text;
};

/**
 * An address or host name to listen on or connect to. An IPv6 address may come in brackets,
 * as a URL writes it (`[::1]`); blanks are refused here, where a resolver's ENOTFOUND would not
 * say what was wrong, and so is a colon outside an IPv6 address (`127.0.0.1:5000`: no host
 * name has one, and the listen read it as an address that is not here).
 */
export const hostName = (text: string, name: string): string => {
  // A zone after `%` (fe80::1%lo) is part of an address in brackets too.
  const host = /^\[([0-9A-Fa-f:.]+(%[\w.-]+)?)\]$/.exec(text)?.[1] ?? text;
  // An IPv6 address with at most one zone (`%lo`), not empty.
  const [address, ...zones] = host.split("%");
  const notIPv6 = host.includes(":") && (!isIPv6(address) || zones.length > 1 || zones[0] === "");
  if (host === "" || /[\s\[\]]/.test(host) || notIPv6) {
    const port = /^([^:\[\]]+|\[[^\]]*\]):\d+$/.test(text) ? " (the port is a flag of its own)" : "";
    throw new UsageError(`${name} must be an address or a host name, got '${text}'${port}`);
  }
  return host;
};

/** A port, or off. Empty is neither: a twin set from an unset variable is an error, not off. */
export const portOrOff = (text: string, name: string): number | undefined => {
  if (text === "off") return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a port from 0 to 65535, or off, got '${text}'`);
  return integer(0, 65535)(text, name);
};

export const HOST: OptionSpec<string> = {
  flag: "host", env: "NUMBERS_HOST", default: "127.0.0.1", read: hostName,
  help: "address to listen on (0.0.0.0 opens it to the network)",
};
export const PORT: OptionSpec<number> = {
  flag: "port", env: "NUMBERS_PORT", default: "4000", read: integer(0, 65535),
  help: "TCP port; 0 picks a free one",
};

type Specs = Record<string, OptionSpec<unknown>>;
type Values<S extends Specs> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

export type Parsed<T> = { help: true } | { help: false; config: T; positionals: string[] };

/**
 * Reads the options in `specs` from `argv` (strict: unknown flags are errors) and `env`.
 * `positionals` says how many bare arguments the command takes.
 */
export function parseOptions<S extends Specs>(
  specs: S,
  argv: string[],
  env: Record<string, string | undefined>,
  positionals = 0,
): Parsed<Values<S>> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const spec of Object.values(specs)) {
    options[spec.flag] = { type: spec.switch ? "boolean" : "string", ...(spec.short ? { short: spec.short } : {}) };
  }
  let parsed;
  try {
    // allowNegative: a switch is turned off with --no-<flag>, so that a flag beats a twin that
    // turned it on (NUMBERS_RESUME=1 and --no-resume).
    parsed = parseArgs({ args: glueDashValues(specs, argv), options, strict: true, allowPositionals: true, tokens: true, allowNegative: true });
  } catch (err) {
    throw new UsageError(parseError(err as Error, argv, specs));
  }
  // Given twice, one of the two is a mistake: which one was meant is not for us to guess.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option") continue;
    if (token.rawName === "--no-help") throw new UsageError("unknown option '--no-help'");
    // -h and --help together ask for the help, once.
    if (seen.has(token.name) && token.name !== "help") {
      const short = Object.values(specs).find((spec) => spec.flag === token.name)?.short;
      throw new UsageError(`--${token.name}${short ? ` (-${short})` : ""} is given more than once`);
    }
    seen.add(token.name);
  }
  // Checked here, not by parseArgs (allowPositionals), whose message was Node's own; before
  // the help, so that `-h client` (a command after the flag) is not answered with the server's.
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals]}'`);
  }
  if (parsed.values.help) return { help: true };
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const raw = parsed.values[spec.flag];
    const flagValue = typeof raw === "boolean" ? String(raw) : raw;
    if (flagValue !== undefined) config[key] = spec.read(given(spec, flagValue, `--${spec.flag}`), `--${spec.flag}`);
    else if (env[spec.env] !== undefined) config[key] = spec.read(given(spec, env[spec.env]!, spec.env), spec.env);
    else config[key] = spec.read(spec.default, `--${spec.flag}`);
  }
  return { help: false, config: config as Values<S>, positionals: parsed.positionals };
}

/** A value given by flag or twin: empty only where the option says what that means. */
function given(spec: OptionSpec<unknown>, text: string, name: string): string {
  if (text === "" && !spec.empty) {
    const flag = spec.short ? `${name} (-${spec.short})` : name;
    throw new UsageError(name.startsWith("--") ? `${flag} must not be empty (leave it out for the default)` : `${name} is set but empty (unset it for the default)`);
  }
  return text;
}

/**
 * parseArgs' message for a refused argv, in one line. A flag followed by something that
 * starts with a dash (`--port --log x`, `--port -1`) it calls "ambiguous": said here as the
 * missing value (before another option) or the way to write such a value.
 */
function parseError(err: Error, argv: string[], specs: Specs): string {
  const ambiguous = /^Option '(-[^' ,]+)[^']*' argument is ambiguous/.exec(err.message);
  if (ambiguous) {
    const flag = ambiguous[1];
    const next = argv[argv.findIndex((a, i) => a === flag && argv[i + 1]?.startsWith("-")) + 1];
    const long = /use '(--[a-z-]+)=/.exec(err.message)?.[1] ?? flag;
    if (next.startsWith("--")) return `${flag} needs a value, got the option '${next}'`;
    return `${flag} ${next}: a value that starts with '-' is written ${long}=${next}`;
  }
  const missing = /^Option '(-[^' ,]+)[^']*' argument missing/.exec(err.message);
  if (missing) return `${missing[1]} needs a value`;
  // --help lists --version among the commands: it comes first, alone (commands.ts).
  if (/^Unknown option '(--version|-v)'/.test(err.message)) return "--version takes no other argument";
  // With positionals allowed, parseArgs adds how to pass one that starts with a dash: not
  // what a mistyped option needs.
  const unknown = /^Unknown option '([^']+)'/.exec(err.message);
  // parseArgs calls `--no-resume=1` unknown: a switch's negation that was given a value.
  const negated = /^--no-(.+)$/.exec(unknown?.[1] ?? "")?.[1];
  if (negated !== undefined && Object.values(specs).some((s) => s.switch && s.flag === negated)) return `Option '--no-${negated}' does not take an argument`;
  if (unknown) return `Unknown option '${unknown[1]}'`;
  // parseArgs explains some errors over several lines; the usage error stays one line.
  return err.message.split("\n").filter((l) => !l.startsWith("Did you forget")).join(" ");
}

/**
 * parseArgs (strict) refuses `--flag -x` as ambiguous; for the options whose value may
 * start with a dash, the flag and the next argument become one `--flag=value`.
 */
function glueDashValues(specs: Specs, argv: string[]): string[] {
  const names = new Set<string>();
  for (const s of Object.values(specs)) {
    if (!s.dashValue) continue;
    names.add(`--${s.flag}`);
    if (s.short) names.add(`-${s.short}`);
  }
  if (names.size === 0) return argv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") return [...out, ...argv.slice(i)];
    if (names.has(argv[i]) && i + 1 < argv.length) {
      const flag = argv[i].startsWith("--") ? argv[i] : `--${Object.values(specs).find((s) => `-${s.short}` === argv[i])!.flag}`;
      out.push(`${flag}=${argv[++i]}`);
    } else out.push(argv[i]);
  }
  return out;
}

/**
 * The option table for `--help`; an option with no default (an empty one) says `none`.
 * `plain` rows (a flag and what it does: `-h, --help`) follow, their text in the help column.
 */
export function describeOptions(specs: Specs, plain: [string, string][] = []): string {
  const rows = Object.values(specs).map((s) => [`${s.short ? `-${s.short}, ` : ""}--${s.switch ? `[no-]${s.flag}` : `${s.flag} <v>`}`, s.env, s.default || "none", s.help]);
  const widths = [0, 1, 2].map((c) => Math.max(...[...rows, ...plain.map(([flag]) => [flag, "", ""])].map((r) => r[c].length)));
  const helpColumn = widths[1] + 2 + "default ".length + widths[2] + 2;
  return [
    ...rows.map((r) => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  default ${r[2].padEnd(widths[2])}  ${r[3]}`),
    ...plain.map(([flag, text]) => `  ${flag.padEnd(widths[0])}  ${" ".repeat(helpColumn)}${text}`),
  ].join("\n");
}
