import { it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import { describe, expect } from "vitest"
import * as Endpoint from "../../src/Endpoint.js"
import * as NobleCrypto from "../../src/NobleCrypto.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import * as NodeUdpSocket from "../../src/NodeUdpSocket.js"
import type { EndpointConfigInput } from "../../src/QuicConfig.js"
import { UdpSocket } from "../../src/UdpSocket.js"
import { clientConfig, serverConfig } from "./support.js"

const MB = 1 << 20

const pattern = (size: number): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff
  return out
}

/** An endpoint on a fresh node:dgram socket bound to `address` with a system-chosen port. */
const endpointOn = (address: string, type: "udp4" | "udp6", config: EndpointConfigInput) =>
  Effect.gen(function*() {
    const socket = yield* NodeUdpSocket.make({ address, port: 0, type })
    const endpoint = yield* Endpoint.make(config).pipe(Effect.provideService(UdpSocket, socket))
    return { endpoint, port: (yield* socket.localAddress).port }
  })

/** Echoes every stream and every datagram back. */
const echo = (endpoint: Endpoint.Endpoint) =>
  endpoint.incoming.pipe(
    Stream.runForEach((connection) =>
      Effect.all([
        connection.incomingStreams.pipe(
          Stream.runForEach((stream) => stream.readable.pipe(Stream.run(stream.sink), Effect.ignore, Effect.fork)),
          Effect.ignore
        ),
        connection.datagrams.pipe(Stream.runForEach((d) => connection.sendDatagram(d).pipe(Effect.ignore)))
      ], { concurrency: "unbounded", discard: true }).pipe(Effect.fork)
    ),
    Effect.forkScoped
  )

describe.each([
  ["127.0.0.1", "udp4"],
  ["::1", "udp6"]
] as const)("Effect API on real sockets at %s", (host, type) => {
  it.scopedLive("handshakes, echoes 10 MB byte-exact and echoes datagrams", () =>
    Effect.gen(function*() {
      const { endpoint: server, port } = yield* endpointOn(host, type, serverConfig())
      yield* echo(server)
      const { endpoint: client } = yield* endpointOn(host, type, clientConfig())
      const connection = yield* client.connect({ address: host, port }, { serverName: "localhost" })
      expect(yield* connection.alpn).toBe("echo")

      const data = pattern(10 * MB)
      const stream = yield* connection.openBi
      const writer = yield* Effect.fork(
        Effect.gen(function*() {
          for (let at = 0; at < data.length; at += 256 * 1024) yield* stream.write(data.subarray(at, at + 256 * 1024))
          yield* stream.finish
        })
      )
      const echoed = yield* stream.readToEnd(11 * MB)
      yield* writer.await
      expect(echoed.length).toBe(data.length)
      expect(Buffer.compare(echoed, data)).toBe(0)

      const received = yield* Effect.fork(connection.datagrams.pipe(Stream.take(3), Stream.runCollect))
      for (const n of [1, 2, 3]) yield* connection.sendDatagram(new Uint8Array(100).fill(n))
      const datagrams = yield* received.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
      expect([...datagrams].map((d) => d[0]).sort()).toEqual([1, 2, 3])
      yield* connection.close(0, "done")
      expect((yield* connection.closed)._tag).toBe("LocallyClosed")
    }).pipe(Effect.provide(NodeCrypto.layer)), 60_000)
})

describe("both crypto layers run the same end-to-end exchange", () => {
  it.each([
    ["NodeCrypto", NodeCrypto.layer],
    ["NobleCrypto", NobleCrypto.layer]
  ] as const)("%s", (_name, layer) =>
    Effect.gen(function*() {
      const { endpoint: server, port } = yield* endpointOn("127.0.0.1", "udp4", serverConfig())
      yield* echo(server)
      const { endpoint: client } = yield* endpointOn("127.0.0.1", "udp4", clientConfig())
      const connection = yield* client.connect({ address: "127.0.0.1", port }, { serverName: "localhost" })
      const stream = yield* connection.openBi
      yield* stream.write(pattern(100_000))
      yield* stream.finish
      const echoed = yield* stream.readToEnd(1 << 20)
      expect(Buffer.compare(echoed, pattern(100_000))).toBe(0)
      const first = yield* stream.read()
      expect(Option.isNone(first)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(Layer.fresh(layer)), Effect.runPromise), 60_000)
})

describe("closing an endpoint on a real socket", () => {
  it.scopedLive("sends its CONNECTION_CLOSE before the socket goes, even right after a datagram round trip", () =>
    Effect.gen(function*() {
      const { endpoint: server, port } = yield* endpointOn("127.0.0.1", "udp4", serverConfig())
      const accepted = yield* Effect.fork(server.accept)
      const clientScope = yield* Scope.make()
      const { endpoint: client } = yield* endpointOn("127.0.0.1", "udp4", clientConfig()).pipe(Scope.extend(clientScope))
      const connection = yield* client.connect({ address: "127.0.0.1", port }, { serverName: "localhost" }).pipe(Scope.extend(clientScope))
      const serverSide = yield* Fiber.join(accepted)
      yield* serverSide.datagrams.pipe(Stream.runForEach((d) => serverSide.sendDatagram(d).pipe(Effect.ignore)), Effect.forkScoped)
      const echoed = yield* Effect.fork(connection.datagrams.pipe(Stream.take(1), Stream.runCollect))
      yield* connection.sendDatagram(new Uint8Array(64).fill(7))
      yield* Fiber.join(echoed).pipe(Effect.timeout("5 seconds"))
      // At once: the close must still reach the server, long before its 30 s idle timeout.
      yield* Scope.close(clientScope, Exit.void)
      const reason = yield* serverSide.closed.pipe(Effect.timeout("5 seconds"))
      expect(reason).toMatchObject({ _tag: "ApplicationClosed", code: 0n })
    }).pipe(Effect.provide(NodeCrypto.layer)), 30_000)
})
