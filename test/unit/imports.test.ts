// The source's layers, read from its import statements (type-only ones too): no import
// cycle, and no file imports a higher layer: sys/ (libc through bun:ffi) at the bottom, then
// core/, then the shared helpers (output/, options.ts, procnet.ts, address.ts), then client/
// and server/ (which never import each other),
// then check/ (whose cases send with client/), then the entrypoint; bench/ may import anything
// and nothing imports it.

import { expect, test } from "bun:test";
import { Glob } from "bun";
import { dirname, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/** Every .ts file of src/ and bench/ and the repository files it imports (relative paths). */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of new Glob("{src,bench}/**/*.ts").scanSync(ROOT)) {
    const text = await Bun.file(resolve(ROOT, file)).text();
    // `import … from "./x"`, `export … from "./x"`, `import("./x")`, `import "./x"`, `require("./x")`.
    const specifiers = [...text.matchAll(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]);
    graph.set(file, specifiers.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s))));
  }
  return graph;
}

/** A file's layer: a file may import its own layer or lower ones. */
function layer(file: string): number {
  if (file.startsWith("bench/")) return 6;
  if (file.startsWith("src/sys/")) return 0;
  if (file.startsWith("src/core/")) return 1;
  if (file.startsWith("src/output/") || file === "src/options.ts" || file === "src/procnet.ts" || file === "src/address.ts") return 2;
  if (file.startsWith("src/client/") || file.startsWith("src/server/")) return 3;
  if (file.startsWith("src/check/")) return 4;
  if (file === "src/commands.ts" || file === "src/main.ts") return 5;
  throw new Error(`${file} has no layer here: add it to test/unit/imports.test.ts`);
}

test("every import names a file that exists", async () => {
  const missing: string[] = [];
  for (const [file, imports] of await importGraph()) {
    for (const target of imports) if (!(await Bun.file(resolve(ROOT, target)).exists())) missing.push(`${file} -> ${target}`);
  }
  expect(missing).toEqual([]);
});

test("no file imports a higher layer, and client/ and server/ never import each other", async () => {
  const graph = await importGraph();
  expect(graph.size).toBeGreaterThan(40);
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    // Data files (package.json) have no layer.
    for (const target of imports.filter((t) => t.endsWith(".ts"))) {
      const across = (file.startsWith("src/client/") && target.startsWith("src/server/")) || (file.startsWith("src/server/") && target.startsWith("src/client/"));
      if (layer(target) > layer(file) || across) wrong.push(`${file} -> ${target}`);
    }
  }
  expect(wrong).toEqual([]);
});

test("no import cycle", async () => {
  const graph = await importGraph();
  const cycles: string[] = [];
  // Depth-first search; a file met again while still on the path closes a cycle.
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === "open") cycles.push([...path.slice(path.indexOf(target)), target].join(" -> "));
      else if (!state.has(target)) visit(target);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  expect(cycles).toEqual([]);
});

test("the commands' table loads no module of the checker but its flag parser: the server does not carry the checker", () => {
  // In a process of its own: this one may have loaded the checker for other tests.
  const script = `await import(${JSON.stringify(resolve(ROOT, "src/commands.ts"))}); console.log(JSON.stringify(Object.keys(require.cache)))`;
  const run = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe" });
  expect(run.exitCode).toBe(0);
  const loaded: string[] = JSON.parse(run.stdout.toString()).map((path: string) => relative(ROOT, path));
  expect(loaded).toContain("src/commands.ts");
  expect(loaded.filter((path) => path.startsWith("src/check/")).sort()).toEqual(["src/check/config.ts"]);
});
