import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { cachePath, sourceDigest, WRITE_CACHE_ENV } from "../../src/bin/support/runBundle.js"

const RUN_BUNDLE = new URL("../../src/bin/support/runBundle.ts", import.meta.url).pathname
const DIST_BIN = new URL("../../dist/bin/", import.meta.url).pathname

/** A bundle that reports what it was given, and a marker that tells one version of its code from another. */
const bundleSource = (marker: string): string =>
  `"use strict";
const report = {
  marker: ${JSON.stringify(marker)},
  dirname: __dirname,
  filename: __filename,
  sep: require("node:path").sep,
  exportsAreModuleExports: exports === module.exports,
  writeEnv: process.env.${WRITE_CACHE_ENV} ?? null
};
console.log(JSON.stringify(report));
`

interface Run {
  readonly use: string
  readonly report: Record<string, unknown>
}

/**
 * Runs `bundle` through runBundle in a new process, as dist/bin/NAME.js does,
 * with `args` after the script's path in `process.argv`.
 */
const run = (bundle: string, options: { readonly write?: boolean; readonly nodeArgs?: ReadonlyArray<string>; readonly args?: ReadonlyArray<string> } = {}) => {
  const script = `
    import { runBundle } from ${JSON.stringify(RUN_BUNDLE)}
    const use = runBundle(new URL(${JSON.stringify(pathToFileURL(bundle).href)}))
    process.stderr.write("cache:" + use + "\\n")
  `
  const env = { ...process.env }
  delete env[WRITE_CACHE_ENV]
  if (options.write === true) env[WRITE_CACHE_ENV] = "1"
  const child = spawnSync(
    process.execPath,
    [...(options.nodeArgs ?? []), "--import", "tsx", "--input-type=module", "-e", script, "--", bundle, ...(options.args ?? [])],
    { env, encoding: "utf8", timeout: 30_000 }
  )
  const use = /cache:(\w+)/.exec(child.stderr)?.[1]
  if (child.status !== 0 || use === undefined) throw new Error(`exit ${child.status}: ${child.stderr}`)
  return { use, stdout: child.stdout }
}

const runReporting = (bundle: string, options: Parameters<typeof run>[1] = {}): Run => {
  const { stdout, use } = run(bundle, options)
  return { use, report: JSON.parse(stdout.trim().split("\n").at(-1)!) }
}

describe("runBundle", () => {
  let dir: string
  let bundle: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-quic-run-bundle-"))
    bundle = path.join(dir, "command.cjs")
    fs.writeFileSync(bundle, bundleSource("first"))
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("runs the bundle as a CommonJS module, and writes a cache that starts with the bundle's SHA-256 when asked", () => {
    const written = runReporting(bundle, { write: true })
    expect(written).toEqual({
      use: "writing",
      report: {
        marker: "first",
        dirname: dir,
        filename: bundle,
        sep: path.sep,
        exportsAreModuleExports: true,
        // Taken out of the environment before the bundle runs, so the command's own children write nothing.
        writeEnv: null
      }
    })
    const cache = fs.readFileSync(cachePath(bundle))
    expect(cache.subarray(0, 32)).toEqual(sourceDigest(fs.readFileSync(bundle, "utf8")))
    expect(cache.length).toBeGreaterThan(32)
    expect(fs.readdirSync(dir).sort()).toEqual(["command.cjs", "command.v8cache"])
  }, 60_000)

  it("runs from the cache, and without one when there is none", () => {
    expect(runReporting(bundle).use).toBe("absent")
    runReporting(bundle, { write: true })
    const cached = runReporting(bundle)
    expect(cached.use).toBe("accepted")
    expect(cached.report.marker).toBe("first")
  }, 60_000)

  /** Writes the bundle's cache, lets `spoil` change something, then runs the bundle again. */
  const rerunAfter = (spoil: () => void, options: Parameters<typeof run>[1] = {}): Run => {
    runReporting(bundle, { write: true })
    spoil()
    return runReporting(bundle, options)
  }

  it("ignores a cache made from other code of the same length, which V8 alone would accept", () => {
    const after = rerunAfter(() => {
      const changed = bundleSource("other")
      expect(changed.length).toBe(bundleSource("first").length)
      fs.writeFileSync(bundle, changed)
    })
    expect(after.use).toBe("stale")
    expect(after.report.marker).toBe("other")
  }, 60_000)

  it("falls back to compiling when V8 refuses the cache (other V8 flags)", () => {
    const other = rerunAfter(() => {}, { nodeArgs: ["--no-lazy-feedback-allocation"] })
    expect(other.use).toBe("rejected")
    expect(other.report.marker).toBe("first")
  }, 60_000)

  it("ignores a truncated cache file", () => {
    const after = rerunAfter(() => fs.writeFileSync(cachePath(bundle), fs.readFileSync(cachePath(bundle)).subarray(0, 20)))
    expect(after.use).toBe("stale")
    expect(after.report.marker).toBe("first")
  }, 60_000)
})

describe("the built commands", () => {
  const commands = ["quic-perf", "quic-interop", "quic-netem"]

  it.each(commands)("%s has a cache made from its current bundle, which V8 accepts", (name) => {
    const bundle = path.join(DIST_BIN, `${name}.cjs`)
    const cache = fs.readFileSync(cachePath(bundle))
    expect(cache.subarray(0, 32)).toEqual(sourceDigest(fs.readFileSync(bundle, "utf8")))
    const { stdout, use } = run(bundle, { args: ["--version"] })
    expect(use).toBe("accepted")
    expect(stdout.trim()).toBe("0.1.0")
  }, 60_000)
})
