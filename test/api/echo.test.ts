import { it } from "@effect/vitest"
import { Effect, Fiber, type Scope, TestClock } from "effect"
import { expect } from "vitest"
import type * as Endpoint from "../../src/Endpoint.js"
import { echoServer, envWith } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER } from "./support.js"

const env = envWith({ conditions: { latency: "10 millis" }, seed: 1 })

/** Runs `body` on a client endpoint beside an echo server, lets a second of virtual time pass, and gives its result. */
const againstEcho = <A, E>(body: (client: Endpoint.Endpoint) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    yield* echoServer()
    const client = yield* endpointAt(CLIENT, clientConfig())
    const fiber = yield* Effect.fork(Effect.scoped(body(client)))
    yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

it.layer(env)("Effect API over MemoryNetwork", (it) => {
  it.scoped("echoes a message over one stream, in virtual time", () =>
    Effect.gen(function*() {
      const echoed = yield* againstEcho((client) =>
        Effect.gen(function*() {
          const connection = yield* client.connect(SERVER, { serverName: "localhost" })
          const stream = yield* connection.openBi
          yield* stream.write(new TextEncoder().encode("hello quic"))
          yield* stream.finish
          return new TextDecoder().decode(yield* stream.readToEnd(1 << 16))
        })
      )
      expect(echoed).toBe("hello quic")
    }))

  it.scoped("a connection's members work when taken from it (close is bound, the rest are Effects)", () =>
    Effect.gen(function*() {
      const result = yield* againstEcho((client) =>
        Effect.gen(function*() {
          const { alpn, close, closed, side } = yield* client.connect(SERVER, { serverName: "localhost" })
          return { side, alpn: yield* alpn, closedBy: yield* Effect.zipRight(close(7, "bye"), closed) }
        })
      )
      expect(result).toEqual({
        side: "client",
        alpn: "echo",
        closedBy: { _tag: "LocallyClosed", code: 7n, reason: "bye" }
      })
    }))

  it.scoped("a stream's members work when taken from it: write, writeAll, finish, acknowledged, readToEnd", () =>
    Effect.gen(function*() {
      const encode = (text: string) => new TextEncoder().encode(text)
      const echoed = yield* againstEcho((client) =>
        Effect.gen(function*() {
          const connection = yield* client.connect(SERVER, { serverName: "localhost" })
          const { acknowledged, finish, readToEnd, write, writeAll } = yield* connection.openBi
          yield* Effect.forEach([encode("one "), encode("two ")], write, { discard: true })
          yield* writeAll([encode("three "), encode("four")])
          yield* finish
          yield* acknowledged
          return new TextDecoder().decode(yield* readToEnd(1 << 16))
        })
      )
      expect(echoed).toBe("one two three four")
    }))
})
