/**
 * Runs a command's CommonJS bundle (dist/bin/NAME.cjs) with V8's code cache
 * (dist/bin/NAME.v8cache), the way each dist/bin/NAME.js starts its command.
 *
 * Why: V8 compiles a function the first time it runs, and a fresh
 * `quic-perf` spent most of its first 0.3 s parsing and compiling the
 * bundle; most of its first handshake, 20 ms against quic-go's 2 ms, too.
 * Node 20 has no compile cache of its own (`module.enableCompileCache` came
 * in Node 22), so the build runs each command once and keeps the bytecode V8
 * made (`createCachedData` after a run includes every function compiled on
 * the way); later runs start from it (BENCHMARKS.md, session 10).
 *
 * V8 checks a cache against its own version and flags, but identifies the
 * source only by its length, so the cache file starts with the SHA-256 of
 * the bundle it was made from and is ignored unless the bundle still has it:
 * a stale cache never runs against other code. A cache that is missing,
 * stale or rejected (another Node version, other V8 flags) costs nothing but
 * the compiling it would have saved.
 */
import { createHash } from "node:crypto"
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

/** Set to "1" to run without the cache and write a new one at exit (the build does); not passed on to child processes. */
export const WRITE_CACHE_ENV = "EFFECT_QUIC_WRITE_V8_CACHE"

const DIGEST_LENGTH = 32

/** What became of the cache: used, refused by V8, made for other code, missing, or to be written at exit. */
export type CacheUse = "accepted" | "rejected" | "stale" | "absent" | "writing"

export const cachePath = (bundlePath: string): string => bundlePath.replace(/\.cjs$/, "") + ".v8cache"

export const sourceDigest = (source: string): Buffer => createHash("sha256").update(source).digest()

const readCache = (path: string, digest: Buffer): Buffer | "absent" | "stale" => {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch {
    return "absent"
  }
  return bytes.length > DIGEST_LENGTH && bytes.subarray(0, DIGEST_LENGTH).equals(digest) ? bytes.subarray(DIGEST_LENGTH) : "stale"
}

/** Written beside and renamed into place, so that a reader never sees half a file. */
const writeCache = (path: string, digest: Buffer, data: Buffer): void => {
  const partial = `${path}.${process.pid}.partial`
  try {
    writeFileSync(partial, Buffer.concat([digest, data]))
    renameSync(partial, path)
  } catch {
    rmSync(partial, { force: true })
  }
}

/**
 * Compiles and runs the bundle at `bundleUrl` as a CommonJS module, from its
 * cache when the cache fits; says what became of the cache.
 */
export const runBundle = (bundleUrl: URL): CacheUse => {
  const file = fileURLToPath(bundleUrl)
  const cacheFile = cachePath(file)
  const source = readFileSync(file, "utf8")
  const digest = sourceDigest(source)
  const write = process.env[WRITE_CACHE_ENV] === "1"
  delete process.env[WRITE_CACHE_ENV]
  const cached = write ? "absent" : readCache(cacheFile, digest)
  // Node's own CommonJS wrapper, on the bundle's first line so that line numbers stay the bundle's.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(typeof cached === "string" ? {} : { cachedData: cached })
  })
  if (write) process.once("exit", () => writeCache(cacheFile, digest, script.createCachedData()))
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
  if (write) return "writing"
  if (typeof cached === "string") return cached
  return script.cachedDataRejected === true ? "rejected" : "accepted"
}
