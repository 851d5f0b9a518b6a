/**
 * What a client that did not finish in time was doing, for the case's
 * failure reason (in CI that reason is all that is left of the run): its
 * Node.js diagnostic report, taken on SIGUSR2 (`--report-on-signal`), says
 * whether it was busy (a JavaScript stack) or waiting (on which timer and
 * sockets), and its qlog says where its newest connection stood.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { sleep } from "../bench/harness.js"

/** Node options that let `hungReport` ask a process for a report. */
export const reportFlags = (dir: string): ReadonlyArray<string> => ["--report-on-signal", `--report-directory=${dir}`]

const REPORT_WAIT_MILLIS = 3_000
const REPORT_COMPLETED = "Node.js report completed"

interface NodeReport {
  readonly javascriptStack?: { readonly message?: string; readonly stack?: ReadonlyArray<string> }
  readonly libuv?: ReadonlyArray<Record<string, unknown>>
}

const reportFiles = (dir: string): Array<string> =>
  existsSync(dir) ? readdirSync(dir).filter((name) => /^report\..*\.json$/.test(name)) : []

const summarizeReport = (report: NodeReport): string => {
  const stack = report.javascriptStack?.stack?.slice(0, 6).map((frame) => frame.trim()) ?? []
  const handles = (report.libuv ?? [])
    .filter((h) => h["is_active"] === true && h["is_referenced"] === true)
    .map((h) => h["type"] === "timer" ? `timer in ${String(h["firesInMsFromNow"])} ms` : String(h["type"]))
  const stackText = stack.length === 0 ? "idle (no JavaScript running)" : `busy in ${stack.join(" < ")}`
  return `${stackText}; handles keeping it alive: ${handles.join(", ") || "none"}`
}

/** The last `count` events of the most recently written qlog file in `dir`, as "time name" pairs. */
const lastQlogEvents = (dir: string | undefined, count: number): string => {
  if (dir === undefined) return "no qlog asked for"
  if (!existsSync(dir)) return "no qlog"
  const files = readdirSync(dir).map((name) => join(dir, name)).sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
  const newest = files.at(-1)
  if (newest === undefined) return "no qlog"
  const events = readFileSync(newest, "utf8").split("\u001e").map((line) => line.trim()).filter((line) => line !== "")
    .slice(-count).map((line) => {
      try {
        const event = JSON.parse(line) as { time?: number; name?: string; data?: Record<string, unknown> }
        const detail = event.name === "connectivity:connection_state_updated" ? ` ${String(event.data?.["new"])}` : ""
        return `${String(event.time)} ms ${String(event.name)}${detail}`
      } catch {
        return "(unreadable line)"
      }
    })
  return `${files.length} qlog files, the newest ends: ${events.join(" | ")}`
}

/**
 * Asks the Node.js process `pid`, started with `reportFlags(reportDir)`, for
 * its report (`stderr` reads what it has printed so far, where Node says when
 * the report is written) and summarizes it with the end of its newest qlog.
 * The process is left running.
 */
export const hungReport = async (pid: number, stderr: () => string, reportDir: string, qlogDir?: string): Promise<string> => {
  const before = new Set(reportFiles(reportDir))
  const completedBefore = stderr().split(REPORT_COMPLETED).length
  try {
    process.kill(pid, "SIGUSR2")
  } catch {
    return `it could not be signalled; ${lastQlogEvents(qlogDir, 4)}`
  }
  for (let waited = 0; waited < REPORT_WAIT_MILLIS && stderr().split(REPORT_COMPLETED).length === completedBefore; waited += 100) {
    await sleep(100)
  }
  const report = reportFiles(reportDir).find((name) => !before.has(name))
  // Node writes the report from a JavaScript signal listener, which runs only when the event loop turns.
  let summary = `no report within ${REPORT_WAIT_MILLIS / 1000} s: its event loop is not turning (a JavaScript loop, or blocked in native code)`
  if (report !== undefined) {
    try {
      summary = summarizeReport(JSON.parse(readFileSync(join(reportDir, report), "utf8")) as NodeReport)
    } catch {
      summary = "an unreadable report"
    }
  }
  return `${summary}; ${lastQlogEvents(qlogDir, 4)}`
}
