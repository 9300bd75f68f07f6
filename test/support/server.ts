// Spawns the real server for integration tests: from source, or the compiled executable
// when NUMBERS_SERVER_BIN points at it. Waits for the readiness line, never for time.

import type { Subprocess } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

/** The argv prefix that runs the numbers-server executable (without a command). */
export function serverCommand(): string[] {
  const bin = process.env.NUMBERS_SERVER_BIN;
  return bin ? [resolve(bin)] : [process.execPath, MAIN];
}

/**
 * Every temp dir of this test process, logs of up to ~50 MB included, is made under one
 * root, which test/support/cleanup.ts removes after the run: the suite leaves nothing in /tmp.
 */
export const TEMP_ROOT = mkdtempSync(join(tmpdir(), "numbers-test-"));

export function tempDir(): string {
  return mkdtempSync(join(TEMP_ROOT, "t-"));
}

/** How long a child's output may take to end after the child's exit (see Lines). */
const EXIT_GRACE_MS = 5000;

/** Reads a stream line by line; `next()` resolves with the next line, or null at EOF. */
export class Lines {
  private buffered: string[] = [];
  private waiters: ((line: string | null) => void)[] = [];
  private ended = false;
  readonly all: string[] = [];
  /** Everything read so far, lines and any unterminated rest. */
  text = "";

  /**
   * `exited`, for a child's stdout or stderr: the child's exit. Bun now and then never reports
   * the end of a child's output socket although the child has exited and every byte it wrote
   * was delivered (the read end's peer closed, nothing queued: `ss -xp`); the stream, and a
   * test waiting for its end, then waited for good (docs/testing.md). Once the child is gone
   * nothing more can come: the stream is given EXIT_GRACE_MS to deliver what is left and its
   * end, then ends. (A last chunk that Bun never delivers is still missing: the test fails,
   * at once rather than at its timeout.)
   */
  constructor(stream: ReadableStream<Uint8Array>, exited?: Promise<unknown>) {
    void this.pump(stream);
    void exited?.then(() => setTimeout(() => this.end(), EXIT_GRACE_MS).unref());
  }

  private end() {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(null);
  }

  private async pump(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      // A reader, not `for await` over the stream: that stopped delivering now and then, the
      // readiness line or the end never coming (docs/testing.md, 2026-12-07).
      const reader = stream.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        const chunk = r.value;
        const s = decoder.decode(chunk, { stream: true });
        this.text += s;
        rest += s;
        let nl;
        while ((nl = rest.indexOf("\n")) >= 0) {
          this.push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      }
    } catch (err) {
      // A read that fails (Bun surfaces a socketpair's errors) ends the stream here, said in
      // the text, where it used to leave every waiter, and the test, waiting for good.
      this.text += `\n[reading failed: ${(err as Error).message}]`;
    } finally {
      this.end();
    }
  }

  private push(line: string) {
    if (this.ended) return;
    this.all.push(line);
    const w = this.waiters.shift();
    if (w) w(line);
    else this.buffered.push(line);
  }

  next(): Promise<string | null> {
    if (this.buffered.length > 0) return Promise.resolve(this.buffered.shift()!);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface Spawned {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  stdout: Lines;
  stderr: Lines;
  exited: Promise<number>;
  /** Lets a server parked by NUMBERS_TEST_PARK go on (a line on its stdin). */
  proceed(): void;
}

/**
 * Spawns `numbers-server <args>` in `cwd`; its stdin is a pipe, read only by a test park.
 * `env` adds to this process's environment; a variable given as undefined is left out.
 */
export function spawnServer(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Spawned {
  const env = Object.fromEntries(Object.entries({ ...process.env, ...options.env }).filter(([, v]) => v !== undefined));
  const proc = Bun.spawn([...serverCommand(), ...args], {
    cwd: options.cwd ?? tempDir(),
    env,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const proceed = () => {
    proc.stdin.write("go\n");
    void proc.stdin.flush();
  };
  return { proc, stdout: new Lines(proc.stdout, proc.exited), stderr: new Lines(proc.stderr, proc.exited), exited: proc.exited, proceed };
}

export interface Server extends Spawned {
  port: number;
  dir: string;
  log: string;
}

/**
 * Starts `numbers-server serve --port 0 <args>` in a fresh temp dir (or `dir`) and resolves
 * once it prints its readiness line.
 */
export async function startServer(args: string[] = [], options: { dir?: string; env?: Record<string, string | undefined> } = {}): Promise<Server> {
  const dir = options.dir ?? tempDir();
  const spawned = spawnServer(["serve", "--port", "0", ...args], { cwd: dir, env: options.env });
  const line = await spawned.stderr.next();
  const m = line && /^listening on (.+):(\d+)$/.exec(line);
  if (!m) {
    spawned.proc.kill();
    throw new Error(`server did not start: ${line ?? "(no output)"} ${spawned.stderr.text}`);
  }
  return { ...spawned, port: Number(m[2]), dir, log: join(dir, "numbers.log") };
}
