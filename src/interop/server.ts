/**
 * The interop server: serves the files of a folder over HTTP/0.9
 * (`hq-interop`), and perf requests (ALPN `perf`, the quic-go peer's
 * client), until the process is stopped.
 */
import { Console, Effect, Stream } from "effect"
import { open } from "node:fs/promises"
import { isIP } from "node:net"
import { networkInterfaces } from "node:os"
import { join } from "node:path"
import type { Connection } from "../Connection.js"
import * as Endpoint from "../Endpoint.js"
import * as NodeQlog from "../NodeQlog.js"
import * as NodeUdpSocket from "../NodeUdpSocket.js"
import { formatAddress } from "../perf/hostPort.js"
import { openKeyLog } from "../perf/keyLog.js"
import { PERF_ALPN } from "../perf/protocol.js"
import { serveRequest as servePerfRequest } from "../perf/server.js"
import { SOCKET_BUFFER_BYTES } from "../perf/transport.js"
import type { QuicStream } from "../Stream.js"
import { UdpSocket } from "../UdpSocket.js"
import { type CaseSettings, interopCipherSuites } from "./cases.js"
import { HQ_ALPN, MAX_REQUEST_BYTES, parseRequest } from "./request.js"
import { interopTransport } from "./transport.js"

export interface ServerOptions {
  readonly settings: CaseSettings
  readonly www: string
  readonly certs: string
  readonly listen: string
  readonly port: number
  /** The port of the preferred address (0: any free one). */
  readonly preferredPort: number
  readonly keyLog: string | undefined
  readonly qlogDir: string | undefined
}

/** The application error code of a request that names no servable file. */
export const REQUEST_REFUSED = 0x1

const CHUNK_BYTES = 64 * 1024

/**
 * Sends the file's bytes in fresh chunks (a written chunk may be kept until
 * acknowledged). Each chunk is read before the previous one is written, so
 * the last write and the FIN happen in one turn and leave in one packet: a
 * FIN alone in a packet of its own is one more packet to lose.
 */
const sendFile = (stream: QuicStream, path: string) =>
  Effect.acquireUseRelease(
    Effect.tryPromise(() => open(path, "r")),
    (file) =>
      Effect.gen(function*() {
        const readChunk = Effect.tryPromise(async () => {
          const chunk = new Uint8Array(CHUNK_BYTES)
          const { bytesRead } = await file.read(chunk, 0, CHUNK_BYTES, null)
          return bytesRead === CHUNK_BYTES ? chunk : chunk.subarray(0, bytesRead)
        })
        let chunk = yield* readChunk
        while (chunk.length > 0) {
          const next = yield* readChunk
          yield* stream.write(chunk)
          chunk = next
        }
        yield* stream.finish
      }),
    (file) => Effect.promise(() => file.close())
  )

const serveHqRequest = (www: string) => (stream: QuicStream): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const request = yield* stream.readToEnd(MAX_REQUEST_BYTES)
    if (stream.direction === "uni") return
    const name = parseRequest(request)
    if (name === undefined) return yield* stream.reset(REQUEST_REFUSED)
    yield* sendFile(stream, join(www, name)).pipe(Effect.catchAll(() => stream.reset(REQUEST_REFUSED)))
  })

const serveConnection = (www: string) => (connection: Connection): Effect.Effect<void> =>
  Effect.gen(function*() {
    const serve = (yield* connection.alpn) === PERF_ALPN ? servePerfRequest : serveHqRequest(www)
    yield* Effect.forever(Effect.flatMap(connection.acceptBi, (stream) => Effect.fork(Effect.ignore(serve(stream)))))
  }).pipe(Effect.ignore)

/**
 * The preferred address on the listening host: the listen address itself, or
 * for a wildcard listen the first external address of each family (the
 * runner's containers have one), else loopback.
 */
const preferredAddress = (listen: string, port: number) => {
  const hostPort = (address: string) => address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`
  if (listen !== "::" && listen !== "0.0.0.0") {
    return isIP(listen) === 6 ? { ipv6: hostPort(listen) } : { ipv4: hostPort(listen) }
  }
  const external = Object.values(networkInterfaces()).flatMap((list) => list ?? []).filter((i) => !i.internal && !i.address.startsWith("fe80"))
  const ipv4 = external.find((i) => i.family === "IPv4")?.address ?? "127.0.0.1"
  const ipv6 = external.find((i) => i.family === "IPv6")?.address ?? "::1"
  return listen === "::" ? { ipv4: hostPort(ipv4), ipv6: hostPort(ipv6) } : { ipv4: hostPort(ipv4) }
}

export const runServer = (options: ServerOptions) =>
  Effect.gen(function*() {
    const keyLog = yield* openKeyLog(options.keyLog)
    const family = options.listen.includes(":") ? "udp6" : "udp4"
    const socket = yield* NodeUdpSocket.make({
      address: options.listen,
      port: options.port,
      type: family,
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES
    })
    const { settings } = options
    const endpoint = yield* Endpoint.make({
      server: {
        certificate: join(options.certs, "cert.pem"),
        privateKey: join(options.certs, "priv.key"),
        alpn: [HQ_ALPN, PERF_ALPN],
        retry: settings.retry,
        earlyData: settings.earlyData,
        ...(settings.preferV2 ? { versions: ["v2", "v1"] as const } : {}),
        ...(settings.preferredAddress ? { preferredAddress: preferredAddress(options.listen, options.preferredPort) } : {})
      },
      cipherSuites: interopCipherSuites(settings),
      transport: interopTransport,
      keyLog,
      ...(options.qlogDir === undefined ? {} : { qlog: NodeQlog.dir(options.qlogDir) })
    }).pipe(Effect.provideService(UdpSocket, socket))
    yield* Console.log(`quic-interop server listening on ${formatAddress(yield* endpoint.localAddress)}`)
    return yield* endpoint.incoming.pipe(Stream.runForEach((connection) => Effect.fork(serveConnection(options.www)(connection))))
  })
