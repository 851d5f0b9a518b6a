/**
 * The interop client: downloads every requested URL into a folder, over as
 * many connections as the test case's plan asks, and fails unless every
 * file arrived whole.
 */
import { Effect, Fiber, Option, Schedule } from "effect"
import { closeSync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import type { Connection } from "../Connection.js"
import * as Endpoint from "../Endpoint.js"
import * as NodeQlog from "../NodeQlog.js"
import { PerfError } from "../perf/failure.js"
import { formatAddress, resolveHostPort } from "../perf/hostPort.js"
import { openKeyLog } from "../perf/keyLog.js"
import { UdpSocket } from "../UdpSocket.js"
import { type CaseSettings, interopCipherSuites } from "./cases.js"
import { encodeRequest, HQ_ALPN, parseRequestUrl, type RequestTarget } from "./request.js"
import { clientSocket } from "../perf/transport.js"
import { interopTransport } from "./transport.js"

export interface ClientOptions {
  readonly settings: CaseSettings
  readonly requests: ReadonlyArray<string>
  readonly downloads: string
  /** Verify the server against these CAs; without it the certificate is not verified (the runner's own CA). */
  readonly ca: string | undefined
  readonly keyLog: string | undefined
  readonly qlogDir: string | undefined
}

const failure = (message: string) => new PerfError({ reason: "Transfer", message })

/** How long the client keeps asking for a key update while the handshake is not yet confirmed. */
const KEY_UPDATE_WAIT = Schedule.spaced("2 millis").pipe(Schedule.upTo("10 seconds"))

/** One request on its own stream; the answer is written to the downloads folder as it arrives. */
const download = (connection: Connection, target: RequestTarget, downloads: string) =>
  Effect.scoped(Effect.gen(function*() {
    const stream = yield* connection.openBi
    yield* stream.write(encodeRequest(target.path))
    yield* stream.finish
    const file = yield* Effect.acquireRelease(
      Effect.sync(() => openSync(join(downloads, target.fileName), "w")),
      (fd) => Effect.sync(() => closeSync(fd))
    )
    for (;;) {
      const chunk = yield* stream.read()
      if (Option.isNone(chunk)) break
      writeSync(file, chunk.value)
    }
  }))

const downloadAll = (connection: Connection, targets: ReadonlyArray<RequestTarget>, downloads: string) =>
  Effect.forEach(targets, (target) => download(connection, target, downloads), { concurrency: "unbounded", discard: true })

/** RFC 9001 §6: a key update may start only once the handshake is confirmed, so it is retried until then. */
const startKeyUpdate = (connection: Connection) =>
  connection.updateKeys.pipe(
    Effect.repeat({ schedule: KEY_UPDATE_WAIT, until: (started) => started }),
    Effect.flatMap((started) => started ? Effect.void : Effect.fail(failure("the key update could not be started")))
  )

const parseTargets = (requests: ReadonlyArray<string>) =>
  Effect.forEach(requests, (url) => {
    const target = parseRequestUrl(url)
    return target === undefined
      ? Effect.fail(new PerfError({ reason: "Usage", message: `REQUESTS: "${url}" is not an https://HOST:PORT/NAME URL` }))
      : Effect.succeed(target)
  })

export const runClient = (options: ClientOptions) =>
  Effect.gen(function*() {
    const targets = yield* parseTargets(options.requests)
    if (targets.length === 0) return yield* Effect.fail(new PerfError({ reason: "Usage", message: "REQUESTS names no URL" }))
    const first = targets[0]!
    if (targets.some((t) => t.host !== first.host || t.port !== first.port)) {
      return yield* Effect.fail(new PerfError({ reason: "Usage", message: "REQUESTS must all name the same server" }))
    }
    const server = yield* resolveHostPort("REQUESTS", formatAddress({ address: first.host, port: first.port }))
    const { settings } = options
    const keyLog = yield* openKeyLog(options.keyLog)
    const socket = yield* clientSocket(server.family)
    const endpoint = yield* Endpoint.make({
      client: {
        alpn: [HQ_ALPN],
        ...(options.ca === undefined ? { insecure: true } : { ca: options.ca }),
        earlyData: settings.plan === "zeroRtt"
      },
      cipherSuites: interopCipherSuites(settings),
      transport: interopTransport,
      keyLog,
      ...(options.qlogDir === undefined ? {} : { qlog: NodeQlog.dir(options.qlogDir) })
    }).pipe(Effect.provideService(UdpSocket, socket))
    const address = { address: server.address, port: server.port }
    const connect = endpoint.connect(address, { serverName: first.host })

    /** One connection for `batch`; `check` inspects it once the files are in. */
    const session = (batch: ReadonlyArray<RequestTarget>, check?: (connection: Connection) => Effect.Effect<void, PerfError>) =>
      Effect.scoped(Effect.gen(function*() {
        const connection = yield* connect
        const keyUpdate = settings.keyUpdate ? yield* Effect.fork(startKeyUpdate(connection)) : undefined
        yield* downloadAll(connection, batch, options.downloads)
        if (keyUpdate !== undefined) yield* Fiber.join(keyUpdate)
        if (check !== undefined) yield* check(connection)
      }))

    const mustResume = (connection: Connection) =>
      Effect.flatMap(connection.resumed, (resumed) => resumed ? Effect.void : Effect.fail(failure("the second connection did not resume")))
    const mustAccept0Rtt = (connection: Connection) =>
      Effect.gen(function*() {
        if (!(yield* connection.is0Rtt)) return yield* Effect.fail(failure("the second connection could not use 0-RTT"))
        if (!(yield* Effect.orElseSucceed(connection.accepted0Rtt, () => false))) {
          return yield* Effect.fail(failure("the server rejected 0-RTT"))
        }
      })

    switch (settings.plan) {
      case "together":
        return yield* session(targets)
      case "oneEach":
        return yield* Effect.forEach(targets, (target) => session([target]), { discard: true })
      case "resume":
      case "zeroRtt":
        yield* session(targets.slice(0, 1))
        if (targets.length > 1) yield* session(targets.slice(1), settings.plan === "resume" ? mustResume : mustAccept0Rtt)
    }
  })
