/**
 * `quic-perf client`: connects, runs perf requests (sequential or in
 * parallel, for a count or a duration), optionally datagrams, repeated
 * handshakes or 0-RTT, and reports what it measured.
 */
import { Clock, Effect, Fiber, Option, type Scope, Stream } from "effect"
import type { Connection } from "../Connection.js"
import * as Endpoint from "../Endpoint.js"
import * as NodeQlog from "../NodeQlog.js"
import type { CipherSuiteName } from "../QuicConfig.js"
import type { QuicCrypto } from "../QuicCrypto.js"
import { UdpSocket } from "../UdpSocket.js"
import { describeFailure, PerfError } from "./failure.js"
import { type ResolvedAddress, resolveHostPort } from "./hostPort.js"
import { keyLogPath, openKeyLog } from "./keyLog.js"
import { Progress } from "./progress.js"
import { encodeRequest, followsPattern, ZERO_CHUNK } from "./protocol.js"
import type { Report } from "./report.js"
import { clientSocket, transportOptions, type TransportFlags } from "./transport.js"

export interface ClientOptions extends TransportFlags {
  readonly connect: string
  readonly serverName: string | undefined
  readonly ca: string | undefined
  readonly insecure: boolean
  readonly download: number
  readonly upload: number
  readonly streams: number
  readonly parallel: number
  readonly handshakes: number
  /** With `handshakes`: connect and close, without the empty request. */
  readonly handshakeOnly: boolean
  readonly datagrams: number
  readonly cipher: CipherSuiteName | undefined
  readonly zeroRtt: boolean
  readonly verify: boolean
  readonly durationSeconds: number | undefined
  readonly keyLog: string | undefined
  readonly qlog: string | undefined
  readonly keyUpdate: boolean
  readonly alpn: string
  readonly showProgress: boolean
}

/** How long a handshake may take before the server counts as unreachable. */
const CONNECT_TIMEOUT_SECONDS = 10
/** How long to wait for datagram echoes after the last one was sent. */
const DATAGRAM_ECHO_WAIT_MILLIS = 2_000
const DATAGRAM_SIZE = 32

const SUITE_NAMES: Record<string, CipherSuiteName> = {
  TLS_AES_128_GCM_SHA256: "aes128gcm",
  TLS_AES_256_GCM_SHA384: "aes256gcm",
  TLS_CHACHA20_POLY1305_SHA256: "chacha20"
}

const nowMillis = Clock.currentTimeNanos.pipe(Effect.map((n) => Number(n) / 1e6))

const transferFailed = (message: string) => new PerfError({ reason: "Transfer", message })

/**
 * One perf request on its own stream: header, upload, FIN, then the whole
 * answer. `header`, the encoded request, is made once for a run's requests.
 */
const request = (connection: Connection, options: ClientOptions, progress: Progress, header = encodeRequest(options.download)) =>
  Effect.scoped(Effect.gen(function*() {
    const stream = yield* connection.openBi
    yield* stream.write(header)
    for (let left = options.upload; left > 0; left -= ZERO_CHUNK.length) {
      const chunk = left >= ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left)
      yield* stream.write(chunk)
      progress.up += chunk.length
    }
    yield* stream.finish
    let received = 0
    let intact = true
    for (;;) {
      const chunk = yield* stream.read()
      if (Option.isNone(chunk)) break
      if (options.verify && intact) intact = followsPattern(chunk.value, received)
      received += chunk.value.length
      progress.down += chunk.value.length
    }
    if (received !== options.download) {
      return yield* Effect.fail(transferFailed(`stream ${stream.id}: expected ${options.download} bytes, received ${received}`))
    }
    if (!intact) return yield* Effect.fail(transferFailed(`stream ${stream.id}: the response differs from the i & 0xff pattern`))
    progress.requests++
  }))

const unreachable = (target: ResolvedAddress) =>
  new PerfError({
    reason: "Unreachable",
    message: `no QUIC answer from ${target.host}:${target.port} within ${CONNECT_TIMEOUT_SECONDS} s`
  })

const connectTo = (endpoint: Endpoint.Endpoint, target: ResolvedAddress, serverName: string) =>
  endpoint.connect({ address: target.address, port: target.port }, { serverName }).pipe(
    Effect.timeoutFail({ duration: `${CONNECT_TIMEOUT_SECONDS} seconds`, onTimeout: () => unreachable(target) })
  )

/**
 * Runs the requests: `streams` of them, or as many as fit in the duration,
 * `parallel` at a time. Each of `parallel` fibers makes requests one after
 * another until none is left, rather than a fiber per request
 * (`Effect.forEach` with a concurrency forks one for each).
 */
const runRequests = (connection: Connection, options: ClientOptions, progress: Progress) =>
  Effect.gen(function*() {
    const parallel = Math.max(1, options.parallel)
    const deadline = options.durationSeconds === undefined ? undefined : (yield* nowMillis) + options.durationSeconds * 1000
    let started = 0
    let running = true
    const header = encodeRequest(options.download)
    const worker = Effect.whileLoop({
      while: () => running && (deadline !== undefined || started < options.streams),
      body: () => {
        started++
        const one = request(connection, options, progress, header)
        return deadline === undefined ? one : one.pipe(Effect.zipRight(nowMillis), Effect.map((now) => void (running = now < deadline)))
      },
      step: () => undefined
    })
    yield* Effect.all(Array.from({ length: parallel }, () => worker), { concurrency: "unbounded", discard: true })
  })

/** Sends numbered datagrams and counts distinct echoes until all are back or the wait runs out. */
const exchangeDatagrams = (connection: Connection, count: number) =>
  Effect.gen(function*() {
    const seen = new Set<number>()
    const collector = yield* connection.datagrams.pipe(
      Stream.tap((d) => Effect.sync(() => d.length >= 4 && seen.add(new DataView(d.buffer, d.byteOffset, 4).getUint32(0)))),
      Stream.takeUntil(() => seen.size >= count),
      Stream.runDrain,
      Effect.fork
    )
    for (let i = 0; i < count; i++) {
      const datagram = new Uint8Array(DATAGRAM_SIZE)
      new DataView(datagram.buffer).setUint32(0, i)
      yield* connection.sendDatagram(datagram)
    }
    yield* Fiber.join(collector).pipe(Effect.timeout(DATAGRAM_ECHO_WAIT_MILLIS), Effect.ignore)
    yield* Fiber.interrupt(collector)
    return seen.size
  })

/** A full handshake and one empty request, leaving a session ticket behind for 0-RTT. */
const primeTicket = (endpoint: Endpoint.Endpoint, target: ResolvedAddress, serverName: string, options: ClientOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* connectTo(endpoint, target, serverName)
    yield* request(connection, { ...options, download: 0, upload: 0 }, new Progress(0))
  }))

/** How often the handshake loop's watchdog looks at the connect in progress. */
const WATCHDOG_PERIOD_MILLIS = 250

/**
 * Sequential connections. One watchdog fiber for the whole loop fails it once
 * a connect has been waiting `CONNECT_TIMEOUT_SECONDS` (give or take its
 * period), rather than a timeout per connect: `Effect.timeout` forks two
 * fibers for every connection, which costs more than a tenth of our client's
 * handshake.
 */
const handshakeLoop = (endpoint: Endpoint.Endpoint, target: ResolvedAddress, serverName: string, options: ClientOptions, progress: Progress) =>
  Effect.gen(function*() {
    let handshakeMillis = 0
    let cipher: string | undefined
    /** When the connect in progress started (ms), or undefined between connects. */
    let connecting: number | undefined
    const address = { address: target.address, port: target.port }
    const loop = Effect.gen(function*() {
      for (let i = 0; i < options.handshakes; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const started = yield* nowMillis
          connecting = started
          const connection = yield* endpoint.connect(address, { serverName })
          connecting = undefined
          handshakeMillis += (yield* nowMillis) - started
          cipher = yield* connection.cipherSuite
          if (!options.handshakeOnly) yield* request(connection, { ...options, download: 0, upload: 0 }, progress)
        }))
      }
    })
    const watchdog = Effect.gen(function*() {
      for (;;) {
        yield* Effect.sleep(WATCHDOG_PERIOD_MILLIS)
        const started = connecting
        if (started !== undefined && (yield* nowMillis) - started >= CONNECT_TIMEOUT_SECONDS * 1000) {
          return yield* Effect.fail(unreachable(target))
        }
      }
    })
    yield* Effect.raceFirst(loop, watchdog)
    return { handshakeMillis: handshakeMillis / Math.max(1, options.handshakes), cipher }
  })

const makeEndpoint = (target: ResolvedAddress, options: ClientOptions) =>
  Effect.gen(function*() {
    const keyLog = yield* openKeyLog(keyLogPath(options.keyLog))
    const socket = yield* clientSocket(target.family)
    return yield* Endpoint.make({
      client: {
        alpn: [options.alpn],
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        insecure: options.insecure,
        earlyData: options.zeroRtt,
        // A handshake benchmark measures full handshakes, like quic-go's.
        resumption: options.handshakes === 0
      },
      ...(options.cipher === undefined ? {} : { cipherSuites: [options.cipher] }),
      transport: transportOptions(options),
      keyLog,
      ...(options.qlog === undefined ? {} : { qlog: NodeQlog.dir(options.qlog) })
    }).pipe(Effect.provideService(UdpSocket, socket))
  })

/** Runs the client; failures after the connection is up still produce a report (with `ok: false`). */
export const runClient = (options: ClientOptions): Effect.Effect<Report, unknown, Scope.Scope | QuicCrypto> =>
  Effect.gen(function*() {
    const target = yield* resolveHostPort("--connect", options.connect)
    const serverName = options.serverName ?? target.host
    const endpoint = yield* makeEndpoint(target, options)
    const expected = options.durationSeconds === undefined ? options.streams * (options.download + options.upload) : undefined
    const progress = new Progress(expected)
    const report = {
      server: `${target.host}:${target.port}`,
      handshake_ms: 0,
      bytes_down: 0,
      bytes_up: 0,
      streams: 0,
      seconds: 0,
      mbps: 0,
      handshakes_per_s: null as number | null,
      rtt_ms: 0,
      lost_packets: 0,
      cipher: null as string | null,
      resumed: false,
      zero_rtt: "not attempted" as "accepted" | "rejected" | "not attempted",
      datagrams_sent: 0,
      datagrams_received: 0,
      key_updates: 0,
      path_mtu: 0,
      ok: false,
      error: null as string | null
    }
    const ticker = options.showProgress ? yield* Effect.forkScoped(progress.render) : undefined

    if (options.handshakes > 0) {
      const started = yield* nowMillis
      const result = yield* handshakeLoop(endpoint, target, serverName, options, progress)
      const seconds = ((yield* nowMillis) - started) / 1000
      if (ticker !== undefined) yield* Fiber.interrupt(ticker).pipe(Effect.zipRight(progress.clear))
      const cipher = result.cipher === undefined ? null : SUITE_NAMES[result.cipher] ?? result.cipher
      return {
        ...report,
        handshake_ms: result.handshakeMillis,
        streams: progress.requests,
        seconds,
        handshakes_per_s: options.handshakes / seconds,
        cipher,
        ok: true
      } satisfies Report
    }

    if (options.zeroRtt) yield* primeTicket(endpoint, target, serverName, options)
    const connectStarted = yield* nowMillis
    const connection = yield* connectTo(endpoint, target, serverName)
    report.handshake_ms = (yield* nowMillis) - connectStarted
    const transferStarted = yield* nowMillis
    const keyUpdater = options.keyUpdate && expected !== undefined
      ? yield* Effect.forkScoped(progress.reached(expected / 2).pipe(
        Effect.zipRight(connection.updateKeys),
        Effect.tap((started) => Effect.sync(() => void (report.key_updates += started ? 1 : 0)))
      ))
      : undefined
    const transfer = yield* Effect.either(Effect.gen(function*() {
      yield* runRequests(connection, options, progress)
      if (options.datagrams > 0) {
        report.datagrams_sent = options.datagrams
        report.datagrams_received = yield* exchangeDatagrams(connection, options.datagrams)
      }
    }))
    report.seconds = ((yield* nowMillis) - transferStarted) / 1000
    if (keyUpdater !== undefined) yield* Fiber.interrupt(keyUpdater)
    if (ticker !== undefined) yield* Fiber.interrupt(ticker).pipe(Effect.zipRight(progress.clear))
    if (options.zeroRtt) {
      report.zero_rtt = !(yield* connection.is0Rtt)
        ? "not attempted"
        : (yield* connection.accepted0Rtt.pipe(Effect.orElseSucceed(() => false)))
        ? "accepted"
        : "rejected"
    }
    report.resumed = yield* connection.resumed
    const suite = yield* connection.cipherSuite
    report.cipher = suite === undefined ? null : SUITE_NAMES[suite] ?? suite
    const stats = yield* connection.stats
    if (stats !== undefined) {
      report.rtt_ms = stats.smoothedRtt / 1000
      report.lost_packets = stats.packetsLost
      report.path_mtu = stats.pathMtu
    }
    report.bytes_down = progress.down
    report.bytes_up = progress.up
    report.streams = progress.requests
    report.mbps = report.seconds > 0 ? ((progress.down + progress.up) * 8) / report.seconds / 1e6 : 0
    if (transfer._tag === "Left") {
      report.error = describeFailure(transfer.left)
    } else if (report.datagrams_received < report.datagrams_sent) {
      report.error = `${report.datagrams_sent - report.datagrams_received} of ${report.datagrams_sent} datagrams were not echoed`
    } else {
      report.ok = true
    }
    return report satisfies Report
  })
