/**
 * `quic-perf demo`: a server in a child process and a client here, on
 * 127.0.0.1, verifying the server's self-signed certificate and every byte.
 */
import { Console, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { runClient } from "./client.js"
import { PerfError } from "./failure.js"
import { PERF_ALPN } from "./protocol.js"
import { toSummary } from "./report.js"
import { formatBytes } from "./size.js"

const STARTUP_TIMEOUT_MILLIS = 15_000

interface StartedServer {
  readonly address: string
  readonly ca: string
}

/** Waits for the server's "listening on" and certificate lines. */
const awaitServer = (child: ChildProcess) =>
  Effect.async<StartedServer, PerfError>((resume) => {
    const lines = createInterface({ input: child.stdout! })
    let address: string | undefined
    const fail = (message: string) => resume(Effect.fail(new PerfError({ reason: "Io", message })))
    const timer = setTimeout(() => fail("demo: the server did not start"), STARTUP_TIMEOUT_MILLIS)
    child.once("exit", (code) => fail(`demo: the server exited with status ${code}`))
    lines.on("line", (line) => {
      address ??= /listening on (\S+)/.exec(line)?.[1]
      const ca = /--ca (\S+)/.exec(line)?.[1]
      if (address !== undefined && ca !== undefined) {
        clearTimeout(timer)
        resume(Effect.succeed({ address, ca }))
      }
    })
    return Effect.sync(() => clearTimeout(timer))
  })

const startServer = Effect.acquireRelease(
  Effect.sync(() =>
    spawn(process.execPath, [...process.execArgv, process.argv[1]!, "server", "--listen", "127.0.0.1:0"], {
      stdio: ["ignore", "pipe", "inherit"]
    })
  ),
  (child) =>
    Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
      child.kill("SIGTERM")
    })
)

export const runDemo = (size: number) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* awaitServer(yield* startServer)
    yield* Console.log(`quic-perf demo: server on ${server.address}, downloading ${formatBytes(size)} with --verify`)
    const report = yield* runClient({
      connect: server.address,
      serverName: "localhost",
      ca: server.ca,
      insecure: false,
      download: size,
      upload: 0,
      streams: 1,
      parallel: 1,
      handshakes: 0,
      handshakeOnly: false,
      datagrams: 8,
      cipher: undefined,
      zeroRtt: false,
      verify: true,
      durationSeconds: undefined,
      keyLog: undefined,
      qlog: undefined,
      keyUpdate: false,
      alpn: PERF_ALPN,
      showProgress: process.stdout.isTTY === true,
      maxUdpPayload: undefined,
      congestionControl: "cubic"
    })
    yield* Console.log(toSummary(report))
    if (!report.ok) process.exitCode = 1
  }))
