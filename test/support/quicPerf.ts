/**
 * Test-only: runs the `quic-perf` executable (built into dist/ by `npm ci`'s
 * prepare step; rebuilt here, bundle included, when the sources are newer) as separate
 * processes, the way users run it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { readdirSync, statSync } from "node:fs"
import { join, resolve } from "node:path"

const ROOT = resolve(import.meta.dirname, "../..")
export const QUIC_PERF = join(ROOT, "dist/bin/quic-perf.js")

const newestMtime = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name)
    return Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }, 0)

/** Builds dist/ when it is missing or older than src/. */
export const ensureBuilt = (): void => {
  let built = 0
  try {
    built = statSync(QUIC_PERF).mtimeMs
  } catch {
    built = 0
  }
  if (built < newestMtime(join(ROOT, "src"))) {
    // What `npm run build` does: the library, then the bundled commands.
    execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT })
    execFileSync(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/bundle-bins.ts"], { cwd: ROOT })
  }
}

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A running process with its output so far. */
export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly finished: Promise<Finished>
  stop(): Promise<Finished>
}

export const start = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Running => {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
  let out = ""
  let err = ""
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
  const finished = new Promise<Finished>((done) => {
    child.on("error", (e) => done({ code: -1, stdout: out, stderr: `${err}${e.message}` }))
    child.on("close", (code) => done({ code, stdout: out, stderr: err }))
  })
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    finished,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return finished
    }
  }
}

/** Resolves once `text` matches the process's stdout or stderr; rejects if it exits first or time runs out. */
export const waitFor = (running: Running, pattern: RegExp, timeoutMillis = 30_000): Promise<RegExpExecArray> =>
  new Promise((resolvePromise, reject) => {
    const check = () => {
      const match = pattern.exec(running.stdout()) ?? pattern.exec(running.stderr())
      if (match !== null) {
        clearInterval(timer)
        clearTimeout(deadline)
        resolvePromise(match)
      }
    }
    const timer = setInterval(check, 20)
    const deadline = setTimeout(() => {
      clearInterval(timer)
      reject(new Error(`timed out waiting for ${pattern}: ${running.stdout()} ${running.stderr()}`))
    }, timeoutMillis)
    void running.finished.then((f) => {
      check()
      clearInterval(timer)
      clearTimeout(deadline)
      reject(new Error(`exited (${f.code}) before ${pattern}: ${f.stdout} ${f.stderr}`))
    })
  })

export interface PerfServer {
  readonly running: Running
  readonly port: number
  /** The self-signed certificate's path (when the server made one). */
  readonly ca: string | undefined
  stop(): Promise<Finished>
}

/** `quic-perf server` on 127.0.0.1 with a system-chosen port. */
export const perfServer = async (args: ReadonlyArray<string> = []): Promise<PerfServer> => {
  const running = start(process.execPath, [QUIC_PERF, "server", "--listen", "127.0.0.1:0", ...args])
  const [, port] = await waitFor(running, /listening on 127\.0\.0\.1:(\d+)/)
  const ca = args.includes("--cert") ? undefined : (await waitFor(running, /--ca (\S+)/))[1]
  return { running, port: Number(port), ca, stop: () => running.stop() }
}

/** `quic-perf client ... --json` to completion; the one JSON line it printed. */
export const perfClient = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const finished = await start(process.execPath, [QUIC_PERF, "client", "--json", ...args], env).finished
  const last = finished.stdout.trim().split("\n").pop() ?? ""
  return { ...finished, report: (last.startsWith("{") ? JSON.parse(last) : undefined) as Record<string, unknown> | undefined }
}
