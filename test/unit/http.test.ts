// The metrics endpoint's HTTP/1.x (src/server/metrics/http.ts), in-process: heads with and
// without Host, as HTTP/1.0 and 1.1, cut into two chunks at every offset; malformed and
// oversized heads; and the bytes of a response.

import { describe, expect, test } from "bun:test";
import { formatResponse, MAX_HEAD_BYTES, mayDecide, parseHead } from "../../src/server/metrics/http.ts";

/** Feeds `head` as the endpoint does, in two chunks cut at `cut`: what each step parses to. */
function parseCut(head: string, cut: number) {
  return [parseHead(head.slice(0, cut)), parseHead(head)];
}

const SERVED: [string, { method: string; path: string }][] = [
  ["GET /metrics HTTP/1.0\r\n\r\n", { method: "GET", path: "/metrics" }],
  ["GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", { method: "GET", path: "/healthz" }],
  ["GET /healthz HTTP/1.1\r\nHost: \r\nUser-Agent: x\r\n\r\n", { method: "GET", path: "/healthz" }],
  ["HEAD /metrics HTTP/1.1\r\nhost: example\r\naccept: */*\r\n\r\n", { method: "HEAD", path: "/metrics" }],
  ["GET /metrics HTTP/1.0\n\n", { method: "GET", path: "/metrics" }],
  ["\r\nGET /metrics?x=1 HTTP/1.1\r\n\r\n", { method: "GET", path: "/metrics" }],
  ["GET http://127.0.0.1:9400/healthz HTTP/1.1\r\n\r\n", { method: "GET", path: "/healthz" }],
  ["POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", { method: "POST", path: "/metrics" }],
];

describe("a head with or without Host, cut at every offset, parses the same once whole", () => {
  test.each(SERVED)("%j", (head, expected) => {
    const end = head.indexOf("\n\n") >= 0 ? head.indexOf("\n\n") + 2 : head.lastIndexOf("\r\n\r\n") + 4;
    for (let cut = 0; cut < head.length; cut++) {
      const [first, whole] = parseCut(head, cut);
      // Before the empty line has arrived, there is nothing to answer yet.
      expect(first, `cut at ${cut}`).toEqual(cut < end ? { kind: "partial" } : { kind: "request", ...expected });
      expect(whole).toEqual({ kind: "request", ...expected });
    }
  });
});

test("malformed heads are 400; another major version is 505", () => {
  const bad = [
    "GET /metrics\r\n\r\n",
    "GET  /metrics HTTP/1.1\r\n\r\n",
    "GET /metrics HTTP/1.1 x\r\n\r\n",
    "G(T /metrics HTTP/1.1\r\n\r\n",
    "GET metrics HTTP/1.1\r\n\r\n",
    // The asterisk-form is for OPTIONS alone.
    "GET * HTTP/1.1\r\n\r\n",
    "GET /metrics HTTX/1.1\r\n\r\n",
    "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
    "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
    "GET /metrics HTTP/1.1\r\nbad name: x\r\n\r\n",
    "\x00\x01\x02\r\n\r\n",
    // A bare CR, refused at once rather than waited on until the deadline.
    "GET /healthz HTTP/1.1\r\r\r\r",
    "GET /healthz HTTP/1.1\rhost: x\r\n\r\n",
    // A control character in the target; before, 404.
    "GET /heal\x01thz HTTP/1.1\r\n\r\n",
    "GET /healthz\x00 HTTP/1.1\r\n\r\n",
    "GET /healthz\t HTTP/1.1\r\n\r\n",
    "GET /heal\x7fthz HTTP/1.1\r\n\r\n",
    // A control character in a field value (RFC 9110 5.5); before, served.
    "GET /healthz HTTP/1.1\r\nx: \x00\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nx:\x00\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nx: a\rb\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nx: \x7f\r\n\r\n",
  ];
  // A tab in a value is allowed, as is obs-text.
  expect(parseHead("GET /healthz HTTP/1.1\r\nx: a\tb \xe9\r\n\r\n")).toEqual({ kind: "request", method: "GET", path: "/healthz" });
  for (const head of bad) expect(parseHead(head), JSON.stringify(head)).toEqual({ kind: "refused", status: 400 });
  expect(parseHead("GET /metrics HTTP/2.0\r\n\r\n")).toEqual({ kind: "refused", status: 505 });
  // Before, 400 as well.
  expect(parseHead("OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n")).toEqual({ kind: "request", method: "OPTIONS", path: "*" });
  // A CR as the last byte received may yet be followed by its LF.
  expect(parseHead("GET /healthz HTTP/1.1\r")).toEqual({ kind: "partial" });
});

// Before, such a head waited for the empty line that ends a head, which a client speaking
// something else never sends: it held a slot until the 5 s deadline's 408.
test("a request line is judged once it has ended, and a method that cannot be one at once: 400 or 505 before the head's end", () => {
  const early: [string, number][] = [
    ["hello world\r\n", 400],
    ["terminate\n", 400],
    ["GET /metrics HTTP/3.0\r\n", 505],
    // A TLS ClientHello, and binary, refused on their first bytes.
    ["\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400],
    ["\x00", 400],
    [" GET", 400],
    // After blank lines, judged from the method's first char (before, from the buffer's).
    ["\r\n".repeat(9) + "\x16\x03\x01", 400],
  ];
  for (const [head, status] of early) expect(parseHead(head), JSON.stringify(head)).toEqual({ kind: "refused", status });
  // Lines that may yet make a head, and the start of one, wait for the rest.
  // Header lines are judged once the head has ended: judging each as it ended parsed the head
  // again at every line, a cost that grew with the square of its length.
  const waiting = ["GET", "GET ", "GET /metrics HTTP/1.1\r\n", "GET /metrics HTTP/1.1\r\nhost: x\r\n", "GET /metrics HTTP/1.1\r\nhost: x\r\n\r", "\r\n\r\nGET /", "GET /metrics HTTP/1.1\r\nno colon\r\n"];
  for (const head of waiting) expect(parseHead(head), JSON.stringify(head)).toEqual({ kind: "partial" });
});

test("a head over MAX_HEAD_BYTES is 431, whether or not it has ended; one just under is served", () => {
  const filler = (n: number) => `x-filler: ${"a".repeat(n)}\r\n`;
  const line = "GET /metrics HTTP/1.1\r\n";
  // With its empty line, exactly MAX_HEAD_BYTES.
  const fits = line + filler(MAX_HEAD_BYTES - line.length - 12 - 2);
  expect(`${fits}\r\n`.length).toBe(MAX_HEAD_BYTES);
  expect(parseHead(`${fits}\r\n`)).toEqual({ kind: "request", method: "GET", path: "/metrics" });
  expect(parseHead(`${fits}y: z\r\n\r\n`)).toEqual({ kind: "refused", status: 431 });
  expect(parseHead(line + filler(MAX_HEAD_BYTES))).toEqual({ kind: "refused", status: 431 });
  expect(parseHead("\r\n".repeat(MAX_HEAD_BYTES))).toEqual({ kind: "refused", status: 431 });
  expect(parseHead(line + filler(100))).toEqual({ kind: "partial" });
});

// The endpoint parses a head again only when mayDecide() says it may now be decided: that must
// never hide a decision parseHead() would make, whatever the pieces the head comes in.
test("mayDecide: true at every piece after which parseHead() decides a head that was partial before it", () => {
  const filler = (n: number) => `x-filler: ${"a".repeat(n)}\r\n`;
  const heads = [
    ...SERVED.map(([head]) => head),
    "GET /metrics\r\n\r\n",
    "GET /healthz HTTP/1.1\rhost: x\r\n\r\n",
    "GET /healthz HTTP/1.1\r\r\r\r",
    "\r\n\r\n\r\nGET /metrics HTTP/1.1\n\n",
    "\r\n\rX",
    "hello world\r\nmore",
    "GET /metrics HTTP/3.0\r\nhost: x",
    "GET /metrics HTTP/1.1\r\nno colon\r\nhost: x\r\n\r\n",
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "GET-GET\x00",
    "\r\n".repeat(9) + "\x16\x03\x01\n",
    "GET /metrics HTTP/1.1\r\n" + filler(MAX_HEAD_BYTES),
    "\r\n".repeat(MAX_HEAD_BYTES),
  ];
  let decisions = 0;
  for (const head of heads) {
    for (const size of [1, 2, 3, 5]) {
      let received = "";
      for (let at = 0; at < head.length; at += size) {
        const before = received.length;
        received += head.slice(at, at + size);
        if (parseHead(received).kind === "partial") continue;
        expect(mayDecide(received, before), `${JSON.stringify(head.slice(0, 40))} in pieces of ${size}, at ${at}`).toBe(true);
        decisions++;
        break;
      }
    }
  }
  // Every head above is decided, in every size of piece.
  expect(decisions).toBe(heads.length * 4);
});

// Before, each line's end (and the char after it) asked for a parse of the whole head: a head
// of ~8 KB of short header lines sent a byte at a time cost 5,457 parses, 1.7 s of CPU.
test("a head sent a byte at a time is parsed at a few points (its method's chars, its request line's end), not at each line", () => {
  const head = "GET /metrics HTTP/1.1\n" + "a:\n".repeat(2700);
  let received = "";
  let parses = 0;
  for (const ch of head) {
    const before = received.length;
    received += ch;
    if (mayDecide(received, before)) parses++;
  }
  expect(parses).toBeLessThan(20);
  expect(parseHead(received + "\n")).toEqual({ kind: "request", method: "GET", path: "/metrics" });
});

test("a response: status line, date, headers, connection: close; a HEAD's has no body", () => {
  const response = { status: 405, body: "method not allowed\n", headers: { allow: "GET, HEAD" } };
  const now = new Date(Date.UTC(2026, 11, 7, 18, 5, 9));
  const whole = "HTTP/1.1 405 Method Not Allowed\r\ndate: Mon, 07 Dec 2026 18:05:09 GMT\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 19\r\nconnection: close\r\nallow: GET, HEAD\r\n\r\n";
  expect(new TextDecoder().decode(formatResponse(response, false, now))).toBe(`${whole}method not allowed\n`);
  expect(new TextDecoder().decode(formatResponse(response, true, now))).toBe(whole);
  // content-length counts bytes, not characters.
  expect(new TextDecoder().decode(formatResponse({ status: 200, body: "é" }))).toContain("content-length: 2\r\n");
});
