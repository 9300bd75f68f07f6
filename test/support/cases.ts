// Hand-checked protocol examples, one per class of valid and invalid input. The engine
// test holds the engine to them and the fuzz test holds its reference model to them.

export interface ProtocolCase {
  name: string;
  /** One connection's bytes (the text encoded as UTF-8). */
  bytes: Uint8Array;
  /** Every line that counts, in order, duplicates included. */
  accepted: string[];
  verdict: "KEEP" | "CLOSE" | "TERMINATE";
  /** The byte that decides the verdict (the first bad byte, or terminate's LF); -1 for KEEP. */
  at: number;
}

function example(name: string, text: string, accepted: string[], verdict: ProtocolCase["verdict"], at = -1): ProtocolCase {
  return { name, bytes: new TextEncoder().encode(text), accepted, verdict, at };
}

const lines = (values: string[]) => values.map((v) => v + "\n").join("");

const EDGES = ["000000000", "000000001", "000000007", "000000008",
  "999999992", "999999993", "999999994", "999999995", "999999996", "999999997", "999999998", "999999999"];

export const CASES: ProtocolCase[] = [
  example("empty stream", "", [], "KEEP"),
  example("leading zeros are kept", "000000000\n007007009\n999999999\n", ["000000000", "007007009", "999999999"], "KEEP"),
  example("duplicates in one stream", "123456789\n000000001\n123456789\n123456789\n",
    ["123456789", "000000001", "123456789", "123456789"], "KEEP"),
  example("bitmap edges, each twice", lines(EDGES) + lines(EDGES), [...EDGES, ...EDGES], "KEEP"),
  example("unfinished last line is not counted", "111111111\n12345", ["111111111"], "KEEP"),
  example("nine digits still waiting for LF", "111111111\n123456789", ["111111111"], "KEEP"),
  example("terminate still waiting for LF", "111111111\nterminate", ["111111111"], "KEEP"),
  example("short line", "111111111\n12345678\n", ["111111111"], "CLOSE", 18),
  example("ten digits without LF", "1234567890", [], "CLOSE", 9),
  example("long line", "111111111\n1234567890\n", ["111111111"], "CLOSE", 19),
  example("empty line", "\n", [], "CLOSE", 0),
  example("empty line after a valid one", "111111111\n\n222222222\n", ["111111111"], "CLOSE", 10),
  example("non-digit in a partial line", "12a", [], "CLOSE", 2),
  example("slash, just below '0', in a partial line", "12/", [], "CLOSE", 2),
  example("colon, just above '9', in a partial line", "12:", [], "CLOSE", 2),
  example("slash and colon in a full line", "1/3456789\n12345678:\n", [], "CLOSE", 1),
  example("letter before LF", "12345678x\n", [], "CLOSE", 8),
  example("CRLF", "123456789\r\n", [], "CLOSE", 9),
  example("leading space", " 123456789\n", [], "CLOSE", 0),
  example("trailing space", "123456789 \n", [], "CLOSE", 9),
  example("plus sign", "+12345678\n", [], "CLOSE", 0),
  example("minus sign", "-12345678\n", [], "CLOSE", 0),
  example("NUL", "1234\u00005678\n", [], "CLOSE", 4),
  example("fullwidth digits", "１２３４５６７８９\n", [], "CLOSE", 0),
  example("one fullwidth digit at the end", "12345678１\n", [], "CLOSE", 8),
  example("Arabic-Indic digit", "١23456789\n", [], "CLOSE", 0),
  example("valid lines after a bad one do not count", "111111111\nabc\n222222222\n", ["111111111"], "CLOSE", 10),
  example("terminat", "terminat\n", [], "CLOSE", 8),
  example("terminatee", "terminatee", [], "CLOSE", 9),
  example("Terminate", "Terminate\n", [], "CLOSE", 0),
  example("terminate CRLF", "terminate\r\n", [], "CLOSE", 9),
  example("space terminate", " terminate\n", [], "CLOSE", 0),
  example("terminate space", "terminate \n", [], "CLOSE", 9),
  example("digit then terminate letters", "1erminate\n", [], "CLOSE", 1),
  example("letter then digits", "t23456789\n", [], "CLOSE", 1),
  example("terminate", "terminate\n", [], "TERMINATE", 9),
  example("terminate after lines, nothing after it counts", "111111111\n222222222\nterminate\n333333333\n",
    ["111111111", "222222222"], "TERMINATE", 29),
  example("terminate after a duplicate", "111111111\n111111111\nterminate\nxyz", ["111111111", "111111111"], "TERMINATE", 29),
];

/** One bad line of each class, for the tests against the real server: [name, bytes]. */
export const BAD_LINES: [string, string][] = [
  ["a short line", "12345678\n"],
  ["a long line", "1234567890\n"],
  ["an empty line", "\n"],
  ["a letter", "12345678x\n"],
  ["CRLF", "123456789\r\n"],
  ["a space", "1234 6789\n"],
  ["NUL", "1234\u00006789\n"],
  ["more than nine digits without LF", "1234567890123"],
];
