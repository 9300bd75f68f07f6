// The framing check sixteen bytes at a time: a WebAssembly SIMD function, assembled here
// from its instructions (no toolchain, no file), that finds the first 80-byte block (eight
// lines) of a run of whole lines holding a byte out of place. protocol.ts uses it for long
// runs and reads the failing block line by line, so a verdict stays exactly the per-line one.
// In-process it costs less than the word check, copy included; the main thread, which
// reads and frames every chunk, is what bounds dup and seq (docs/experiments.md, the framing
// check in WebAssembly). Where WebAssembly or its SIMD is missing, vectorCheck() gives
// undefined and protocol.ts keeps the word check.

/** protocol.ts's line length, restated: protocol.ts imports this file, not the reverse. */
const LINE_BYTES = 10;
/** Eight lines: the LF positions repeat every 80 bytes, five 16-byte vectors. */
export const BLOCK_BYTES = 80;
/** The module's memory: 2 pages of 64 KiB (a larger run is checked in pieces). */
const PAGES = 2;
/** The most bytes checked per call: whole blocks that fit the memory. */
export const CAPACITY = Math.floor((PAGES * 65536) / BLOCK_BYTES) * BLOCK_BYTES;

export interface VectorCheck {
  /**
   * The offset of the first 80-byte block of [start, end) (whole lines) that holds a byte
   * that is not a digit where a digit belongs or not LF where LF belongs; or, when every
   * whole block is clean, where the whole blocks end (the last < 8 lines are unchecked).
   */
  firstDirtyBlock(chunk: Uint8Array, start: number, end: number): number;
}

let instance: VectorCheck | null | undefined;

/** The check, made on first use in each thread; undefined where it cannot run. */
export function vectorCheck(): VectorCheck | undefined {
  if (instance === undefined) instance = load();
  return instance ?? undefined;
}

function load(): VectorCheck | null {
  try {
    const bytes = assemble();
    if (typeof WebAssembly === "undefined" || !WebAssembly.validate(bytes)) return null;
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports;
    const memory = new Uint8Array((exports.memory as WebAssembly.Memory).buffer);
    const check = exports.check as (len: number) => number;
    return {
      firstDirtyBlock(chunk, start, end) {
        // Each call checks a copy in the module's memory; a run longer than it, in pieces.
        for (let at = start; end - at >= BLOCK_BYTES; at += CAPACITY) {
          const len = Math.min(CAPACITY, end - at);
          memory.set(chunk.subarray(at, at + len), 0);
          const clean = check(len);
          if (clean < len - (len % BLOCK_BYTES)) return at + clean;
        }
        return start + Math.floor((end - start) / BLOCK_BYTES) * BLOCK_BYTES;
      },
    };
  } catch {
    return null;
  }
}

// The few opcodes used (WebAssembly core spec, binary format; SIMD ones after the 0xfd prefix).
const I32 = 0x7f, V128 = 0x7b, EMPTY = 0x40;
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, RETURN = 0x0f;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41;
const I32_EQZ = 0x45, I32_GE_U = 0x4f, I32_ADD = 0x6a, I32_MUL = 0x6c, I32_DIV_U = 0x6e;
const SIMD = 0xfd;
const V128_LOAD = 0x00, V128_CONST = 0x0c, I8X16_SPLAT = 0x0f, I8X16_EQ = 0x23, I8X16_LE_U = 0x2a;
const V128_AND = 0x4e, V128_BITSELECT = 0x52, I8X16_ALL_TRUE = 0x63, I8X16_SUB = 0x71;

/** Signed LEB128, for i32.const. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

/** Unsigned LEB128, for sizes, counts, indices and offsets. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? byte : byte | 0x80);
  } while (n !== 0);
  return out;
}

const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];

/**
 * `check(len) -> i32`: for the bytes [0, len) of memory, the offset of the first block with
 * a byte out of place, or len rounded down to whole blocks. Per 16-byte vector v of a block:
 * digit = (v - '0') <= 9 unsigned, lf = (v == LF), and the byte is right when it is lf where
 * this vector's mask has an LF position and digit elsewhere (bitselect); the block is clean
 * when every byte of the AND of its five vectors is.
 */
function checkBody(): number[] {
  const LEN = 0, AT = 1, END_AT = 2, ACC = 3, V = 4, ZERO = 5, NINE = 6, NEWLINE = 7;
  const get = (l: number) => [LOCAL_GET, l];
  const set = (l: number) => [LOCAL_SET, l];
  const i32 = (n: number) => [I32_CONST, ...sleb(n)];
  const simd = (op: number) => [SIMD, ...uleb(op)];
  const splat = (byte: number, local: number) => [...i32(byte), ...simd(I8X16_SPLAT), ...set(local)];
  const v128 = (bytes: number[]) => [...simd(V128_CONST), ...bytes];
  const code: number[] = [
    ...get(LEN), ...i32(BLOCK_BYTES), I32_DIV_U, ...i32(BLOCK_BYTES), I32_MUL, ...set(END_AT),
    ...splat(48, ZERO), ...splat(9, NINE), ...splat(LINE_BYTES, NEWLINE),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(AT), ...get(END_AT), I32_GE_U, BR_IF, 1,
    ...v128(new Array(16).fill(0xff)), ...set(ACC),
  ];
  for (let k = 0; k < BLOCK_BYTES / 16; k++) {
    // 0xff where this vector holds a line's LF (offsets 9, 19, ... 79 of the block).
    const mask = Array.from({ length: 16 }, (_, i) => ((16 * k + i) % LINE_BYTES === LINE_BYTES - 1 ? 0xff : 0));
    code.push(
      ...get(AT), ...simd(V128_LOAD), 0, ...uleb(16 * k), ...set(V),
      ...get(ACC),
      ...get(V), ...get(NEWLINE), ...simd(I8X16_EQ),
      ...get(V), ...get(ZERO), ...simd(I8X16_SUB), ...get(NINE), ...simd(I8X16_LE_U),
      ...v128(mask), ...simd(V128_BITSELECT),
      ...simd(V128_AND), ...set(ACC),
    );
  }
  code.push(
    ...get(ACC), ...simd(I8X16_ALL_TRUE), I32_EQZ, IF, EMPTY, ...get(AT), RETURN, END,
    ...get(AT), ...i32(BLOCK_BYTES), I32_ADD, ...set(AT),
    BR, 0, END, END,
    ...get(END_AT), END,
  );
  // Locals after the parameter: AT and END_AT (i32), then five v128.
  return [...vec([[2, I32], [5, V128]]), ...code];
}

/** The module: one function type, one function, one memory, both exported. */
export function assemble(): Uint8Array {
  const body = checkBody();
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32]]), ...vec([[I32]])]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...uleb(PAGES)]])),
    ...section(7, vec([[...name("memory"), 0x02, 0], [...name("check"), 0x00, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}
