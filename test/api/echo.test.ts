import { it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { expect } from "vitest"
import { echoServer, envWith } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER } from "./support.js"

const env = envWith({ conditions: { latency: "10 millis" }, seed: 1 })

it.layer(env)("Effect API over MemoryNetwork", (it) => {
  it.scoped("echoes a message over one stream, in virtual time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* echoServer()
      const client = yield* endpointAt(CLIENT, clientConfig())
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const connection = yield* client.connect(SERVER, { serverName: "localhost" })
        const stream = yield* connection.openBi
        yield* stream.write(new TextEncoder().encode("hello quic"))
        yield* stream.finish
        return new TextDecoder().decode(yield* stream.readToEnd(1 << 16))
      }))
      yield* TestClock.adjust("1 second")
      const echoed = yield* Fiber.join(fiber)
      expect(echoed).toBe("hello quic")
    }))

  it.scoped("a connection's members work when taken from it (close is bound, the rest are Effects)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* echoServer()
      const client = yield* endpointAt(CLIENT, clientConfig())
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const { alpn, close, closed, side } = yield* client.connect(SERVER, { serverName: "localhost" })
        return { side, alpn: yield* alpn, closedBy: yield* Effect.zipRight(close(7, "bye"), closed) }
      }))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toEqual({
        side: "client",
        alpn: "echo",
        closedBy: { _tag: "LocallyClosed", code: 7n, reason: "bye" }
      })
    }))

  it.scoped("a stream's members work when taken from it: write, writeAll, finish, acknowledged, readToEnd", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* echoServer()
      const client = yield* endpointAt(CLIENT, clientConfig())
      const encode = (text: string) => new TextEncoder().encode(text)
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const connection = yield* client.connect(SERVER, { serverName: "localhost" })
        const { acknowledged, finish, readToEnd, write, writeAll } = yield* connection.openBi
        yield* Effect.forEach([encode("one "), encode("two ")], write, { discard: true })
        yield* writeAll([encode("three "), encode("four")])
        yield* finish
        yield* acknowledged
        return new TextDecoder().decode(yield* readToEnd(1 << 16))
      })))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("one two three four")
    }))
})

