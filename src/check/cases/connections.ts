// Connection cases: a client connects; five are served at once; a sixth is closed at once
// and none of its bytes count; a slot freed by a client that leaves is given to the next.
// Each case has a fresh server of its own, so that no other case's clients hold a slot.

import type { Peer } from "../peer.ts";
import { expectLog, fail, fresh, how, lines, pass, quiet, type Case, type Context } from "../scenario.ts";

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
      const its = fresh(1);
      let sixth: Peer;
      try {
        sixth = await ctx.connect();
      } catch (err) {
        // Reset before Bun reported the connection open: closed at once, nothing sent.
        for (const p of peers) p.reset();
        return pass(`sixth refused: ${(err as Error).message}`);
      }
      sixth.write(lines(its));
      const ending = await sixth.closedWithin(ctx.timeoutMs);
      const later = closedOnes(peers);
      for (const p of [...peers, sixth]) p.reset();
      if (!ending) return fail(`with 5 clients connected a sixth sent ${its[0]}\\n and was still open after ${ctx.timeoutMs} ms`);
      if (later.length) return fail(`the sixth was ${how(sixth)}, but so was ${later.join(", ")}`);
      const check = expectLog(numbers, its);
      return (log) => {
        const v = check(log);
        return v.ok ? pass(`sixth ${how(sixth)}`) : fail(`the sixth sent ${its[0]}\\n and was ${how(sixth)}; ${v.evidence}`);
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
      // The server learns of the close on its own schedule: try again until a client is kept.
      const deadline = performance.now() + ctx.timeoutMs;
      const its = fresh(1);
      let tries = 0;
      for (;;) {
        tries++;
        const next = await ctx.connect().catch(() => undefined);
        next?.write(lines(its));
        await quiet(ctx.settleMs);
        if (next && !next.ending) {
          for (const p of [...peers, next]) p.end();
          return expectLog([...numbers, ...its]);
        }
        if (performance.now() > deadline) {
          for (const p of peers) p.reset();
          return fail(`after a client left, ${tries} new clients were each ${next ? how(next) : "refused"} within ${ctx.timeoutMs} ms`);
        }
      }
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
];
