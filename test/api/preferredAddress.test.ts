import { it } from "@effect/vitest"
import { Effect, Either, Fiber, Schema, TestClock } from "effect"
import { describe, expect } from "vitest"
import type { Connection } from "../../src/Connection.js"
import * as Endpoint from "../../src/Endpoint.js"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import * as NodeUdpSocket from "../../src/NodeUdpSocket.js"
import * as QuicConfig from "../../src/QuicConfig.js"
import { UdpSocket } from "../../src/UdpSocket.js"
import { awaitDriven, echoServer, envWith, equalBytes, pattern, serveEcho } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

/**
 * The interop runner's `connectionmigration` case through the public API:
 * a server offers a preferred address (RFC 9000 §9.6) on a second socket
 * the endpoint binds itself; the client connects to the first address,
 * moves there once the handshake is confirmed, and the transfer goes on.
 */

const PREFERRED = { address: "10.0.0.9", port: 4434 }
const OTHER_CLIENT = { address: "10.0.0.3", port: 50001 }

/** Writes `data` on a new stream and reads the echo back. */
const echoOnce = (connection: Connection, data: Uint8Array) =>
  Effect.gen(function*() {
    const stream = yield* connection.openBi
    const writer = yield* Effect.fork(Effect.gen(function*() {
      for (let at = 0; at < data.length; at += 64 * 1024) yield* stream.write(data.subarray(at, at + 64 * 1024))
      yield* stream.finish
    }))
    const echoed = yield* stream.readToEnd(data.length + 1)
    yield* Fiber.join(writer)
    return echoed
  })

it.layer(envWith({ conditions: { latency: "10 millis" }, seed: 3 }))("preferred address over MemoryNetwork", (it) => {
  it.scoped("the client connects to the first address, transfers, and ends at the preferred one", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* echoServer(serverConfig({ preferredAddress: { ipv4: `${PREFERRED.address}:${PREFERRED.port}` } }))
      const client = yield* endpointAt(CLIENT, clientConfig())
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const connection = yield* client.connect(SERVER, { serverName: "localhost" })
        const before = yield* connection.remoteAddress
        const first = pattern(1, 64 * 1024)
        const echoed1 = yield* echoOnce(connection, first)
        // The move takes a round trip or two after confirmation; let it happen, then transfer again.
        yield* Effect.sleep("200 millis")
        const after = yield* connection.remoteAddress
        const second = pattern(2, 256 * 1024)
        const echoed2 = yield* echoOnce(connection, second)
        return { before, after, exact: equalBytes(echoed1, first) && equalBytes(echoed2, second) }
      }))
      const result = yield* awaitDriven(fiber, { maxMillis: 30_000 })
      expect(result.before).toEqual(SERVER)
      expect(result.after).toEqual(PREFERRED)
      expect(result.exact).toBe(true)
      // Traffic went to the preferred address's socket.
      const network = yield* MemoryNetwork.MemoryNetwork
      expect((yield* network.linkStats(CLIENT, PREFERRED)).delivered).toBeGreaterThan(100)
      expect((yield* network.linkStats(PREFERRED, CLIENT)).delivered).toBeGreaterThan(100)
    }))

  it.scoped("migrateToPreferredAddress: false keeps the client at the first address", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* echoServer(serverConfig({ preferredAddress: { ipv4: `${PREFERRED.address}:${PREFERRED.port}` } }))
      // Another client address: the network (and its counters) is shared by this block's tests.
      const client = yield* endpointAt(OTHER_CLIENT, clientConfig({ migrateToPreferredAddress: false }))
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const connection = yield* client.connect(SERVER, { serverName: "localhost" })
        const data = pattern(3, 64 * 1024)
        const echoed = yield* echoOnce(connection, data)
        yield* Effect.sleep("500 millis")
        return { after: yield* connection.remoteAddress, exact: equalBytes(echoed, data) }
      }))
      const result = yield* awaitDriven(fiber, { maxMillis: 30_000 })
      expect(result.after).toEqual(SERVER)
      expect(result.exact).toBe(true)
      const network = yield* MemoryNetwork.MemoryNetwork
      expect((yield* network.linkStats(OTHER_CLIENT, SERVER)).delivered).toBeGreaterThan(10)
      expect((yield* network.linkStats(OTHER_CLIENT, PREFERRED)).delivered).toBe(0)
    }))

  it.scoped("a preferred address on a socket that cannot bind another is a ConfigError", () =>
    Effect.gen(function*() {
      const socket = yield* MemoryNetwork.makeSocket({ address: "10.0.0.7", port: 1 })
      // The public service only: no direct interface, so no `bind`.
      const plain = { localAddress: socket.localAddress, send: socket.send, receive: socket.receive }
      const exit = yield* Endpoint.make(serverConfig({ preferredAddress: { ipv4: "10.0.0.8:1" } })).pipe(
        Effect.provideService(UdpSocket, plain),
        Effect.exit
      )
      expect(String(exit)).toContain("preferredAddress")
    }))
})

describe("ServerConfig.preferredAddress schema", () => {
  const decode = Schema.decodeUnknownEither(QuicConfig.PreferredAddress)
  it("takes an IPv4 and/or an IPv6 address with a port, and nothing else", () => {
    expect(Either.isRight(decode({ ipv4: "192.0.2.7:4434" }))).toBe(true)
    expect(Either.isRight(decode({ ipv6: "[2001:db8::7]:4434" }))).toBe(true)
    expect(Either.isRight(decode({ ipv4: "127.0.0.1:0", ipv6: "[::1]:0" }))).toBe(true)
    for (const bad of [{}, { ipv4: "192.0.2.7" }, { ipv4: "300.0.0.1:1" }, { ipv4: "[::1]:1" }, { ipv6: "::1:4434" }, { ipv6: "[::1]:70000" }]) {
      expect(Either.isLeft(decode(bad))).toBe(true)
    }
  })
})

describe("preferred address on real sockets", () => {
  it.scopedLive("127.0.0.1: the client moves to the second socket's port and the transfer is byte-exact", () =>
    Effect.gen(function*() {
      const serverSocket = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4" })
      // Port 0: the endpoint binds a free port and offers that one.
      const server = yield* Endpoint.make(serverConfig({ preferredAddress: { ipv4: "127.0.0.1:0" } })).pipe(
        Effect.provideService(UdpSocket, serverSocket)
      )
      yield* serveEcho(server)
      const serverAddress = yield* serverSocket.localAddress
      const clientSocket = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4" })
      const client = yield* Endpoint.make(clientConfig()).pipe(Effect.provideService(UdpSocket, clientSocket))
      const connection = yield* client.connect(serverAddress, { serverName: "localhost" })
      expect(yield* connection.remoteAddress).toEqual(serverAddress)
      const first = pattern(4, 1 << 20)
      expect(equalBytes(yield* echoOnce(connection, first), first)).toBe(true)
      // The move follows confirmation by a round trip: wait for it (loopback: well under a second).
      let after = yield* connection.remoteAddress
      for (let i = 0; i < 200 && after?.port === serverAddress.port; i++) {
        yield* Effect.sleep("10 millis")
        after = yield* connection.remoteAddress
      }
      expect(after?.address).toBe("127.0.0.1")
      expect(after?.port).not.toBe(serverAddress.port)
      const second = pattern(5, 4 << 20)
      expect(equalBytes(yield* echoOnce(connection, second), second)).toBe(true)
      expect(yield* connection.remoteAddress).toEqual(after)
    }).pipe(Effect.provide(NodeCrypto.layer)), 30_000)
})
