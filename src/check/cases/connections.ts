// Connection cases: a client connects; five are served at once; a sixth is closed (within
// --timeout) and none of its bytes count; a slot freed by a client that leaves is given to the next.
// Each case has a fresh server of its own, so that no other case's clients hold a slot.

import type { Peer } from "../peer.ts";
import { expectLog, fail, fresh, how, lines, logLines, pass, quiet, type Case, type Context } from "../scenario.ts";

/** Connects `n` clients, each sending one fresh number; returns them with their numbers. */
async function clients(ctx: Context, n: number): Promise<{ peers: Peer[]; numbers: string[] }> {
  const peers: Peer[] = [];
  const numbers = fresh(n);
  for (let i = 0; i < n; i++) {
    const peer = await ctx.connect();
    peer.write(lines([numbers[i]]));
    peers.push(peer);
  }
  return { peers, numbers };
}

/** Connects one more client, which sends a fresh number: whether it was kept open through --timeout. */
async function refused(ctx: Context): Promise<{ kept: boolean; number: string }> {
  const [number] = fresh(1);
  let peer: Peer;
  try {
    peer = await ctx.connect();
  } catch {
    return { kept: false, number }; // reset before Bun reported it open
  }
  peer.write(lines([number]));
  const kept = !(await peer.closedWithin(ctx.timeoutMs));
  peer.reset();
  return { kept, number };
}

/**
 * Connects `n` clients, each sending a fresh number, where slots have just been freed: the
 * server learns of a close on its own schedule, and may refuse a client it has no slot for
 * later than --settle. Until --timeout, a client closed is replaced, and the `n` must then
 * stay open together through one more --settle. `open` holds fewer than `n` when they never
 * did; `refused` the numbers of the closed ones, which must not count.
 */
async function keptOpen(ctx: Context, n: number): Promise<{ open: [Peer, string][]; refused: string[] }> {
  let open: [Peer, string][] = [];
  const refused: string[] = [];
  const deadline = performance.now() + ctx.timeoutMs;
  for (;;) {
    const added = n - open.length;
    for (const number of fresh(added)) {
      const peer = await ctx.connect().catch(() => undefined);
      peer?.write(lines([number]));
      if (peer) open.push([peer, number]);
      else refused.push(number);
    }
    await quiet(ctx.settleMs);
    for (const [p, number] of open.filter(([p]) => p.ending)) {
      p.reset();
      refused.push(number);
    }
    open = open.filter(([p]) => !p.ending);
    if ((open.length === n && added === 0) || performance.now() > deadline) return { open, refused };
  }
}

const closedOnes = (peers: Peer[]) => peers.map((p, i) => (p.ending ? `client ${i + 1} ${how(p)}` : "")).filter((s) => s);

export const CONNECTION_CASES: Case[] = [
  {
    name: "connections/accepts",
    needs: "socket",
    group: "connections/accepts",
    async run(ctx) {
      const { peers, numbers } = await clients(ctx, 1);
      await quiet(ctx.settleMs);
      const closed = closedOnes(peers);
      peers[0].end();
      if (closed.length) return fail(`sent ${numbers[0]}\\n; the connection was ${how(peers[0])}`);
      return expectLog(numbers);
    },
  },
  {
    name: "connections/five-at-once",
    needs: "socket",
    group: "connections/five-at-once",
    async run(ctx) {
      const { peers, numbers } = await clients(ctx, 5);
      await quiet(ctx.settleMs);
      const closed = closedOnes(peers);
      for (const p of peers) p.end();
      if (closed.length) return fail(`5 clients each sent a number; ${closed.join(", ")} within ${ctx.settleMs} ms`);
      return expectLog(numbers);
    },
  },
  {
    name: "connections/sixth-closed-not-counted",
    needs: "socket",
    group: "connections/sixth",
    async run(ctx) {
      const { peers, numbers } = await clients(ctx, 5);
      await quiet(ctx.settleMs);
      const early = closedOnes(peers);
      if (early.length) {
        for (const p of peers) p.reset();
        return fail(`5 clients each sent a number; ${early.join(", ")} before the sixth came`);
      }
      // The sixth: reset as it connected (before Bun reported it open, so nothing was sent), or
      // closed within --timeout, the five staying. Its number must not count either way.
      const its = fresh(1);
      const sixth = await ctx.connect().catch((err: Error) => err);
      let was: string; // what became of it, for the evidence
      if (sixth instanceof Error) was = `refused (${sixth.message})`;
      else {
        sixth.write(lines(its));
        // How long it was kept, for the note: the job says "at once", --timeout only bounds it.
        const connected = performance.now();
        const ending = await sixth.closedWithin(ctx.timeoutMs);
        const after = Math.round(performance.now() - connected);
        const later = closedOnes(peers);
        if (!ending || later.length) for (const p of [...peers, sixth]) p.reset();
        if (!ending) return fail(`with 5 clients connected a sixth sent ${its[0]}\\n and was still open after ${ctx.timeoutMs} ms`);
        if (later.length) return fail(`the sixth was ${how(sixth)}, but so was ${later.join(", ")}`);
        was = `${how(sixth)} after ${after} ms`;
        // "At once": before, a server that kept it 4 s passed (--timeout bounded it alone).
        if (after > ctx.promptMs) {
          for (const p of peers) p.reset();
          return fail(`with 5 clients connected a sixth was ${was}, not at once (--prompt ${ctx.promptMs / 1000} s)`);
        }
      }
      // And a seventh, the five still there: refusing the sixth freed no slot.
      const seventh = await refused(ctx);
      for (const p of peers) p.reset();
      if (seventh.kept) return fail(`with 5 clients connected the sixth was ${was}, but a seventh, which sent ${seventh.number}\\n, was still open after ${ctx.timeoutMs} ms`);
      const note = sixth instanceof Error ? `sixth refused: ${sixth.message}` : `sixth ${was}`;
      const check = expectLog(numbers, [...its, seventh.number]);
      return (log) => {
        const v = check(log);
        return v.ok ? pass(note) : fail(`5 clients each sent a number, the sixth ${sixth instanceof Error ? "" : `sent ${its[0]}\\n and `}was ${was}, a seventh sent ${seventh.number}\\n and was refused; ${v.evidence}`);
      };
    },
  },
  {
    name: "connections/slot-reused",
    needs: "socket",
    group: "connections/slot-reused",
    async run(ctx) {
      const { peers, numbers } = await clients(ctx, 5);
      await quiet(ctx.settleMs);
      peers[0].end();
      if (!(await peers[0].closedWithin(ctx.timeoutMs))) return fail("a client half-closed and the server never closed it");
      const next = await keptOpen(ctx, 1);
      if (next.open.length === 0) {
        for (const p of peers) p.reset();
        return fail(`after a client left, no new client stayed open through ${ctx.settleMs} ms within ${ctx.timeoutMs} ms (${next.refused.length} closed)`);
      }
      for (const p of [...peers, ...next.open.map(([p]) => p)]) p.end();
      return expectLog([...numbers, ...next.open.map(([, n]) => n)], next.refused);
    },
  },
  {
    name: "connections/slots-freed-by-resets",
    needs: "socket",
    group: "connections/resets",
    async run(ctx) {
      // A slot that leaks when its client resets (rather than half-closes) shows once five have:
      // five new clients are no longer all kept.
      const gone = await clients(ctx, 5);
      await quiet(ctx.settleMs);
      for (const p of gone.peers) p.reset();
      const next = await keptOpen(ctx, 5);
      if (next.open.length < 5) {
        for (const [p] of next.open) p.reset();
        return fail(`after 5 clients reset their connections, no 5 new clients stayed open together through ${ctx.settleMs} ms within ${ctx.timeoutMs} ms (${next.refused.length} closed)`);
      }
      for (const [p] of next.open) p.end();
      return expectLog(next.open.map(([, n]) => n), next.refused);
    },
  },
  {
    name: "connections/idle-client-kept",
    needs: "socket",
    group: "connections/idle",
    async run(ctx) {
      const peer = await ctx.connect();
      await quiet(ctx.settleMs);
      const ending = peer.ending;
      peer.end();
      return ending ? fail(`a client that sent nothing was ${how(peer)} within ${ctx.settleMs} ms`) : pass();
    },
  },
  {
    name: "connections/fifty-one-after-another",
    needs: "socket",
    group: "connections/sequential",
    async run(ctx) {
      // A slot that leaks on close shows as a refused client, whose number is not logged.
      const numbers = fresh(51);
      for (const [i, n] of numbers.entries()) {
        const peer = await ctx.connect();
        peer.write(lines([n]));
        peer.end();
        const ending = await peer.closedWithin(ctx.timeoutMs);
        if (!ending) return fail(`client ${i + 1} sent ${n}\\n and half-closed; not closed within ${ctx.timeoutMs} ms`);
      }
      return expectLog(numbers);
    },
  },
  {
    name: "connections/reset-client-does-not-disturb",
    needs: "socket",
    group: "connections/reset",
    async run(ctx) {
      const [kept, whole, torn, later] = fresh(4);
      const other = await ctx.connect();
      other.write(lines([kept]));
      const rude = await ctx.connect();
      rude.write(`${whole}\n${torn.slice(0, 4)}`);
      await quiet(ctx.settleMs);
      rude.reset();
      await quiet(ctx.settleMs);
      other.write(lines([later]));
      await quiet(ctx.settleMs);
      const ending = other.ending;
      other.end();
      if (ending) return fail(`another client reset its connection mid-line; this one was then ${how(other)}`);
      const check = expectLog([kept, whole, later]);
      return (log) => {
        const v = check(log);
        const tornLogged = logLines(log).lines.some((l) => l.startsWith(torn.slice(0, 4)) && l.length < 9);
        if (!v.ok) return fail(`a client sent ${whole}\\n and 4 bytes, then reset; ${v.evidence}`);
        return tornLogged ? fail("the reset client's unfinished line was logged") : pass();
      };
    },
  },
];
