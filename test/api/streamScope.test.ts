import { it } from "@effect/vitest"
import { Effect, Exit, Fiber, Queue, Scope, Stream, TestClock } from "effect"
import { expect } from "vitest"
import type { QuicStream } from "../../src/Stream.js"
import { awaitDriven, envWith } from "./drive.js"
import { CLIENT, clientConfig, endpointAt, NOW, SERVER, serverConfig } from "./support.js"

/** A server that hands every incoming stream to the test. */
const streamServer = Effect.gen(function*() {
  const streams = yield* Queue.unbounded<QuicStream>()
  const server = yield* endpointAt(SERVER, serverConfig({}, { transport: { initialStreamWindow: 16384, maxStreamWindow: 16384 } }))
  yield* server.incoming.pipe(
    Stream.runForEach((connection) => connection.incomingStreams.pipe(Stream.runForEach((s) => Queue.offer(streams, s)), Effect.fork)),
    Effect.forkScoped
  )
  return streams
})

it.layer(envWith())("a stream's scope", (it) => {
  it.scoped("finishes the stream when everything was written", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const streams = yield* streamServer
      const client = yield* endpointAt(CLIENT, clientConfig())
      const connect = yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" }))
      const connection = yield* awaitDriven(connect)
      yield* Effect.scoped(Effect.gen(function*() {
        const stream = yield* connection.openBi
        yield* stream.write(new Uint8Array(1000).fill(7))
      }))
      const peer = yield* awaitDriven(yield* Effect.fork(Queue.take(streams)))
      const read = yield* Effect.fork(peer.readToEnd(1 << 20))
      const data = yield* awaitDriven(read)
      expect(data.length).toBe(1000)
      expect(data.every((b) => b === 7)).toBe(true)
    }))

  it.scoped("resets the stream when a write was cut short", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const streams = yield* streamServer
      const client = yield* endpointAt(CLIENT, clientConfig({}, { transport: { streamSendBuffer: 16384 } }))
      const connect = yield* Effect.fork(client.connect(SERVER, { serverName: "localhost" }))
      const connection = yield* awaitDriven(connect)
      const scope = yield* Scope.make()
      const stream = yield* connection.openBi.pipe(Scope.extend(scope))
      // More than the peer's 16 KiB window and our 16 KiB buffer: the write suspends.
      const writer = yield* Effect.fork(stream.write(new Uint8Array(1 << 20)))
      yield* TestClock.adjust("200 millis")
      expect(writer.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(writer)
      yield* Scope.close(scope, Exit.void)
      const peer = yield* awaitDriven(yield* Effect.fork(Queue.take(streams)))
      const read = yield* Effect.fork(Effect.either(peer.readToEnd(2 << 20)))
      const result = yield* awaitDriven(read)
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") expect(result.left).toMatchObject({ _tag: "StreamResetError", code: 0n })
      // The connection stays healthy: a new stream still works.
      yield* Effect.scoped(Effect.gen(function*() {
        const next = yield* connection.openBi
        yield* next.write(new Uint8Array(10))
      }))
      const second = yield* awaitDriven(yield* Effect.fork(Queue.take(streams)))
      const more = yield* Effect.fork(second.readToEnd(100))
      expect((yield* awaitDriven(more)).length).toBe(10)
    }))
})
