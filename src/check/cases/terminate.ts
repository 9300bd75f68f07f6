// Terminate cases: a whole `terminate` line disconnects every client and the process exits
// 0 promptly with the log flushed, even when the line arrives in pieces; `terminate` with
// CR LF or other bytes around it is an invalid line, not a terminate. Each case starts its
// own implementation, since a passing case ends it.

import { Peer } from "../peer.ts";
import { expectLog, fail, fresh, lines, pass, quiet, quote, stopWithTerminate, type Case, type Context } from "../scenario.ts";
import type { Target } from "../target.ts";

const WHY = "it stops the server and reads its exit code and log, which needs --spawn";

/** Sends `parts` (apart) after some numbers, with four idle clients around; checks the stop. */
async function terminateWith(ctx: Context, parts: string[]) {
  const target = await ctx.start();
  const idle: Peer[] = [];
  for (let i = 0; i < 4; i++) idle.push(await Peer.connect(target.host, target.port, ctx.timeoutMs));
  const numbers = fresh(5);
  const peer = await Peer.connect(target.host, target.port, ctx.timeoutMs);
  peer.write(lines(numbers) + parts[0]);
  for (const part of parts.slice(1)) {
    await quiet(30);
    peer.write(part);
  }
  const sent = `${quote(lines(numbers) + parts[0])}${parts.slice(1).map((p) => ` then ${quote(p)}`).join("")}`;
  const started = performance.now();
  const code = await target.exit(ctx.timeoutMs);
  const tookMs = performance.now() - started;
  const seconds = (tookMs / 1000).toFixed(2);
  // The exit and the clients' closes reach this process as separate events, in either order:
  // after an exit, each close gets the timeout to arrive before it counts as never closed.
  const peers = [...idle, peer];
  if (code !== null) await Promise.all(peers.map((p) => p.closedWithin(ctx.timeoutMs)));
  const open = peers.filter((p) => !p.ending).length;
  for (const p of peers) p.reset();
  if (code === null) return fail(`sent ${sent}; still running after ${ctx.timeoutMs} ms (${open} of 5 clients open)`);
  if (code !== 0) return fail(`sent ${sent}; exited with ${code}${target.stderrTail()}`);
  if (open > 0) return fail(`sent ${sent}; exited 0 but ${open} of 5 clients were never closed`);
  // "As fast as possible": before, a server that took 5 s passed (--timeout bounded it alone).
  if (tookMs > ctx.promptMs) return fail(`sent ${sent}; exited 0 only after ${seconds} s (--prompt ${ctx.promptMs / 1000} s)`);
  const v = expectLog(numbers)(target.readLog());
  return v.ok ? pass(`exit 0 in ${seconds} s`) : fail(`sent ${sent}; exited 0 but ${v.evidence}`);
}

/**
 * Sends each of `bad` on a client (and its half-close, with `halfClose`): each must be closed,
 * the server must keep running and counting.
 */
async function notTerminate(ctx: Context, bad: string[], halfClose = false) {
  const target: Target = await ctx.start();
  for (const b of bad) {
    const peer = await Peer.connect(target.host, target.port, ctx.timeoutMs);
    peer.write(b);
    if (halfClose) peer.end();
    const ending = await peer.closedWithin(ctx.timeoutMs);
    if (!target.running || (await target.exit(ctx.settleMs)) !== null) return fail(`sent ${quote(b)}; the server exited`);
    if (!ending) {
      peer.reset();
      return fail(`sent ${quote(b)}; the client was still open after ${ctx.timeoutMs} ms (an invalid line must close it)`);
    }
  }
  const numbers = fresh(2);
  const after = await Peer.connect(target.host, target.port, ctx.timeoutMs);
  after.write(lines(numbers));
  after.end();
  await after.closedWithin(ctx.timeoutMs);
  const note = await stopWithTerminate(target, ctx.timeoutMs);
  const v = expectLog(numbers)(target.readLog());
  if (!v.ok) return fail(`after ${bad.map((b) => quote(b)).join(", ")}: ${v.evidence}${note ? ` (${note})` : ""}`);
  return pass(`${bad.length} refused, still serving`);
}

export const TERMINATE_CASES: Case[] = [
  {
    name: "terminate/whole-line-stops",
    needs: "spawn",
    why: WHY,
    controls: true,
    run: (ctx) => terminateWith(ctx, ["terminate\n"]),
  },
  {
    name: "terminate/split-across-writes",
    needs: "spawn",
    why: WHY,
    controls: true,
    run: (ctx) => terminateWith(ctx, ["term", "inate", "\n"]),
  },
  {
    name: "terminate/crlf-is-not-terminate",
    needs: "spawn",
    why: WHY,
    controls: true,
    run: (ctx) => notTerminate(ctx, ["terminate\r\n"]),
  },
  {
    name: "terminate/trailing-bytes-is-not-terminate",
    needs: "spawn",
    why: WHY,
    controls: true,
    run: (ctx) => notTerminate(ctx, ["terminatex\n", "terminate \n", "terminate\0\n", "TERMINATE\n"]),
  },
  {
    // Before, a server that stopped on any line ending in `terminate` (a search for it in the
    // buffer) passed every case.
    name: "terminate/leading-bytes-is-not-terminate",
    needs: "spawn",
    why: WHY,
    controls: true,
    run: (ctx) => notTerminate(ctx, ["xterminate\n", " terminate\n", "123terminate\n", "000000001terminate\n"]),
  },
  {
    // Before, a server that took a last line without LF at the client's half-close (a line
    // reader at end of input) as `terminate` passed every case.
    name: "terminate/without-newline-at-half-close-is-not-terminate",
    needs: "spawn",
    why: WHY,
    controls: true,
    run: (ctx) => notTerminate(ctx, ["terminate"], true),
  },
];
