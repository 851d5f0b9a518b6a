import { it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream, TestClock } from "effect"
import { expect } from "vitest"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import { clientConfig, endpointAt, NOW, SERVER, CLIENT, serverConfig } from "./support.js"

const env = Layer.mergeAll(MemoryNetwork.layer({ conditions: { latency: "10 millis" }, seed: 1 }), NodeCrypto.layer)

const echoServer = (config = serverConfig()) =>
  Effect.gen(function*() {
    const server = yield* endpointAt(SERVER, config)
    yield* server.incoming.pipe(
      Stream.runForEach((connection) =>
        connection.incomingStreams.pipe(
          Stream.runForEach((stream) => stream.readable.pipe(Stream.run(stream.sink), Effect.ignore, Effect.fork)),
          Effect.ignore,
          Effect.fork
        )
      ),
      Effect.forkScoped
    )
    return server
  })

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
})

