/**
 * 0-RTT through the Effect API (RFC 9001 §4.6): a resumed `connect` returns
 * before the handshake completes and its data arrives; a server that no
 * longer accepts early data rejects it and the data is sent again in 1-RTT.
 */
import { it } from "@effect/vitest"
import { Effect, Scope, TestClock, Exit } from "effect"
import { expect } from "vitest"
import type { Endpoint } from "../../src/Endpoint.js"
import { awaitDriven, echoServer, envWith, isDone, recordEvents } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

const text = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

/** A full handshake that leaves the client with a session ticket. */
const primeTicket = (client: Endpoint) =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* awaitDriven(yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" })))
    expect(yield* connection.resumed).toBe(false)
    const stream = yield* connection.openBi
    yield* stream.write(text("first"))
    yield* stream.finish
    expect(decode(yield* awaitDriven(yield* Effect.fork(stream.readToEnd(1024))))).toBe("first")
    // NewSessionTicket follows the handshake.
    yield* TestClock.adjust("200 millis")
  }))

/** A resumed connection: `connect` must be done without the clock moving. */
const connectEarly = (client: Endpoint, message: string) =>
  Effect.gen(function*() {
    const connecting = yield* Effect.fork(Effect.gen(function*() {
      const connection = yield* client.connect(SERVER, { serverName: "localhost" })
      const stream = yield* connection.openBi
      yield* stream.write(text(message))
      yield* stream.finish
      return { connection, stream }
    }))
    // No time passes: connect returned on 0-RTT keys, before any reply.
    expect(yield* isDone(connecting)).toBe(true)
    return yield* awaitDriven(connecting)
  })

it.scoped("0-RTT: accepted by the same server, rejected by one without early data", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    const client = yield* endpointAt(CLIENT, clientConfig({ earlyData: true }))

    // Accepted.
    const first = yield* Scope.make()
    yield* echoServer(serverConfig({ earlyData: true })).pipe(Scope.extend(first))
    yield* primeTicket(client)
    yield* Effect.scoped(Effect.gen(function*() {
      const { connection, stream } = yield* connectEarly(client, "early")
      expect(yield* connection.is0Rtt).toBe(true)
      const events = yield* recordEvents(connection)
      expect(decode(yield* awaitDriven(yield* Effect.fork(stream.readToEnd(1024))))).toBe("early")
      expect(yield* awaitDriven(yield* Effect.fork(connection.accepted0Rtt))).toBe(true)
      expect(yield* connection.resumed).toBe(true)
      expect(events.map((e) => e._tag)).not.toContain("ZeroRttRejected")
      yield* TestClock.adjust("200 millis")
    }))
    yield* Scope.close(first, Exit.void)
    yield* TestClock.adjust("100 millis")

    // Rejected: a new server endpoint at the same address, without early data.
    yield* echoServer(serverConfig({ earlyData: false }))
    const { connection, stream } = yield* connectEarly(client, "rejected but delivered")
    expect(yield* connection.is0Rtt).toBe(true)
    const events = yield* recordEvents(connection)
    expect(decode(yield* awaitDriven(yield* Effect.fork(stream.readToEnd(1024))))).toBe("rejected but delivered")
    expect(yield* awaitDriven(yield* Effect.fork(connection.accepted0Rtt))).toBe(false)
    expect(events.map((e) => e._tag)).toContain("ZeroRttRejected")
  }).pipe(Effect.provide(envWith())))
