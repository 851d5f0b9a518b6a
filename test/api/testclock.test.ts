/**
 * The Effect API over MemoryNetwork under TestClock: everything here runs in
 * virtual time with fixed seeds, so each run replays exactly.
 */
import { it } from "@effect/vitest"
import { Effect, Fiber, Option, Ref, Stream, TestClock } from "effect"
import { expect } from "vitest"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import { awaitDriven, echoServer, envWith, equalBytes, isDone, nowMillis, pattern } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

const connectClient = (config = clientConfig()) =>
  Effect.gen(function*() {
    const client = yield* endpointAt(CLIENT, config)
    const fiber = yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" }))
    return yield* awaitDriven(fiber, { maxMillis: 5_000 })
  })

it.scoped("echoes 1000 streams on one connection, 50 at a time, byte-exact", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    yield* echoServer()
    const connection = yield* connectClient()
    const echoOne = (i: number) =>
      Effect.scoped(Effect.gen(function*() {
        const sent = pattern(i + 1, 1 + ((i * 997) % 3000))
        const stream = yield* connection.openBi
        yield* stream.write(sent)
        yield* stream.finish
        const echoed = yield* stream.readToEnd(1 << 16)
        return equalBytes(sent, echoed) ? 0 : 1
      }))
    const fiber = yield* Effect.fork(
      Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), echoOne, { concurrency: 50 })
    )
    const mismatches = yield* awaitDriven(fiber, { maxMillis: 60_000 })
    expect(mismatches.length).toBe(1000)
    expect(mismatches.filter((m) => m !== 0).length).toBe(0)
  }).pipe(Effect.provide(envWith())), 120_000)

it.scoped("the idle timeout fires when TestClock passes it, not before", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const transport = { idleTimeoutMillis: 5000 }
    const server = yield* endpointAt(SERVER, serverConfig({}, { transport }))
    const client = yield* endpointAt(CLIENT, clientConfig({}, { transport }))
    const connecting = yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" }))
    const accepting = yield* Effect.fork(server.accept)
    const connection = yield* awaitDriven(connecting)
    const accepted = yield* awaitDriven(accepting)
    // Let the handshake's last packets (HANDSHAKE_DONE, tickets, ACKs) settle.
    yield* TestClock.adjust("500 millis")
    const network = yield* MemoryNetwork.MemoryNetwork
    expect(yield* network.inFlight).toBe(0)
    const log = yield* network.log
    const last = Math.max(...log.map((entry) => entry.at))
    const quietSince = yield* nowMillis
    // Both sides wait 5 s after the last packet: at most `last + 5000`.
    const clientClosed = yield* Effect.fork(connection.closed)
    const serverClosed = yield* Effect.fork(accepted.closed)
    yield* TestClock.adjust(last + 5000 - 50 - quietSince)
    expect(yield* isDone(clientClosed)).toBe(false)
    expect(yield* isDone(serverClosed)).toBe(false)
    // And at least 5 s after the handshake completed (a few RTTs before `last`).
    yield* TestClock.adjust("100 millis")
    expect(yield* isDone(clientClosed)).toBe(true)
    expect(yield* isDone(serverClosed)).toBe(true)
    expect(yield* Fiber.join(clientClosed)).toEqual({ _tag: "TimedOut" })
    expect(yield* Fiber.join(serverClosed)).toEqual({ _tag: "TimedOut" })
    // Streams now fail with ConnectionClosedError.
    const error = yield* Effect.flip(Effect.scoped(connection.openBi))
    expect(error).toMatchObject({ _tag: "ConnectionClosedError", closeReason: { _tag: "TimedOut" } })
  }).pipe(Effect.provide(envWith({ conditions: { latency: "10 millis" }, seed: 1, log: true }))))

it.scoped("the PTO retransmits data lost while the link was down, once the clock passes it", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const network = yield* MemoryNetwork.MemoryNetwork
    const server = yield* endpointAt(SERVER, serverConfig())
    const client = yield* endpointAt(CLIENT, clientConfig())
    const accepting = yield* Effect.fork(server.accept)
    const connection = yield* awaitDriven(yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" })))
    const accepted = yield* awaitDriven(accepting)
    yield* TestClock.adjust("200 millis")
    const received = yield* Effect.fork(Effect.gen(function*() {
      const stream = yield* accepted.acceptBi
      return yield* stream.readToEnd(1 << 20)
    }))

    yield* network.setConditions({ latency: "10 millis", loss: 1 })
    const sent = pattern(7, 5000)
    const stream = yield* connection.openBi
    yield* stream.write(sent)
    yield* stream.finish
    const before = (yield* connection.stats)!.packetsSent
    // Several PTOs fire while everything is dropped.
    yield* TestClock.adjust("400 millis")
    expect(yield* isDone(received)).toBe(false)
    const lost = yield* network.linkStats(CLIENT, SERVER)
    expect(lost.lost).toBeGreaterThan(0)
    expect((yield* connection.stats)!.packetsSent).toBeGreaterThan(before)

    yield* network.setConditions({ latency: "10 millis" })
    // Nothing is retransmitted until the (backed-off) PTO expires on the clock.
    expect(yield* isDone(received)).toBe(false)
    const data = yield* awaitDriven(received, { maxMillis: 5_000 })
    expect(equalBytes(data, sent)).toBe(true)
  }).pipe(Effect.provide(envWith())))

it.scoped("a writer suspends under flow control until the peer reads; buffering stays bounded", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const transport = { initialStreamWindow: 16384, maxStreamWindow: 16384, streamSendBuffer: 65536 }
    const server = yield* endpointAt(SERVER, serverConfig({}, { transport }))
    const client = yield* endpointAt(CLIENT, clientConfig({}, { transport }))
    const accepting = yield* Effect.fork(server.accept)
    const connection = yield* awaitDriven(yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" })))
    const accepted = yield* awaitDriven(accepting)

    const total = 1 << 20
    const chunk = 4096
    const sent = pattern(3, total)
    const accepted_ = yield* Ref.make(0)
    const stream = yield* connection.openBi
    const writer = yield* Effect.fork(Effect.gen(function*() {
      for (let at = 0; at < total; at += chunk) {
        yield* stream.write(sent.subarray(at, at + chunk))
        yield* Ref.update(accepted_, (n) => n + chunk)
      }
      yield* stream.finish
    }))
    const peer = yield* awaitDriven(yield* Effect.fork(accepted.acceptBi))
    yield* TestClock.adjust("2 seconds")
    expect(yield* isDone(writer)).toBe(false)
    const acceptedBytes = yield* Ref.get(accepted_)
    // At most the peer's window plus our send buffer (plus the chunk in hand).
    expect(acceptedBytes).toBeGreaterThanOrEqual(16384)
    expect(acceptedBytes).toBeLessThanOrEqual(16384 + 65536 + chunk)
    const stats = (yield* connection.stats)!
    expect(stats.bytesInFlight).toBeLessThanOrEqual(16384 + 4096)
    yield* TestClock.adjust("2 seconds")
    expect(yield* Ref.get(accepted_)).toBe(acceptedBytes)

    const reader = yield* Effect.fork(peer.readToEnd(total))
    const received = yield* awaitDriven(reader, { maxMillis: 120_000 })
    expect(yield* isDone(writer)).toBe(true)
    yield* Fiber.join(writer)
    expect(equalBytes(received, sent)).toBe(true)
  }).pipe(Effect.provide(envWith())), 120_000)

it.scoped("StreamsAvailable wakes an openBi waiting on the peer's stream limit", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    yield* echoServer(serverConfig({}, { transport: { maxConcurrentBidiStreams: 2 } }))
    const connection = yield* connectClient()
    const first = yield* connection.openBi
    const second = yield* connection.openBi
    yield* second.write(new Uint8Array([2]))
    const third = yield* Effect.fork(connection.openBi)
    yield* TestClock.adjust("500 millis")
    expect(yield* isDone(third)).toBe(false)

    // The first stream ends on both sides (we finish, the echo server finishes).
    yield* first.write(new Uint8Array([1]))
    yield* first.finish
    const echoed = yield* awaitDriven(yield* Effect.fork(first.readToEnd(16)))
    expect(Array.from(echoed)).toEqual([1])
    const opened = yield* awaitDriven(third, { maxMillis: 2_000 })
    yield* opened.write(new Uint8Array([3]))
    yield* opened.finish
    expect(Array.from(yield* awaitDriven(yield* Effect.fork(opened.readToEnd(16))))).toEqual([3])
  }).pipe(Effect.provide(envWith())))

it.scoped("an openBi waiting on the peer's stream limit can be interrupted, and the credit goes to a later one", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    yield* echoServer(serverConfig({}, { transport: { maxConcurrentBidiStreams: 1 } }))
    const connection = yield* connectClient()
    const first = yield* connection.openBi
    const waiting = yield* Effect.fork(Effect.scoped(connection.openBi))
    yield* TestClock.adjust("500 millis")
    expect(yield* isDone(waiting)).toBe(false)
    // Nothing was opened yet, so the wait gives way at once.
    yield* Fiber.interrupt(waiting)

    yield* first.write(new Uint8Array([1]))
    yield* first.finish
    expect(Array.from(yield* awaitDriven(yield* Effect.fork(first.readToEnd(16))))).toEqual([1])
    const next = yield* awaitDriven(yield* Effect.fork(connection.openBi), { maxMillis: 2_000 })
    yield* next.write(new Uint8Array([2]))
    yield* next.finish
    expect(Array.from(yield* awaitDriven(yield* Effect.fork(next.readToEnd(16))))).toEqual([2])
  }).pipe(Effect.provide(envWith())))

it.scoped("interrupting a reader leaves the stream and the connection healthy", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    yield* echoServer()
    const connection = yield* connectClient()
    const a = yield* connection.openBi
    yield* a.write(new TextEncoder().encode("first"))
    const reader = yield* Effect.fork(a.read())
    yield* TestClock.adjust("1 millis")
    expect(yield* isDone(reader)).toBe(false)
    yield* Fiber.interrupt(reader)
    // The echo arrives after the interrupted read: a later read gets it.
    yield* TestClock.adjust("100 millis")
    const chunk = yield* awaitDriven(yield* Effect.fork(a.read()))
    expect(new TextDecoder().decode(Option.getOrThrow(chunk))).toBe("first")

    // An interrupted read while the echo is on its way, then the rest of the stream.
    yield* a.write(new TextEncoder().encode("second"))
    yield* Fiber.interrupt(yield* Effect.fork(a.read()))
    yield* a.finish
    const rest = yield* awaitDriven(yield* Effect.fork(a.readToEnd(1024)))
    expect(new TextDecoder().decode(rest)).toBe("second")

    const b = yield* connection.openBi
    yield* b.write(new TextEncoder().encode("new stream"))
    yield* b.finish
    expect(new TextDecoder().decode(yield* awaitDriven(yield* Effect.fork(b.readToEnd(1024))))).toBe("new stream")
    expect(yield* isDone(yield* Effect.fork(connection.closed))).toBe(false)
  }).pipe(Effect.provide(envWith())))

it.scoped("closing the client's scope sends CONNECTION_CLOSE: the server sees code 0", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const server = yield* endpointAt(SERVER, serverConfig())
    const client = yield* endpointAt(CLIENT, clientConfig())
    const accepting = yield* Effect.fork(server.accept)
    const local = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
      const connection = yield* client.connect(SERVER, { serverName: "localhost" })
      const stream = yield* connection.openBi
      yield* stream.write(new Uint8Array([1, 2, 3]))
      yield* stream.finish
      return connection
    })))
    const accepted = yield* awaitDriven(accepting)
    const connection = yield* awaitDriven(local)
    const serverClosed = yield* Effect.fork(accepted.closed)
    expect(yield* connection.closed).toMatchObject({ _tag: "LocallyClosed", code: 0n })
    const reason = yield* awaitDriven(serverClosed, { maxMillis: 1_000 })
    expect(reason).toMatchObject({ _tag: "ApplicationClosed", code: 0n })
    // Not an idle timeout: it arrived one trip after the close.
    expect(yield* nowMillis).toBeLessThan(NOW + 1_000)
  }).pipe(Effect.provide(envWith())))

it.scoped("address rebinding mid-transfer emits PeerAddressChanged and the transfer finishes", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const network = yield* MemoryNetwork.MemoryNetwork
    const server = yield* endpointAt(SERVER, serverConfig())
    const client = yield* endpointAt(CLIENT, clientConfig())
    const accepting = yield* Effect.fork(server.accept)
    const connection = yield* awaitDriven(yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" })))
    const accepted = yield* awaitDriven(accepting)
    const changes = yield* Effect.fork(accepted.events.pipe(
      Stream.filter((event) => event._tag === "PeerAddressChanged"),
      Stream.take(1),
      Stream.runCollect
    ))
    const total = 2 << 20
    const sent = pattern(9, total)
    const writer = yield* Effect.fork(Effect.gen(function*() {
      const stream = yield* connection.openUni
      yield* stream.write(sent)
      yield* stream.finish
    }))
    const reader = yield* Effect.fork(Effect.gen(function*() {
      const stream = yield* accepted.acceptUni
      return yield* stream.readToEnd(total)
    }))
    yield* TestClock.adjust("100 millis")
    expect(yield* isDone(reader)).toBe(false)
    yield* network.rebind(CLIENT, { address: "10.0.0.3", port: 50001 })
    const received = yield* awaitDriven(reader, { maxMillis: 60_000 })
    yield* Fiber.join(writer)
    expect(equalBytes(received, sent)).toBe(true)
    const events = yield* awaitDriven(changes, { maxMillis: 1_000 })
    expect(Array.from(events)).toEqual([{
      _tag: "PeerAddressChanged",
      previous: CLIENT,
      current: { address: "10.0.0.3", port: 50001 }
    }])
    expect(yield* accepted.remoteAddress).toEqual({ address: "10.0.0.3", port: 50001 })
  }).pipe(Effect.provide(envWith())), 120_000)
