/**
 * QUIC versions through the Effect API (MemoryNetwork under TestClock): the
 * server's `versions` preference moves a v1 client to v2 by compatible
 * negotiation (RFC 9368), and `Connection.version` shows where both sides
 * ended; the configuration is checked when decoded.
 */
import { it } from "@effect/vitest"
import { Effect, Fiber, Stream, TestClock } from "effect"
import { expect } from "vitest"
import type { Connection } from "../../src/Connection.js"
import type { EndpointConfigInput } from "../../src/QuicConfig.js"
import { envWith } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, expectConfigError, NOW, SERVER, serverConfig } from "./support.js"

const env = envWith({ conditions: { latency: "10 millis" }, seed: 1 })

/** An echo server that also reports the version of each connection once its first stream is done. */
const echoServerReporting = (config: EndpointConfigInput, versions: Array<string | undefined>) =>
  Effect.gen(function*() {
    const server = yield* endpointAt(SERVER, config)
    yield* server.incoming.pipe(
      Stream.runForEach((connection: Connection) =>
        connection.incomingStreams.pipe(
          Stream.runForEach((stream) =>
            stream.readable.pipe(
              Stream.run(stream.sink),
              Effect.ignore,
              Effect.zipRight(Effect.flatMap(connection.version, (v) => Effect.sync(() => void versions.push(v)))),
              Effect.fork
            )
          ),
          Effect.ignore,
          Effect.fork
        )
      ),
      Effect.forkScoped
    )
  })

const echoOnce = (clientVersion?: "v1" | "v2") =>
  Effect.gen(function*() {
    const client = yield* endpointAt(CLIENT, clientConfig(clientVersion === undefined ? {} : { version: clientVersion }))
    const fiber = yield* Effect.fork(Effect.gen(function*() {
      const connection = yield* client.connect(SERVER, { serverName: "localhost" })
      const stream = yield* connection.openBi
      yield* stream.write(new TextEncoder().encode("which version?"))
      yield* stream.finish
      const echoed = new TextDecoder().decode(yield* stream.readToEnd(1 << 16))
      return { echoed, version: yield* connection.version }
    }))
    yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

it.layer(env)("QUIC versions through the Effect API", (it) => {
  it.scoped("a server with versions [\"v2\", \"v1\"] moves a v1 client to v2; both connections report v2", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const serverVersions: Array<string | undefined> = []
      yield* echoServerReporting(serverConfig({ versions: ["v2", "v1"] }), serverVersions)
      const { echoed, version } = yield* echoOnce()
      expect(echoed).toBe("which version?")
      expect(version).toBe("v2")
      expect(serverVersions).toEqual(["v2"])
    }))

  it.scoped("the default server answers each client in its own version", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const serverVersions: Array<string | undefined> = []
      yield* echoServerReporting(serverConfig(), serverVersions)
      const v1 = yield* echoOnce()
      expect(v1).toEqual({ echoed: "which version?", version: "v1" })
      expect(serverVersions).toEqual(["v1"])
    }))

  it.scoped("a v2 client under a server with versions [\"v1\", \"v2\"] is moved to v1", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const serverVersions: Array<string | undefined> = []
      yield* echoServerReporting(serverConfig({ versions: ["v1", "v2"] }), serverVersions)
      expect(yield* echoOnce("v2")).toEqual({ echoed: "which version?", version: "v1" })
      expect(serverVersions).toEqual(["v1"])
    }))

  it.scoped("server.versions must list known versions, at least one", () =>
    Effect.gen(function*() {
      for (const versions of [[], ["v3"]]) yield* expectConfigError(serverConfig({ versions } as never), "versions")
    }))
})
