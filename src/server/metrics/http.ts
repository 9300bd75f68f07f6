// The metrics endpoint's HTTP/1.x, pure: a request head parsed from the bytes received so
// far, and a response written out whole. Only what a scrape or a health check needs: the
// request line and well-formed header lines; no header is read (Host included: the path is
// all that matters), no body, and every response closes the connection (docs/edges.md).

/** A request head (request line, headers and the empty line) longer than this is refused with 431. */
export const MAX_HEAD_BYTES = 8192;

export type Head =
  /** The head is not complete yet: wait for more bytes. */
  | { kind: "partial" }
  | { kind: "request"; method: string; path: string }
  /** A head that cannot be served: answer `status` and close. */
  | { kind: "refused"; status: 400 | 431 | 505 };

/** RFC 9110 token characters, for the method and header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What no field value may hold (RFC 9110 5.5): a control character other than HTAB (NUL, a bare CR, DEL). */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
/** The start of a request line whose method may still be one: token chars, then a space or nothing (or a CR). */
const METHOD_SO_FAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |\r?$)/;
/** A method is judged within this many chars of the head's start: mayDecide() looks at each of them. */
const METHOD_CHARS = 16;

/**
 * Parses the head at the start of `received` (latin1: one char per byte). A line ends with
 * CRLF or a bare LF (RFC 9112 allows a server to accept LF alone); the head ends with an
 * empty line. Blank lines before the request line are skipped, as RFC 9112 asks. The request
 * line is judged as soon as it has ended, and its method within its first METHOD_CHARS chars:
 * a client speaking something else never sends the empty line (before, it waited for the
 * deadline). Header lines are judged once the head has ended.
 */
export function parseHead(received: string): Head {
  // A CR ends a line only before LF (RFC 9112): a bare one is refused now, not at the deadline.
  if (/\r(?!\n|$)/.test(received)) return refused(400);
  const start = received.search(/[^\r\n]/);
  if (start < 0) return received.length > MAX_HEAD_BYTES ? refused(431) : { kind: "partial" };
  const lineEnd = received.indexOf("\n", start);
  if (lineEnd < 0) {
    // A method that cannot be one (TLS, binary) is refused at its first bytes.
    if (!METHOD_SO_FAR.test(received.slice(start, start + METHOD_CHARS))) return refused(400);
    return received.length - start > MAX_HEAD_BYTES ? refused(431) : { kind: "partial" };
  }
  const request = requestOf(received.slice(start, lineEnd).replace(/\r$/, ""));
  if (request.kind === "refused") return request;
  const end = /\r?\n\r?\n/.exec(received.slice(start));
  if (end === null) return received.length - start > MAX_HEAD_BYTES ? refused(431) : { kind: "partial" };
  if (end.index + end[0].length > MAX_HEAD_BYTES) return refused(431);
  for (const line of received.slice(lineEnd + 1, start + end.index).split(/\r?\n/)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || CONTROL.test(line.slice(colon + 1))) return refused(400);
  }
  return request;
}

/** A request line (`METHOD target HTTP/1.x`) as a request, or refused. */
function requestOf(line: string): Head {
  const parts = line.split(" ");
  if (parts.length !== 3) return refused(400);
  const [method, target, version] = parts;
  const v = VERSION.exec(version);
  // A control character in the target (a tab too) is no target at all (RFC 9112 3.2): 400,
  // where it used to be taken as part of a path, 404.
  if (!TOKEN.test(method) || v === null || /[\x00-\x1f\x7f]/.test(target)) return refused(400);
  if (v[1] !== "1") return refused(505);
  // The asterisk-form (`OPTIONS *`, the server as a whole) is for OPTIONS alone (RFC 9112).
  const path = target === "*" && method === "OPTIONS" ? "*" : pathOf(target);
  if (path === undefined) return refused(400);
  return { kind: "request", method, path };
}

/**
 * Whether parseHead() may decide a head that was still partial at its first `before` chars,
 * now that it is `received`: only the size bound, a method char within METHOD_CHARS, the
 * request line's end, a bare CR or the head's end decide it, and the new chars (with the
 * three before them, for one that straddles) show the last two. A client that sends its head
 * a byte at a time then costs a look at each new byte, and a parse at these few points, not a
 * parse of all it has sent at each byte or each line (docs/experiments.md, 2026-12-07).
 */
export function mayDecide(received: string, before: number): boolean {
  if (received.length > MAX_HEAD_BYTES) return true;
  const start = received.search(/[^\r\n]/);
  if (start >= 0 && before - start < METHOD_CHARS) return true;
  // The first LF after the request line's start, found within its length: a request line
  // that ends now is judged now.
  if (start >= 0 && received.indexOf("\n", start) >= before) return true;
  return /\r(?!\n|$)|\n\r?\n/.test(received.slice(Math.max(0, before - 3)));
}

function refused(status: 400 | 431 | 505): Head {
  return { kind: "refused", status };
}

/** The path of an origin-form (`/metrics?x`) or absolute-form (`http://h/metrics`) target. */
function pathOf(target: string): string | undefined {
  let rest = target;
  if (!rest.startsWith("/")) {
    const m = /^https?:\/\/[^/?#]*/i.exec(rest);
    if (m === null) return undefined;
    rest = rest.slice(m[0].length) || "/";
    if (!rest.startsWith("/")) rest = `/${rest}`;
  }
  const cut = rest.search(/[?#]/);
  return cut < 0 ? rest : rest.slice(0, cut);
}

export const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

export interface Response {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * The bytes of a whole response; a HEAD's has the GET's headers and no body. Dated `now`, as
 * RFC 9110 6.6.1 asks of a server with a clock.
 */
export function formatResponse(r: Response, head = false, now = new Date()): Uint8Array {
  const body = Buffer.from(r.body, "utf8");
  const lines = [
    `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? "Unknown"}`,
    `date: ${now.toUTCString()}`,
    `content-type: ${r.contentType ?? "text/plain; charset=utf-8"}`,
    `content-length: ${body.length}`,
    "connection: close",
    ...Object.entries(r.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
  ];
  const headBytes = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return head ? headBytes : Buffer.concat([headBytes, body]);
}
