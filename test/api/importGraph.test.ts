import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const srcRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../src")

/** `import … from "x"`, `import "x"` and `export … from "x"`, but not `import type` (erased by the compiler). */
const RUNTIME_IMPORT = /^\s*(?:import(?!\s+type\b)(?:[\s\w{},*]*from)?|export(?!\s+type\b)[\s\w{},*]*from)\s*"([^"]+)"/gm

/** Every module specifier that loading `entry` loads, following the package's own relative imports. */
const runtimeImports = (entry: string): { readonly files: Set<string>; readonly packages: Set<string> } => {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (files.has(file)) return
    files.add(file)
    for (const [, specifier] of readFileSync(file, "utf8").matchAll(RUNTIME_IMPORT)) {
      if (specifier!.startsWith(".")) visit(join(dirname(file), specifier!.replace(/\.js$/, ".ts")))
      else if (!specifier!.startsWith("node:")) packages.add(specifier!)
    }
  }
  visit(entry)
  return { files, packages }
}

describe("what the package loads", () => {
  // Node loads a package's index with every module it re-exports: the
  // @effect/platform index alone costs about 190 ms and 23 MiB of heap, for
  // the one FileSystem service the endpoint reads certificates with.
  it("imports @effect/platform by module, never through its index", () => {
    const { files, packages } = runtimeImports(join(srcRoot, "index.ts"))
    expect(files.has(join(srcRoot, "internal/driver/resolveConfig.ts"))).toBe(true)
    expect(packages.has("@effect/platform/FileSystem")).toBe(true)
    for (const index of ["@effect/platform", "@effect/platform-node", "@effect/cli"]) expect(packages.has(index)).toBe(false)
  })

  it("recognizes the import forms it follows", () => {
    const source = [
      `import { A } from "pkg-a"`,
      `import * as B from "pkg-b"`,
      `import "pkg-c"`,
      `import type { D } from "pkg-d"`,
      `export * as E from "pkg-e"`,
      `export type { F } from "pkg-f"`,
      `import {`,
      `  G,`,
      `  type H`,
      `} from "pkg-g"`
    ].join("\n")
    expect([...source.matchAll(RUNTIME_IMPORT)].map((m) => m[1])).toEqual(["pkg-a", "pkg-b", "pkg-c", "pkg-e", "pkg-g"])
  })
})
