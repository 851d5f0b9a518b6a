import { Clock, Duration, Effect, Exit, Fiber, Layer, Option, Stream, TestClock } from "effect"
import type { Connection, ConnectionEvent } from "../../src/Connection.js"
import type { Endpoint } from "../../src/Endpoint.js"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import * as NodeCrypto from "../../src/NodeCrypto.js"
import type { EndpointConfigInput } from "../../src/QuicConfig.js"
import { endpointAt, SERVER, serverConfig } from "./support.js"

/** A fresh network (own PRNG and conditions) and crypto for one test. */
export const envWith = (options: MemoryNetwork.Options = { conditions: { latency: "10 millis" }, seed: 1 }) =>
  Layer.mergeAll(MemoryNetwork.layer(options), NodeCrypto.layer)

/**
 * Advances the TestClock in steps of `stepMillis` until `fiber` is done;
 * dies after `maxMillis` of virtual time. Returns the fiber's exit.
 */
export const driveUntilDone = <A, E>(fiber: Fiber.Fiber<A, E>, options: { readonly stepMillis?: number; readonly maxMillis?: number } = {}) =>
  Effect.gen(function*() {
    const step = options.stepMillis ?? 10
    const max = options.maxMillis ?? 60_000
    for (let elapsed = 0; ; elapsed += step) {
      yield* Effect.yieldNow()
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return exit.value
      if (elapsed >= max) return yield* Effect.dieMessage(`fiber not done after ${max} ms of virtual time`)
      yield* TestClock.adjust(Duration.millis(step))
    }
  })

/** Like driveUntilDone, but returns the fiber's value (or fails with its error). */
export const awaitDriven = <A, E>(fiber: Fiber.Fiber<A, E>, options?: { readonly stepMillis?: number; readonly maxMillis?: number }) =>
  driveUntilDone(fiber, options).pipe(Effect.flatMap((exit) => exit))

/** Whether `fiber` has finished (after letting runnable fibers run). */
export const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
    return Option.isSome(yield* Fiber.poll(fiber))
  })

export const nowMillis = Clock.currentTimeMillis

/** Deterministic bytes: a function of `seed` and the position. */
export const pattern = (seed: number, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Echoes every stream's bytes back on it, for every connection `server` accepts, for the scope's lifetime. */
export const serveEcho = (server: Endpoint) =>
  server.incoming.pipe(
    Stream.runForEach((connection) =>
      connection.incomingStreams.pipe(
        Stream.runForEach((stream) => stream.readable.pipe(Stream.run(stream.sink), Effect.ignore, Effect.fork)),
        Effect.ignore,
        Effect.fork
      )
    ),
    Effect.forkScoped
  )

/** An echo server at SERVER: every stream's bytes come back on it. */
export const echoServer = (config: EndpointConfigInput = serverConfig()) =>
  Effect.gen(function*() {
    const server = yield* endpointAt(SERVER, config)
    yield* serveEcho(server)
    return server
  })

/** Collects a connection's events from now on (subscribes before returning). */
export const recordEvents = (connection: Connection) =>
  Effect.gen(function*() {
    const seen: Array<ConnectionEvent> = []
    yield* connection.events.pipe(
      Stream.tap((event) => Effect.sync(() => void seen.push(event))),
      Stream.runDrain,
      Effect.forkScoped
    )
    // Let the forked fiber subscribe to the PubSub before anything is published.
    for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
    return seen
  })

export const exitIsSuccess = Exit.isSuccess
