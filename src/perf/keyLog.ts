/**
 * `--keylog FILE` and `SSLKEYLOGFILE`: TLS secrets appended in the NSS
 * key-log format, one line per secret, so captures can be decrypted.
 */
import { Effect, type Scope } from "effect"
import { closeSync, openSync, writeSync } from "node:fs"
import { PerfError } from "./failure.js"

/** The file the flag names, else `SSLKEYLOGFILE`, else none. */
export const keyLogPath = (flag: string | undefined): string | undefined => {
  if (flag !== undefined) return flag
  const fromEnv = process.env["SSLKEYLOGFILE"]
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv
}

/** A line writer appending to `path`, open for the scope's lifetime. */
export const openKeyLog = (
  path: string | undefined
): Effect.Effect<((line: string) => void) | undefined, PerfError, Scope.Scope> =>
  path === undefined
    ? Effect.succeed(undefined)
    : Effect.acquireRelease(
      Effect.try({
        try: () => openSync(path, "a", 0o600),
        catch: (e) => new PerfError({ reason: "Io", message: `--keylog: cannot open ${path}: ${(e as Error).message}` })
      }),
      (fd) => Effect.sync(() => closeSync(fd))
    ).pipe(Effect.map((fd) => (line: string) => void writeSync(fd, `${line}\n`)))
