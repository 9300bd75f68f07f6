// sendPayloads against an in-test listener that records every byte: what arrives is the
// payloads, once or repeated, and a repeated send ends on a line boundary.

import { expect, test } from "bun:test";
import { encodeLines } from "../../src/core/protocol.ts";
import { numbers } from "../../src/client/payload.ts";
import { sendPayloads } from "../../src/client/sender.ts";

/** Listens on a free port and keeps each connection's bytes; closes a connection on its FIN. */
function recorder() {
  const chunks: Uint8Array[][] = [];
  const listener = Bun.listen<Uint8Array[]>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = [];
        chunks.push(socket.data);
      },
      // Each data event gets a fresh buffer, so keeping it is safe.
      data(socket, chunk) {
        socket.data.push(chunk);
      },
    },
  });
  /** Each connection's bytes, in the order of the payloads (told apart by their first line). */
  const received = (): Uint8Array[] => chunks.map((c) => new Uint8Array(Buffer.concat(c))).sort((a, b) => a[5] - b[5]);
  return { port: listener.port, received, stop: () => listener.stop(true) };
}

const payloads = [0, 1].map((c) => encodeLines(numbers({ kind: "seq" }, 5000, c * 5000, 1)));

test("each payload arrives once, whole, on its own connection", async () => {
  const r = recorder();
  const result = await sendPayloads("127.0.0.1", r.port, payloads);
  expect(result.cutShort).toBe(0);
  expect(result.sentBytes).toBe(100_000);
  expect(r.received()).toEqual(payloads);
  r.stop();
});

test("with repeatUntil each payload repeats and the last pass ends on a line boundary", async () => {
  const r = recorder();
  const progress = { sentBytes: 0 };
  const result = await sendPayloads("127.0.0.1", r.port, payloads, progress, { seconds: 0.1, wholeFirst: true });
  expect(result.cutShort).toBe(0);
  expect(result.sentBytes).toBe(progress.sentBytes);
  const received = r.received();
  expect(received[0].length + received[1].length).toBe(result.sentBytes);
  received.forEach((bytes, c) => {
    expect(bytes.length % 10).toBe(0);
    expect(bytes.length).toBeGreaterThan(payloads[c].length);
    const payload = Buffer.from(payloads[c]);
    for (let at = 0; at < bytes.length; at += payload.length) {
      const pass = bytes.subarray(at, at + payload.length);
      expect(payload.subarray(0, pass.length).equals(pass)).toBe(true);
    }
  });
  r.stop();
});

test("with repeatUntil every payload is sent whole at least once, however soon the deadline", async () => {
  // A deadline already past: before, a connection that started after it sent nothing, and
  // one fast connection writing until the deadline could leave the others without a line.
  const r = recorder();
  const result = await sendPayloads("127.0.0.1", r.port, payloads, { sentBytes: 0 }, { seconds: 0, wholeFirst: true });
  expect(result.cutShort).toBe(0);
  expect(r.received()).toEqual(payloads);
  r.stop();
});

test("a connection the server resets at once counts no bytes and is cut short; the others are sent whole", async () => {
  // Resets the first connection as soon as it opens; records the others.
  const chunks: Uint8Array[] = [];
  let opened = 0;
  const listener = Bun.listen<null>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (socket) => void (opened++ === 0 && socket.terminate()),
      data: (_, chunk) => void chunks.push(chunk),
    },
  });
  try {
    const result = await sendPayloads("127.0.0.1", listener.port, [payloads[0], payloads[1], payloads[1]]);
    expect(result.cutShort).toBe(1);
    // Bun's write() on a closed socket returns -1: nothing sent, never a byte less.
    expect(result.sentBytes).toBe(2 * payloads[1].length);
    expect(Buffer.concat(chunks).length).toBe(2 * payloads[1].length);
  } finally {
    listener.stop(true);
  }
});

// Before, the time counted from the call, and connects that took longer than a short
// --duration left none to send in: the client said "sent 0 numbers".
test("the repeat's time counts from the first byte, not from the call: slow connects leave it whole", async () => {
  const r = recorder();
  const sending = sendPayloads("127.0.0.1", r.port, payloads, { sentBytes: 0 }, { seconds: 0.05, wholeFirst: false });
  // The connects complete while this spins: they take 200 ms, four times the repeat's time.
  const until = performance.now() + 200;
  while (performance.now() < until);
  const result = await sending;
  expect(result.sentBytes).toBeGreaterThan(0);
  expect(result.lastCloseAt - result.firstByteAt).toBeGreaterThanOrEqual(50);
  r.stop();
});

test("without wholeFirst a deadline already past sends nothing, and nothing counts as repeated", async () => {
  const r = recorder();
  const result = await sendPayloads("127.0.0.1", r.port, payloads, { sentBytes: 0 }, { seconds: 0, wholeFirst: false });
  expect(result).toMatchObject({ cutShort: 0, sentBytes: 0, repeated: false, answered: 0 });
  expect(r.received().map((b) => b.length)).toEqual([0, 0]);
  r.stop();
});

test("an abort resets every connection and rejects with its reason", async () => {
  // Accepts and never reads or closes: without the abort the send would wait for good.
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => socket.pause(), data() {} } });
  try {
    const abort = new AbortController();
    const sending = sendPayloads("127.0.0.1", listener.port, payloads, { sentBytes: 0 }, undefined, abort.signal);
    abort.abort(new Error("given up"));
    await expect(sending).rejects.toThrow("given up");
  } finally {
    listener.stop(true);
  }
});
