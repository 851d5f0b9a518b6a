/**
 * `quic-perf server`: answers perf requests and echoes datagrams, for as
 * long as the process runs.
 */
import { Console, Effect, Option, Stream } from "effect"
import { accessSync, constants, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Connection } from "../Connection.js"
import * as Endpoint from "../Endpoint.js"
import * as NodeCertificate from "../NodeCertificate.js"
import * as NodeQlog from "../NodeQlog.js"
import * as NodeUdpSocket from "../NodeUdpSocket.js"
import type { CipherSuiteName } from "../QuicConfig.js"
import type { QuicStream } from "../Stream.js"
import { UdpSocket } from "../UdpSocket.js"
import { PerfError } from "./failure.js"
import { formatAddress, resolveHostPort } from "./hostPort.js"
import { keyLogPath, openKeyLog } from "./keyLog.js"
import { decodeRequest, INCOMPLETE_REQUEST, PATTERN_CHUNK, REQUEST_HEADER_LENGTH } from "./protocol.js"
import { SOCKET_BUFFER_BYTES, transportOptions, type TransportFlags } from "./transport.js"

export interface ServerOptions extends TransportFlags {
  readonly listen: string
  readonly certificate: string | undefined
  readonly privateKey: string | undefined
  readonly alpn: ReadonlyArray<string>
  readonly keyLog: string | undefined
  readonly qlog: string | undefined
  readonly retry: boolean
  readonly cipher: CipherSuiteName | undefined
}

const SELF_SIGNED_NAMES = ["localhost", "127.0.0.1", "::1"]

/** Reads the header, discards the upload, answers with the pattern. */
export const serveRequest = (stream: QuicStream): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const header = new Uint8Array(REQUEST_HEADER_LENGTH)
    let headerBytes = 0
    for (;;) {
      const chunk = yield* stream.read()
      if (Option.isNone(chunk)) break
      if (headerBytes < REQUEST_HEADER_LENGTH) {
        const take = Math.min(REQUEST_HEADER_LENGTH - headerBytes, chunk.value.length)
        header.set(chunk.value.subarray(0, take), headerBytes)
        headerBytes += take
      }
    }
    // The spec's answer to a request that ends before its header.
    if (headerBytes < REQUEST_HEADER_LENGTH) return yield* stream.reset(INCOMPLETE_REQUEST)
    let remaining = decodeRequest(header)
    const chunkLength = BigInt(PATTERN_CHUNK.length)
    // Every chunk but the last is whole, so each starts at a multiple of the pattern chunk.
    while (remaining >= chunkLength) {
      yield* stream.write(PATTERN_CHUNK)
      remaining -= chunkLength
    }
    if (remaining > 0n) yield* stream.write(PATTERN_CHUNK.subarray(0, Number(remaining)))
    yield* stream.finish
  })

/** Serves every request stream, each on its own fiber, until the connection closes. */
const serveRequests = (connection: Connection): Effect.Effect<void> =>
  Effect.forever(Effect.flatMap(connection.acceptBi, (stream) => Effect.fork(Effect.ignore(serveRequest(stream))))).pipe(Effect.ignore)

const echoDatagrams = (connection: Connection): Effect.Effect<void> =>
  Effect.forever(Effect.flatMap(connection.receiveDatagram, (datagram) => Effect.ignore(connection.sendDatagram(datagram))))
    .pipe(Effect.ignore)

/**
 * Plain accept and receive loops rather than merged Streams: a handshake
 * benchmark opens hundreds of connections a second, and each Stream
 * pipeline costs more fibers and channels than the handshake's own work.
 * Datagrams are echoed only when the client accepts them (the spec's "both
 * sides"); a connection without them needs no second fiber.
 */
const serveConnection = (connection: Connection): Effect.Effect<void> =>
  Effect.flatMap(connection.maxDatagramSize, (maxDatagramSize) =>
    maxDatagramSize === 0
      ? serveRequests(connection)
      : Effect.all([serveRequests(connection), echoDatagrams(connection)], { concurrency: "unbounded", discard: true }))

const readableFile = (flag: string, path: string) =>
  Effect.try({
    try: () => {
      accessSync(path, constants.R_OK)
      return path
    },
    catch: () => new PerfError({ reason: "Io", message: `${flag}: cannot read ${path}` })
  })

export const runServer = (options: ServerOptions) =>
  Effect.gen(function*() {
    if ((options.certificate === undefined) !== (options.privateKey === undefined)) {
      return yield* Effect.fail(new PerfError({ reason: "Usage", message: "--cert and --key go together" }))
    }
    const listen = yield* resolveHostPort("--listen", options.listen)
    const generated = options.certificate === undefined ? yield* NodeCertificate.selfSigned({ names: SELF_SIGNED_NAMES }) : undefined
    const keyLog = yield* openKeyLog(keyLogPath(options.keyLog))
    const socket = yield* NodeUdpSocket.make({
      address: listen.address,
      port: listen.port,
      type: listen.family,
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES
    })
    const endpoint = yield* Endpoint.make({
      server: {
        certificate: generated?.certificate ?? (yield* readableFile("--cert", options.certificate!)),
        privateKey: generated?.privateKey ?? (yield* readableFile("--key", options.privateKey!)),
        alpn: options.alpn,
        retry: options.retry,
        earlyData: true
      },
      ...(options.cipher === undefined ? {} : { cipherSuites: [options.cipher] }),
      // The perf protocol has only bidirectional streams: a client gets no credit for others.
      transport: { ...transportOptions(options), maxConcurrentUniStreams: 0 },
      keyLog,
      ...(options.qlog === undefined ? {} : { qlog: NodeQlog.dir(options.qlog) })
    }).pipe(Effect.provideService(UdpSocket, socket))
    const local = yield* endpoint.localAddress
    yield* Console.log(`quic-perf server listening on ${formatAddress(local)} (ALPN ${options.alpn.join(", ")})`)
    if (generated !== undefined) {
      const path = join(tmpdir(), `quic-perf-${local.port}.pem`)
      writeFileSync(path, generated.certificate)
      yield* Console.log(
        `certificate: self-signed for ${SELF_SIGNED_NAMES.join(", ")}, SHA-256 ${generated.fingerprint}; clients verify it with --ca ${path}`
      )
    }
    return yield* endpoint.incoming.pipe(Stream.runForEach((connection) => Effect.fork(serveConnection(connection))))
  })
