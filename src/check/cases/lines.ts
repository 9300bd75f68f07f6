// Line cases: valid lines keep the connection and count as sent (leading zeros too); every
// kind of invalid input closes that client, its valid lines before the bad one count and
// nothing after; a line split across writes is one line; many lines in one write; a client's
// half-close. They share one server, each with numbers no other case sends, and the log they
// leave is checked whole at the end; leading zeros have a server of their own.

import { expectLog, fail, fresh, how, lines, logLines, pass, quiet, quote, skip, type Case, type LogCheck } from "../scenario.ts";

const GROUP = "lines";

/** A bad line of each kind (without the client's valid lines around it). */
const INVALID: [string, string][] = [
  ["short", "12345678\n"],
  ["long", "1234567890\n"],
  ["letter", "12345678a\n"],
  ["plus-sign", "+12345678\n"],
  ["minus-sign", "-12345678\n"],
  ["leading-space", " 12345678\n"],
  ["inner-space", "1234 5678\n"],
  ["trailing-space", "123456789 \n"],
  ["tab", "12345678\t\n"],
  ["crlf", "123456789\r\n"],
  ["cr", "12345678\r"],
  ["empty", "\n"],
  ["nul", "12345678\0\n"],
  // U+0663 ARABIC-INDIC DIGIT THREE, in UTF-8: a digit to Unicode, not to the job.
  ["non-ascii-digit", Buffer.from("12345678\u0663\n", "utf8").toString("latin1")],
  // Nine of them: a server that parses with its language's int() takes them (Python does).
  ["non-ascii-digits", Buffer.from("\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\n", "utf8").toString("latin1")],
  // Nine digits after a blank: a server that strips blanks before it counts the digits takes
  // them (the eight digits of leading-space fail on their length alone).
  ["space-then-nine", " 123456789\n"],
  ["tab-then-nine", "\t123456789\n"],
  ["nine-then-tab", "123456789\t\n"],
  // Python's int() takes an underscore between digits.
  ["underscore", "1234_5678\n"],
  ["high-byte", "12345678\xff\n"],
  // More digits than any reasonable read buffer, then LF.
  ["overlong", `${"7".repeat(4 << 20)}\n`],
];

function invalidCase([kind, bad]: [string, string]): Case {
  return {
    name: `lines/invalid/${kind}`,
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const [before, after] = fresh(2);
      const peer = await ctx.connect();
      const sent = `${before}\n${bad}${after}\n`;
      peer.write(sent);
      const ending = await peer.closedWithin(ctx.timeoutMs);
      if (!ending) {
        peer.reset();
        return fail(`sent ${quote(sent)} in one write; the connection was still open after ${ctx.timeoutMs} ms`);
      }
      const check = expectLog([before], [after]);
      return (log) => {
        const v = check(log);
        return v.ok ? pass(how(peer)) : fail(`sent ${quote(sent)} in one write, ${how(peer)}; ${v.evidence}`);
      };
    },
  };
}

/** Writes `parts` one by one, far enough apart that the server reads them apart. */
async function writeApart(peer: { write(s: string): void }, parts: string[], gapMs: number) {
  for (const [i, part] of parts.entries()) {
    if (i > 0) await quiet(gapMs);
    peer.write(part);
  }
}

export const LINE_CASES: Case[] = [
  {
    name: "lines/valid-keeps-connection",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const numbers = fresh(3);
      const peer = await ctx.connect();
      peer.write(lines(numbers));
      await quiet(ctx.settleMs);
      const ending = peer.ending;
      peer.end();
      if (ending) return fail(`sent ${quote(lines(numbers))}; the connection was ${how(peer)}`);
      return expectLog(numbers);
    },
  },
  ...INVALID.map(invalidCase),
  {
    name: "lines/invalid-in-a-later-write",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const [first, after] = fresh(2);
      const peer = await ctx.connect();
      peer.write(lines([first]));
      await quiet(ctx.settleMs);
      if (peer.ending) return fail(`sent ${first}\\n; the connection was ${how(peer)}`);
      // The bad byte completes a line begun in the write before.
      peer.write("1234");
      await quiet(50);
      peer.write(`5x789\n${after}\n`);
      const ending = await peer.closedWithin(ctx.timeoutMs);
      if (!ending) {
        peer.reset();
        return fail(`sent "1234" then "5x789\\n${after}\\n"; still open after ${ctx.timeoutMs} ms`);
      }
      return expectLog([first], [after]);
    },
  },
  {
    name: "lines/invalid-leaves-other-clients",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const [a, b] = fresh(2);
      const good = await ctx.connect();
      good.write(lines([a]));
      const bad = await ctx.connect();
      bad.write("oops\n");
      await bad.closedWithin(ctx.timeoutMs);
      good.write(lines([b]));
      await quiet(ctx.settleMs);
      const ending = good.ending;
      good.end();
      if (!bad.ending) return fail(`sent "oops\\n"; that client was still open after ${ctx.timeoutMs} ms`);
      if (ending) return fail(`another client sent "oops\\n" and was closed; this one was ${how(good)} too`);
      return expectLog([a, b]);
    },
  },
  {
    name: "lines/invalid-is-reset",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const peer = await ctx.connect();
      peer.write("12345678x\n");
      const sent = performance.now();
      const ending = await peer.closedWithin(ctx.timeoutMs);
      if (!ending) return fail(`sent "12345678x\\n"; still open after ${ctx.timeoutMs} ms`);
      const after = Math.round(performance.now() - sent);
      // "At once": before, a server that closed it 4 s later passed (--timeout bounded it alone).
      if (after > ctx.promptMs) return fail(`sent "12345678x\\n"; closed after ${after} ms, not at once (--prompt ${ctx.promptMs / 1000} s)`);
      return ending.how === "reset" ? pass(`in ${after} ms`) : fail(`sent "12345678x\\n"; the client saw ${ending.how}, not ECONNRESET`);
    },
  },
  {
    // Before, every bad line ended in LF: a server that judged a line only at its LF (and
    // kept what came before without bound) passed.
    name: "lines/invalid-without-newline",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const [before] = fresh(1);
      const peer = await ctx.connect();
      peer.write(`${before}\n12x`);
      const ending = await peer.closedWithin(ctx.timeoutMs);
      if (!ending) {
        peer.reset();
        return fail(`sent "${before}\\n12x" and nothing more; still open after ${ctx.timeoutMs} ms (a line that cannot become valid is invalid at once)`);
      }
      return expectLog([before]);
    },
  },
  {
    name: "lines/split-at-every-offset",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const numbers = fresh(9);
      const peer = await ctx.connect();
      for (let at = 1; at <= 9; at++) {
        const line = `${numbers[at - 1]}\n`;
        await writeApart(peer, [line.slice(0, at), line.slice(at)], 20);
        await quiet(20);
      }
      await quiet(ctx.settleMs);
      const ending = peer.ending;
      peer.end();
      if (ending) return fail(`9 lines, each in two writes split after byte 1..9; the connection was ${how(peer)}`);
      return expectLog(numbers);
    },
  },
  {
    name: "lines/byte-at-a-time",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const numbers = fresh(1);
      const peer = await ctx.connect();
      await writeApart(peer, [...`${numbers[0]}\n`], 15);
      await quiet(ctx.settleMs);
      const ending = peer.ending;
      peer.end();
      if (ending) return fail(`${numbers[0]}\\n sent one byte per write; the connection was ${how(peer)}`);
      return expectLog(numbers);
    },
  },
  {
    name: "lines/many-in-one-write",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const numbers = fresh(100_000);
      const peer = await ctx.connect();
      peer.write(lines(numbers));
      await peer.drained(ctx.timeoutMs);
      await quiet(ctx.settleMs);
      const ending = peer.ending;
      peer.end();
      if (ending) return fail(`100000 lines (1 MB) in one write; the connection was ${how(peer)}`);
      return expectLog(numbers);
    },
  },
  {
    name: "lines/half-close-counts",
    needs: "socket",
    group: GROUP,
    async run(ctx) {
      const numbers = fresh(3);
      // Nine digits, all a number needs but its LF: a reader that takes a last line without
      // one (as a line reader at end of input does) logs it; five digits could not tell.
      const partial = fresh(1)[0];
      const peer = await ctx.connect();
      peer.write(`${lines(numbers)}${partial}`);
      peer.end();
      const ending = await peer.closedWithin(ctx.timeoutMs);
      if (!ending) return fail(`sent 3 lines and half-closed; not closed by the server within ${ctx.timeoutMs} ms`);
      const check = expectLog(numbers);
      return (log): ReturnType<LogCheck> => {
        const v = check(log);
        const torn = logLines(log).lines.filter((l) => l === partial);
        if (!v.ok) return fail(`sent 3 lines, ${partial} without LF, half-closed; ${v.evidence}`);
        return torn.length ? fail(`the unfinished line ${partial} (no LF before the half-close) was logged`) : pass();
      };
    },
  },
  {
    name: "log/only-whole-lines",
    needs: "spawn",
    why: "the log is read only with --spawn",
    group: GROUP,
    // After every case above: nothing torn, nothing but nine digits and LF, nothing twice.
    async run() {
      return (log) => {
        const { lines: all, rest } = logLines(log);
        const bad = all.filter((l) => !/^\d{9}$/.test(l));
        const seen = new Set<string>();
        const twice = all.filter((l) => seen.size === seen.add(l).size);
        if (rest !== "") return fail(`the log ends with a torn line ${quote(rest)}`);
        if (bad.length) return fail(`${bad.length} lines are not nine digits: ${bad.slice(0, 3).map((l) => quote(l)).join(", ")}`);
        if (twice.length) return fail(`${twice.length} numbers logged twice: ${twice.slice(0, 3).join(", ")}`);
        // Alone (-k), no case before it has sent a line.
        if (all.length === 0) return skip("the log is empty: this case checks what the line cases before it sent");
        return pass(`${all.length} lines`);
      };
    },
  },
  {
    name: "lines/leading-zeros-kept",
    needs: "spawn",
    why: "the log is read only with --spawn",
    // Its own server: a log that drops the zeros fails here, not also log/only-whole-lines.
    group: "lines/zeros",
    async run(ctx) {
      // Numbers no other case sends (they start at 100000000).
      const numbers = ["000000000", "000000007", "000012345", "001002003", "099999999"];
      const peer = await ctx.connect();
      peer.write(lines(numbers));
      peer.end();
      await peer.closedWithin(ctx.timeoutMs);
      const check = expectLog(numbers);
      return (log) => {
        const v = check(log);
        if (v.ok) return v;
        const near = logLines(log).lines.filter((l) => numbers.some((n) => Number(n) === Number(l) && n !== l));
        return fail(`${v.evidence}${near.length ? `; logged instead: ${near.map((l) => quote(l)).join(", ")}` : ""}`);
      };
    },
  },
];
