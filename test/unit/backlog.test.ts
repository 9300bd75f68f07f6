// The bounded line backlog (src/output/backlog.ts) against a fake pipe: order, the byte bound
// dropping the oldest lines, partial writes never splitting a line, and errors.

import { expect, test } from "bun:test";
import { LineBacklog, PIPE_BUF } from "../../src/output/backlog.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join("");

/** A pipe that takes at most `room` bytes until read, and at most `perWrite` per write. */
class FakePipe {
  readonly writes: Uint8Array[] = [];
  constructor(public room: number, private perWrite = Infinity) {}
  write = (data: Uint8Array): number => {
    const n = Math.min(data.length, this.room, this.perWrite);
    if (n > 0) this.writes.push(data.slice(0, n));
    this.room -= n;
    return n;
  };
  /** Everything written, as the reader would see it. */
  get text(): string {
    return text(this.writes);
  }
}

const line = (i: number) => bytes(`line ${String(i).padStart(4, "0")}\n`); // 10 bytes

test("lines are written in order, and drain says when all are out", () => {
  const backlog = new LineBacklog(1000);
  for (let i = 0; i < 5; i++) backlog.push(line(i));
  const pipe = new FakePipe(Infinity);
  expect(backlog.drain(pipe.write)).toBe(true);
  expect(pipe.text).toBe("line 0000\nline 0001\nline 0002\nline 0003\nline 0004\n");
  expect(backlog.length).toBe(0);
  expect(backlog.bytes).toBe(0);
});

test("a full pipe keeps the lines; they go out once it has room", () => {
  const backlog = new LineBacklog(1000);
  backlog.push(line(1));
  const pipe = new FakePipe(0);
  expect(backlog.drain(pipe.write)).toBe(false);
  expect(backlog.length).toBe(1);
  backlog.push(line(2));
  pipe.room = Infinity;
  expect(backlog.drain(pipe.write)).toBe(true);
  expect(pipe.text).toBe("line 0001\nline 0002\n");
});

test("beyond the bound the oldest lines are dropped and counted; the newest are kept in order", () => {
  const backlog = new LineBacklog(50); // five 10-byte lines
  const dropped = [];
  for (let i = 0; i < 12; i++) dropped.push(backlog.push(line(i)));
  expect(dropped).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
  expect(backlog.dropped).toBe(7);
  expect(backlog.bytes).toBe(50);
  const pipe = new FakePipe(Infinity);
  backlog.drain(pipe.write);
  expect(pipe.text).toBe("line 0007\nline 0008\nline 0009\nline 0010\nline 0011\n");
});

test("a line bigger than the bound is kept alone", () => {
  const backlog = new LineBacklog(50);
  backlog.push(line(0));
  expect(backlog.push(bytes("x".repeat(99) + "\n"))).toBe(1);
  expect(backlog.length).toBe(1);
  expect(backlog.bytes).toBe(100);
});

test("partial writes never split a line: a partly written line is finished, not dropped", () => {
  const backlog = new LineBacklog(30);
  backlog.push(line(0));
  backlog.push(line(1));
  const pipe = new FakePipe(4); // takes "line" of line 0, then is full
  expect(backlog.drain(pipe.write)).toBe(false);
  // Overflow while line 0 is half out (6 bytes left): lines 1 to 5 go, line 0's rest stays.
  for (let i = 2; i < 8; i++) backlog.push(line(i));
  expect(backlog.dropped).toBe(5);
  expect(backlog.bytes).toBe(26);
  pipe.room = Infinity;
  expect(backlog.drain(pipe.write)).toBe(true);
  expect(pipe.text).toBe("line 0000\nline 0006\nline 0007\n");
});

test("a writer taking a few bytes at a time gets every byte once, in order", () => {
  const backlog = new LineBacklog(1000);
  for (let i = 0; i < 20; i++) backlog.push(line(i));
  const pipe = new FakePipe(Infinity, 7);
  expect(backlog.drain(pipe.write)).toBe(true);
  expect(pipe.text).toBe(Array.from({ length: 20 }, (_, i) => text([line(i)])).join(""));
});

test("writes are batched up to PIPE_BUF, which a pipe takes whole or not at all", () => {
  const backlog = new LineBacklog(64 * 1024);
  for (let i = 0; i < 1000; i++) backlog.push(line(i));
  backlog.push(bytes("y".repeat(PIPE_BUF + 99) + "\n"));
  const pipe = new FakePipe(Infinity);
  expect(backlog.drain(pipe.write)).toBe(true);
  const sizes = pipe.writes.map((w) => w.length);
  expect(sizes.slice(0, -1).every((n) => n <= PIPE_BUF && n % 10 === 0)).toBe(true);
  expect(sizes.at(-1)).toBe(PIPE_BUF + 100); // a longer line goes alone
  expect(sizes.length).toBeLessThan(10);
});

test("a write error propagates and leaves the lines queued", () => {
  const backlog = new LineBacklog(1000);
  backlog.push(line(0));
  expect(() =>
    backlog.drain(() => {
      throw Object.assign(new Error("broken pipe"), { code: "EPIPE" });
    }),
  ).toThrow("broken pipe");
  expect(backlog.length).toBe(1);
  backlog.clear();
  expect(backlog.length).toBe(0);
  expect(backlog.bytes).toBe(0);
});
