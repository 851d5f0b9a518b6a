/**
 * Process plumbing for the end-to-end benchmarks: every child runs in its own
 * process group, is registered, and is killed (the whole group) when the
 * section ends, when the bench exits, or on a signal.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createSocket } from "node:dgram"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const live = new Set<ChildProcess>()

const killGroup = (child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

/** Kills every process group this bench started and has not reaped yet. */
export const killAll = (): void => {
  for (const child of live) killGroup(child)
  live.clear()
}

let installed = false
const installExitHandlers = (): void => {
  if (installed) return
  installed = true
  process.on("exit", killAll)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

/** A running child with its output collected. */
export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  readonly name: string
  stdout: string
  stderr: string
  /** Resolves with the exit code (or -signal) when the process exits. */
  readonly exited: Promise<number>
  exitCode: number | undefined
  /** Resolves on the first stdout line matching `re`, rejects on exit or timeout. */
  readonly waitForLine: (re: RegExp, timeoutMillis: number) => Promise<string>
  /** Like `waitForLine`, for lines printed after the call only. */
  readonly nextLine: (re: RegExp, timeoutMillis: number) => Promise<string>
  readonly write: (text: string) => void
  /** SIGTERM to the group, then SIGKILL after `graceMillis`. */
  readonly stop: (graceMillis?: number) => Promise<void>
}

export interface SpawnOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  readonly stdin?: boolean
}

/** Starts `command` as the leader of a new process group. */
export const start = (name: string, command: string, args: ReadonlyArray<string>, options: SpawnOptions = {}): Proc => {
  installExitHandlers()
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: [options.stdin === true ? "pipe" : "ignore", "pipe", "pipe"]
  })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  live.add(child)
  const lineWaiters: Array<{ re: RegExp; resolve: (line: string) => void }> = []
  let pending = ""
  const proc: Proc = {
    child,
    pid: child.pid,
    name,
    stdout: "",
    stderr: "",
    exitCode: undefined,
    exited: new Promise<number>((resolve) => {
      child.on("exit", (code, signal) => {
        live.delete(child)
        // the group may still hold grandchildren (e.g. under /usr/bin/time)
        killGroup(child)
        proc.exitCode = code ?? (signal === null ? -1 : -128)
        resolve(proc.exitCode)
      })
      child.on("error", () => resolve(-1))
    }),
    waitForLine: (re, timeoutMillis) => {
      const already = proc.stdout.split("\n").find((line) => re.test(line))
      return already !== undefined ? Promise.resolve(already) : proc.nextLine(re, timeoutMillis)
    },
    nextLine: (re, timeoutMillis) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within ${timeoutMillis} ms; stderr: ${tail(proc.stderr)}`)), timeoutMillis)
        const waiter = { re, resolve: (line: string) => (clearTimeout(timer), resolve(line)) }
        lineWaiters.push(waiter)
        void proc.exited.then((code) => {
          clearTimeout(timer)
          reject(new Error(`${name} exited (${code}) before printing ${re}; stderr: ${tail(proc.stderr)}`))
        })
      }),
    write: (text) => {
      child.stdin?.write(text)
    },
    stop: async (graceMillis = 2000) => {
      if (proc.exitCode !== undefined) return
      killGroup(child, "SIGTERM")
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMillis)
      await proc.exited
      clearTimeout(timer)
    }
  }
  child.stdout?.setEncoding("utf8")
  child.stderr?.setEncoding("utf8")
  child.stdout?.on("data", (chunk: string) => {
    proc.stdout += chunk
    pending += chunk
    let nl: number
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      for (let i = lineWaiters.length - 1; i >= 0; i--) {
        const waiter = lineWaiters[i]!
        if (waiter.re.test(line)) {
          lineWaiters.splice(i, 1)
          waiter.resolve(line)
        }
      }
    }
  })
  child.stderr?.on("data", (chunk: string) => {
    proc.stderr += chunk
  })
  return proc
}

export const tail = (text: string, chars = 600): string => {
  const t = text.trim()
  return t.length <= chars ? t : "…" + t.slice(-chars)
}

export const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Waits for a process to exit, killing its group after `timeoutMillis` (once `beforeKill` is done, if given). */
export const waitExit = async (
  proc: Proc,
  timeoutMillis: number,
  beforeKill?: () => Promise<void>
): Promise<{ code: number; timedOut: boolean }> => {
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    void Promise.resolve(beforeKill?.()).catch(() => undefined).then(() => killGroup(proc.child))
  }, timeoutMillis)
  const code = await proc.exited
  clearTimeout(timer)
  return { code, timedOut }
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = createSocket("udp4")
    socket.on("error", reject)
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })

/** Whether some socket is bound to UDP `port` on 127.0.0.1 or a wildcard address (from /proc/net/udp). */
const udpPortBound = (port: number): boolean => {
  const hex = port.toString(16).toUpperCase().padStart(4, "0")
  for (const file of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text: string
    try {
      text = readFileSync(file, "utf8")
    } catch {
      continue
    }
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1]
      if (local !== undefined && local.endsWith(":" + hex)) return true
    }
  }
  return false
}

/** Resolves once `proc` has bound UDP `port`; rejects if it exits first or after `timeoutMillis`. */
export const waitForUdpPort = async (proc: Proc, port: number, timeoutMillis = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMillis
  while (!udpPortBound(port)) {
    if (proc.exitCode !== undefined) throw new Error(`${proc.name} exited (${proc.exitCode}) before binding UDP ${port}; stderr: ${tail(proc.stderr)}`)
    if (Date.now() > deadline) throw new Error(`${proc.name} did not bind UDP ${port} within ${timeoutMillis} ms; stderr: ${tail(proc.stderr)}`)
    await sleep(50)
  }
  // bound is not quite listening: let the program reach its accept loop
  await sleep(200)
}

const clockTicks = (() => {
  let ticks: number | undefined
  return (): number => {
    if (ticks === undefined) {
      const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" })
      const n = Number(out.stdout.trim())
      ticks = Number.isFinite(n) && n > 0 ? n : 100
    }
    return ticks
  }
})()

/** user+sys CPU seconds a live process (all its threads) has used so far, from /proc/PID/stat. */
export const procCpuSeconds = (pid: number): number | undefined => {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  // the command name (field 2) may contain spaces: fields after ")" start at field 3
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / clockTicks()
}

/** Resident set size in bytes (VmRSS of /proc/PID/status). */
export const procRssBytes = (pid: number): number | undefined => {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** CPU and wall time of a whole child, as reported by /usr/bin/time (including start-up). */
export interface TimedUsage {
  readonly wallSeconds: number
  readonly userSeconds: number
  readonly systemSeconds: number
  readonly maxRssBytes: number
}

const TIME = "/usr/bin/time"
export const haveTime = (): boolean => existsSync(TIME)

let scratch: string | undefined
/** A scratch directory removed at exit. */
export const scratchDir = (): string => {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "effect-quic-bench-"))
    scratch = dir
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }))
  }
  return scratch
}

/** The first child of process `pid` (the command /usr/bin/time runs), or `pid` itself. */
const commandPid = (pid: number): number => {
  try {
    const child = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0])
    return Number.isInteger(child) && child > 0 ? child : pid
  } catch {
    return pid
  }
}

let timeFiles = 0
/**
 * Runs `command` to completion under /usr/bin/time (when present) and returns
 * its exit code, output and usage. A command still running after
 * `timeoutMillis` is first asked what it is doing (`describeHung`, given its
 * pid and its stderr so far), then killed.
 */
export const runTimed = async (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  timeoutMillis: number,
  options: SpawnOptions & { readonly describeHung?: (pid: number, stderr: () => string) => Promise<string> } = {}
): Promise<{ code: number; timedOut: boolean; hung: string | undefined; stdout: string; stderr: string; usage: TimedUsage | undefined }> => {
  const timeFile = join(scratchDir(), `time-${timeFiles++}.txt`)
  const proc = haveTime()
    ? start(name, TIME, ["-o", timeFile, "-f", "%e %U %S %M", command, ...args], options)
    : start(name, command, args, options)
  let hung: string | undefined
  const describe = options.describeHung
  const { code, timedOut } = await waitExit(proc, timeoutMillis, describe && (async () => {
    hung = await describe(haveTime() ? commandPid(proc.pid) : proc.pid, () => proc.stderr)
  }))
  let usage: TimedUsage | undefined
  if (haveTime()) {
    try {
      const last = readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? ""
      const [wall, user, sys, rss] = last.split(" ").map(Number)
      if (wall !== undefined && user !== undefined && sys !== undefined && rss !== undefined && [wall, user, sys, rss].every(Number.isFinite)) {
        usage = { wallSeconds: wall, userSeconds: user, systemSeconds: sys, maxRssBytes: rss * 1024 }
      }
    } catch {
      // killed before time wrote its report
    }
  }
  return { code, timedOut, hung, stdout: proc.stdout, stderr: proc.stderr, usage }
}

/** The last line of `text` that parses as a JSON object. */
export const lastJson = (text: string): Record<string, unknown> | undefined => {
  const lines = text.trim().split("\n").reverse()
  for (const line of lines) {
    const t = line.trim()
    if (!t.startsWith("{")) continue
    try {
      const v: unknown = JSON.parse(t)
      if (typeof v === "object" && v !== null) return v as Record<string, unknown>
    } catch {
      // not JSON
    }
  }
  return undefined
}

export const median = (xs: ReadonlyArray<number>): number | undefined => {
  const s = xs.filter(Number.isFinite).slice().sort((a, b) => a - b)
  if (s.length === 0) return undefined
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2
}
