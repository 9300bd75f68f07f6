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
const VERSION = /^HTTP\/(\d)\.(\d)$/;
/** The start of a request line whose method may still be one: token chars, then a space or nothing (or a CR). */
const METHOD_SO_FAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |\r?$)/;
/** A method is judged within this many chars of the head's start: mayDecide() looks at each of them. */
const METHOD_CHARS = 16;

/**
 * Parses the head at the start of `received` (latin1: one char per byte). A line ends with
 * CRLF or a bare LF (RFC 9112 allows a server to accept LF alone); the head ends with an
 * empty line. Blank lines before the request line are skipped, as RFC 9112 asks. Each line is
 * judged once it has ended: a bad request line or header line is refused then, not after the
 * head's end that a client speaking something else never sends (it waited for the deadline).
 */
export function parseHead(received: string): Head {
  // A CR ends a line only before LF (RFC 9112): a bare one is refused now, not at the deadline.
  if (/\r(?!\n|$)/.test(received)) return refused(400);
  const start = received.search(/[^\r\n]/);
  if (start < 0) return received.length > MAX_HEAD_BYTES ? refused(431) : { kind: "partial" };
  const end = /\r?\n\r?\n/.exec(received.slice(start));
  const head = received.slice(start, end === null ? undefined : start + end.index);
  const lines = head.split(/\r?\n/);
  // Without the empty line, the last piece is a line still arriving.
  const ended = end === null ? lines.slice(0, -1) : lines;
  // A request line still arriving whose method cannot be one (TLS, binary) is refused at once,
  // judged on the head's first METHOD_CHARS chars (those mayDecide() looks at).
  if (ended.length === 0 && start < METHOD_CHARS && !METHOD_SO_FAR.test(received.slice(start, METHOD_CHARS))) return refused(400);
  const request = ended.length > 0 ? requestOf(ended[0]) : undefined;
  if (request !== undefined && request.kind === "refused") return request;
  for (const line of ended.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return refused(400);
  }
  if (end === null) return received.length - start > MAX_HEAD_BYTES ? refused(431) : { kind: "partial" };
  if (end.index + end[0].length > MAX_HEAD_BYTES) return refused(431);
  return request ?? refused(400);
}

/** A request line (`METHOD target HTTP/1.x`) as a request, or refused. */
function requestOf(line: string): Head {
  const parts = line.split(" ");
  if (parts.length !== 3) return refused(400);
  const [method, target, version] = parts;
  const v = VERSION.exec(version);
  if (!TOKEN.test(method) || v === null) return refused(400);
  if (v[1] !== "1") return refused(505);
  // The asterisk-form (`OPTIONS *`, the server as a whole) is for OPTIONS alone (RFC 9112).
  const path = target === "*" && method === "OPTIONS" ? "*" : pathOf(target);
  if (path === undefined) return refused(400);
  return { kind: "request", method, path };
}

/**
 * Whether parseHead() may decide a head that was still partial at its first `before` chars,
 * now that it is `received`: only the end of a line, a bare CR, the size bound or a method
 * that cannot be one decide it. The new chars (with the one before them, for a CR that
 * straddles) show the first two, and a method is judged within METHOD_CHARS. A
 * client that sends its head a byte at a time then costs a look at each new byte, and a parse
 * at each line's end, not a parse of all it has sent at each byte (docs/experiments.md,
 * 2026-12-07).
 */
export function mayDecide(received: string, before: number): boolean {
  if (received.length > MAX_HEAD_BYTES || before < METHOD_CHARS) return true;
  return /\r(?!\n|$)|\n/.test(received.slice(Math.max(0, before - 1)));
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

/** The bytes of a whole response; a HEAD's has the GET's headers and no body. */
export function formatResponse(r: Response, head = false): Uint8Array {
  const body = Buffer.from(r.body, "utf8");
  const lines = [
    `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? "Unknown"}`,
    `content-type: ${r.contentType ?? "text/plain; charset=utf-8"}`,
    `content-length: ${body.length}`,
    "connection: close",
    ...Object.entries(r.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
  ];
  const headBytes = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return head ? headBytes : Buffer.concat([headBytes, body]);
}
