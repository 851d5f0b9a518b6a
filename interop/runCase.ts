/**
 * One interop case for one pair of endpoints: server, relay and client as
 * separate processes on loopback, a tshark capture of both legs, then the
 * checks. Everything started is stopped when the case ends, however it ends.
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, lastJson, type Proc, start, tail, waitExit, waitForUdpPort } from "../bench/harness.js"
import { EXIT_UNSUPPORTED } from "../src/interop/cases.js"
import { makeCertificates } from "./certs.js"
import { hungReport, reportFlags } from "./diagnose.js"
import { handshakeCount, relayAgrees, type RelayRecord, runCheck, type Trace, withDecryptedTwins } from "./checks.js"
import { cannotPlay, type Pair, pairName, QUIC_INTEROP, QUIC_NETEM } from "./implementations.js"
import type { Scenario } from "./scenarios.js"
import * as Tshark from "./tshark.js"

export interface RunOptions {
  /** The smaller file sets CI runs. */
  readonly fast: boolean
  /** The quic-go peer binary, when there is one. */
  readonly quicGo: string | undefined
  /** Seeds the relay's faults. */
  readonly seed: number
  /** Keep the case's folder (capture, key logs, qlogs, relay log) even when it passed. */
  readonly keep: boolean
}

export type Status = "pass" | "fail" | "unsupported"

export interface CaseResult {
  readonly scenario: string
  readonly pair: string
  readonly status: Status
  readonly reason: string
  readonly seconds: number
  /** The case's folder, when kept. */
  readonly dir: string | undefined
}

const START_TIMEOUT_MILLIS = 20_000

/** A process that is stopped when the scope closes. */
const spawned = (make: () => Proc) => Effect.acquireRelease(Effect.sync(make), (proc) => Effect.promise(() => proc.stop()))

const promise = <A>(run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (error) => error instanceof Error ? error : new Error(String(error)) })

const certificateDirs = new Map<number, string>()
/** One certificate chain of each length per runner process. */
const certificatesFor = (length: number): string => {
  let dir = certificateDirs.get(length)
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), `effect-quic-interop-certs${length}-`))
    makeCertificates(dir, length)
    certificateDirs.set(length, dir)
  }
  return dir
}

const readRelayLog = (file: string): ReadonlyArray<RelayRecord> =>
  existsSync(file)
    ? readFileSync(file, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((r): r is Record<string, unknown> & RelayRecord => typeof r["dir"] === "string" && typeof r["size"] === "number")
    : []

/** How much crossed the relay each way, and when the last datagram did (ms after the relay started). */
const relaySummary = (log: ReadonlyArray<RelayRecord & { readonly t?: number }>): string => {
  const count = (dir: RelayRecord["dir"]) => log.filter((r) => r.dir === dir).length
  const last = log.at(-1)?.t
  return `the relay saw ${count("to_server")} datagrams from the client and ${count("to_client")} from the server` +
    (last === undefined ? "" : `, the last at ${Math.round(last)} ms`)
}

/** Margin for the relay's timers and the scheduler, on top of the link's own time. */
const IN_FLIGHT_MARGIN_MILLIS = 50

/**
 * How long a datagram can spend crossing the relay of a scenario's link: its
 * delay and jitter, and a full queue drained at its bandwidth (quic-netem's
 * flags: milliseconds, Mbit/s, datagrams of at most about 1500 bytes).
 */
const inFlightMillis = (netem: ReadonlyArray<string>): number => {
  const flag = (name: string): number => {
    const at = netem.indexOf(`--${name}`)
    return at < 0 ? 0 : Number(netem[at + 1])
  }
  const bandwidth = flag("bandwidth")
  const queueMillis = bandwidth > 0 ? (flag("queue") * 1500 * 8) / (bandwidth * 1000) : 0
  return flag("delay") + flag("jitter") + queueMillis + IN_FLIGHT_MARGIN_MILLIS
}

/** The files every client must end up with: distinct sizes, named by their size (what `GET /N` means to quic-go). */
const plannedFiles = (scenario: Scenario, fast: boolean) => scenario.files(fast).map((size, i) => size + i)

const firstLine = (text: string) => text.trim().split("\n").filter((l) => l.trim() !== "").pop() ?? ""

class CaseOutcome {
  constructor(readonly status: Status, readonly reason: string) {}
}

const unsupported = (reason: string) => new CaseOutcome("unsupported", reason)
const failed = (reason: string) => new CaseOutcome("fail", reason)

const play = (scenario: Scenario, pair: Pair, options: RunOptions, dir: string) =>
  Effect.gen(function*() {
    const sizes = plannedFiles(scenario, options.fast)
    const host = scenario.ipv6 ? "::1" : "127.0.0.1"
    const hostInUrl = scenario.ipv6 ? "[::1]" : "127.0.0.1"
    const certs = certificatesFor(scenario.chainLength)
    const www = join(dir, "www")
    const downloads = join(dir, "downloads")
    mkdirSync(www)
    mkdirSync(downloads)
    const expected = new Map<string, Uint8Array>()
    for (const size of sizes) {
      const content = pair.server === "quic-go" ? new Uint8Array(size) : randomBytes(size)
      expected.set(String(size), content)
      writeFileSync(join(www, String(size)), content)
    }
    const serverPort = yield* promise(freePort)
    const relayPort = yield* promise(freePort)
    const preferredPort = yield* promise(freePort)
    const keyLogs = { server: join(dir, "server.keys"), client: join(dir, "client.keys") }
    const relayLogFile = join(dir, "relay.log")
    const node = process.execPath

    const server = yield* spawned(() =>
      pair.server === "effect-quic"
        ? start("server", node, [
          QUIC_INTEROP, "--www", www, "--certs", certs, "--port", String(serverPort), "--listen", host, "--preferred-port", String(preferredPort)
        ], {
          env: { ...process.env, ROLE: "server", TESTCASE: scenario.serverCase, SSLKEYLOGFILE: keyLogs.server, QLOGDIR: join(dir, "qlog-server") }
        })
        : start("server", options.quicGo!, [
          "server", "--addr", `${hostInUrl}:${serverPort}`, "--cert", join(certs, "cert.pem"), "--key", join(certs, "priv.key"),
          "--alpn", "hq-interop,perf"
        ])
    )
    // Server, relay and capture start at once: none needs the others until the client starts.
    const relay = yield* spawned(() =>
      start("relay", node, [
        QUIC_NETEM, "--listen", `${hostInUrl}:${relayPort}`, "--server", `${hostInUrl}:${serverPort}`,
        ...scenario.netem, "--seed", String(options.seed), "--log", relayLogFile
      ])
    )
    const timeoutSeconds = scenario.timeoutSeconds(options.fast)
    const capture = yield* Tshark.capture({
      ports: [serverPort, relayPort, preferredPort],
      file: join(dir, "capture.pcapng"),
      maxDuration: `${timeoutSeconds + 120} seconds`
    })
    const serverReady = yield* promise(() =>
      pair.server === "effect-quic" ? server.waitForLine(/listening on/, START_TIMEOUT_MILLIS).then(() => true) : waitForUdpPort(server, serverPort).then(() => true)
    ).pipe(Effect.orElseSucceed(() => false))
    if (!serverReady) {
      return server.exitCode === EXIT_UNSUPPORTED
        ? unsupported(`server: ${firstLine(server.stderr)}`)
        : failed(`the server did not start: ${tail(server.stderr, 300)}`)
    }
    yield* promise(() => relay.waitForLine(/listening on/, START_TIMEOUT_MILLIS))

    const target = `${hostInUrl}:${relayPort}`
    const client = yield* spawned(() =>
      pair.client === "effect-quic"
        ? start("client", node, [...reportFlags(dir), QUIC_INTEROP, "--downloads", downloads], {
          env: {
            ...process.env,
            ROLE: "client",
            TESTCASE: scenario.clientCase,
            REQUESTS: sizes.map((size) => `https://${target}/${size}`).join(" "),
            SSLKEYLOGFILE: keyLogs.client,
            QLOGDIR: join(dir, "qlog-client")
          }
        })
        : start("client", options.quicGo!, scenario.clientCase === "multiconnect"
          ? ["handshakes", "--addr", target, "--count", String(sizes.length), "--insecure"]
          : ["client", "--addr", target, "--download", String(Math.max(...sizes)), "--streams", String(sizes.length), "--parallel", "--insecure"])
    )
    // A client still running at the timeout is asked what it is doing before it is killed.
    let hung: string | undefined
    const exit = yield* promise(() =>
      waitExit(client, timeoutSeconds * 1000, async () => {
        // Its output before the report request adds Node's own lines.
        const output = tail(`${client.stdout}${client.stderr}`, 300) || "none"
        const own = pair.client === "effect-quic" ? `${await hungReport(client.pid, () => client.stderr, dir, join(dir, "qlog-client"))}; ` : ""
        hung = `${own}its output: ${output}; ${relaySummary(readRelayLog(relayLogFile))}; server stderr: ${tail(server.stderr, 200) || "none"}`
      })
    )
    // The client's last datagrams (its CONNECTION_CLOSE) may still be in the relay's delay line
    // when it exits: they reach the server, as on a real link, before the relay stops.
    yield* Effect.sleep(inFlightMillis(scenario.netem))
    yield* promise(() => relay.stop())
    yield* promise(() => server.stop())
    // A client that hung is the case's failure, whatever the capture says.
    const captured = yield* Effect.either(capture.stop)

    if (exit.timedOut) return failed(`the client did not finish within ${timeoutSeconds} s: ${hung ?? "no report"}`)
    if (captured._tag === "Left") return failed(captured.left.message)
    if (exit.code === EXIT_UNSUPPORTED) return unsupported(`client: ${firstLine(client.stderr)}`)
    if (exit.code !== 0) return failed(`the client exited with ${exit.code}: ${firstLine(client.stderr)}`)

    const reasons: Array<string> = []
    if (pair.client === "effect-quic") {
      for (const [name, content] of expected) {
        const path = join(downloads, name)
        if (!existsSync(path)) reasons.push(`${name} was not downloaded`)
        else if (!Buffer.from(readFileSync(path)).equals(Buffer.from(content))) reasons.push(`${name} differs from the served file`)
      }
    } else if (scenario.clientCase !== "multiconnect") {
      const report = lastJson(client.stdout)
      const want = Math.max(...sizes) * sizes.length
      if (report?.["down_bytes"] !== want) reasons.push(`the quic-go client received ${String(report?.["down_bytes"])} bytes, not ${want}`)
    }

    const keyLog = join(dir, "keys.log")
    writeFileSync(keyLog, [keyLogs.server, keyLogs.client].filter(existsSync).map((f) => readFileSync(f, "utf8")).join(""))
    const leg = (port: number, morePorts: ReadonlyArray<number> = []) =>
      Tshark.decode({ file: capture.file, port, morePorts, keyLogFile: keyLog, timeout: "5 minutes" })
    // The client reaches a preferred address directly: that leg continues its conversation with the relay.
    const [serverLeg, clientView, serverLegDatagrams, clientLegDatagrams] = yield* Effect.all([
      leg(serverPort),
      leg(relayPort, [preferredPort]),
      Tshark.udpDatagrams({ file: capture.file, port: serverPort }),
      Tshark.udpDatagrams({ file: capture.file, port: relayPort })
    ], { concurrency: 2 })
    const trace: Trace = {
      serverLeg: withDecryptedTwins(serverLeg, clientView),
      clientLeg: clientView.filter((p) => p.srcPort === relayPort || p.dstPort === relayPort),
      preferredLeg: clientView.filter((p) => p.srcPort === preferredPort || p.dstPort === preferredPort),
      preferredPort,
      serverLegDatagrams,
      clientLegDatagrams,
      serverPort,
      relayPort,
      relayLog: readRelayLog(relayLogFile)
    }
    const handshakes = handshakeCount(trace)
    const wanted = scenario.handshakes(sizes.length)
    if (handshakes !== wanted) reasons.push(`${handshakes} handshakes, expected ${wanted}`)
    reasons.push(...relayAgrees(trace))
    for (const check of scenario.checks) reasons.push(...runCheck(check, trace))
    return reasons.length === 0 ? new CaseOutcome("pass", "") : failed(reasons.join("; "))
  }).pipe(Effect.scoped)

/** Runs one case for one pair; never throws: every problem is a failed case with its reason. */
export const runCase = async (scenario: Scenario, pair: Pair, options: RunOptions): Promise<CaseResult> => {
  const started = Date.now()
  const result = (outcome: CaseOutcome, dir: string | undefined): CaseResult => ({
    scenario: scenario.name,
    pair: pairName(pair),
    status: outcome.status,
    reason: outcome.reason,
    seconds: (Date.now() - started) / 1000,
    dir
  })
  const cannot = cannotPlay(pair, scenario.name)
  if (cannot !== undefined) return result(unsupported(cannot), undefined)
  if ((pair.client === "quic-go" || pair.server === "quic-go") && options.quicGo === undefined) {
    return result(unsupported("the quic-go peer is not available (QUICGO_PEER)"), undefined)
  }
  const dir = mkdtempSync(join(tmpdir(), `effect-quic-interop-${scenario.name}-`))
  const outcome = await Effect.runPromise(
    play(scenario, pair, options, dir).pipe(
      Effect.catchAll((error) => Effect.succeed(failed(error instanceof Error ? error.message : String((error as { message?: unknown }).message ?? error))))
    )
  )
  const keep = options.keep || outcome.status === "fail"
  if (!keep) rmSync(dir, { recursive: true, force: true })
  return result(outcome, keep ? dir : undefined)
}
