import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import * as NodeUdpSocket from "../../src/NodeUdpSocket.js"
import { UdpSocket } from "../../src/UdpSocket.js"

// Real sockets on loopback: these tests use the live clock (`scopedLive`) so
// that their timeouts are real; nothing is asserted about timing.

const bytes = (length: number, seed: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff)

const families = [
  { type: "udp4", address: "127.0.0.1" },
  { type: "udp6", address: "::1" }
] as const

/** Waits (live clock) until `check` holds. */
const eventually = <A>(read: Effect.Effect<A>, check: (a: A) => boolean): Effect.Effect<A> =>
  Effect.flatMap(read, (a) => (check(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep("5 millis"), eventually(read, check))))

for (const family of families) {
  describe(`NodeUdpSocket ${family.type} on ${family.address}`, () => {
    const options = { address: family.address, port: 0, type: family.type } as const

    it.scopedLive("two sockets exchange datagrams; a GSO-style batch arrives as separate datagrams", () =>
      Effect.gen(function*() {
        const a = yield* NodeUdpSocket.make(options)
        const b = yield* NodeUdpSocket.make(options)
        const aAddress = yield* a.localAddress
        const bAddress = yield* b.localAddress
        expect(aAddress.address).toBe(family.address)
        expect(aAddress.port).toBeGreaterThan(0)
        expect(bAddress.port).not.toBe(aAddress.port)

        const single = bytes(100, 1)
        const batch = bytes(3000, 2) // 1200 + 1200 + 600
        const atB = yield* Stream.take(b.receive, 4).pipe(Stream.runCollect, Effect.fork)
        yield* a.send([
          { destination: bAddress, data: single },
          { destination: bAddress, data: batch, segmentSize: 1200 }
        ])
        const received = Chunk.toReadonlyArray(yield* atB.await.pipe(Effect.flatten, Effect.timeout("5 seconds")))
        expect(received.map((d) => d.data.length)).toEqual([100, 1200, 1200, 600])
        expect(received[0]!.data).toEqual(single)
        expect(received[1]!.data).toEqual(batch.subarray(0, 1200))
        expect(received[2]!.data).toEqual(batch.subarray(1200, 2400))
        expect(received[3]!.data).toEqual(batch.subarray(2400))
        for (const datagram of received) expect(datagram.remote).toEqual(aAddress)

        // And back.
        const atA = yield* Stream.take(a.receive, 1).pipe(Stream.runCollect, Effect.fork)
        yield* b.send([{ destination: aAddress, data: bytes(10, 3) }])
        const reply = Chunk.toReadonlyArray(yield* atA.await.pipe(Effect.flatten, Effect.timeout("5 seconds")))
        expect(reply[0]!.data).toEqual(bytes(10, 3))
        expect(reply[0]!.remote).toEqual(bAddress)

        expect((yield* a.stats).sent).toBe(4)
        expect((yield* b.stats).received).toBe(4)
      }))

    it.scopedLive("binding a port that is taken fails with AddressInUse", () =>
      Effect.gen(function*() {
        const a = yield* NodeUdpSocket.make(options)
        const { port } = yield* a.localAddress
        const error = yield* Effect.flip(NodeUdpSocket.make({ ...options, port }))
        expect(error._tag).toBe("SocketError")
        expect(error.reason).toBe("AddressInUse")
      }))

    it.scopedLive("the socket is closed when its scope closes", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const socket = yield* NodeUdpSocket.make(options).pipe(Scope.extend(scope))
        const local = yield* socket.localAddress
        const reading = yield* Stream.runCollect(socket.receive).pipe(Effect.fork)
        yield* Scope.close(scope, Exit.void)

        // The reader's stream ends, sending fails with Closed, the port is free again.
        const collected = yield* reading.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
        expect(Chunk.size(collected)).toBe(0)
        const error = yield* Effect.flip(socket.send([{ destination: local, data: bytes(1, 0) }]))
        expect(error.reason).toBe("Closed")
        const again = yield* NodeUdpSocket.make({ ...options, port: local.port })
        expect(yield* again.localAddress).toEqual(local)
      }))

    it.scopedLive("datagrams beyond the receive queue are dropped and counted", () =>
      Effect.gen(function*() {
        const receiver = yield* NodeUdpSocket.make({ ...options, receiveQueueSize: 2, recvBufferSize: 1 << 20 })
        const sender = yield* NodeUdpSocket.make(options)
        const to = yield* receiver.localAddress
        yield* sender.send(Array.from({ length: 10 }, (_, i) => ({ destination: to, data: bytes(20, i) })))
        const stats = yield* eventually(receiver.stats, (s) => s.received + s.dropped === 10).pipe(
          Effect.timeout("5 seconds")
        )
        expect(stats).toEqual({ sent: 0, received: 2, dropped: 8 })
        const kept = yield* Stream.take(receiver.receive, 2).pipe(Stream.runCollect)
        expect(Chunk.toReadonlyArray(kept).map((d) => d.data)).toEqual([bytes(20, 0), bytes(20, 1)])
      }))

    it.scopedLive("a sender that never waits does not starve a receiver in the same process", () =>
      Effect.gen(function*() {
        // A small kernel buffer (~50 datagrams): it overflows unless the
        // receiver gets to read between the sender's batches.
        const receiver = yield* NodeUdpSocket.make({ ...options, recvBufferSize: 64 * 1024, receiveQueueSize: 10_000 })
        const sender = yield* NodeUdpSocket.make(options)
        const to = yield* receiver.localAddress
        const batch = [{ destination: to, data: new Uint8Array(12_000), segmentSize: 1200 }]
        for (let i = 0; i < 300; i++) yield* sender.send(batch)
        const stats = yield* eventually(receiver.stats, (s) => s.received >= 3000).pipe(
          Effect.timeout("5 seconds"),
          Effect.orElse(() => receiver.stats)
        )
        expect(stats.received).toBe(3000)
        expect((yield* sender.stats).sent).toBe(3000)
      }))

    it.scopedLive("layer provides UdpSocket", () =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket
        const local = yield* socket.localAddress
        expect(local.address).toBe(family.address)
        const received = yield* Stream.take(socket.receive, 1).pipe(Stream.runCollect, Effect.fork)
        yield* socket.send([{ destination: local, data: bytes(5, 9) }])
        const got = Chunk.toReadonlyArray(yield* received.await.pipe(Effect.flatten, Effect.timeout("5 seconds")))
        expect(got[0]!.data).toEqual(bytes(5, 9))
        expect(got[0]!.remote).toEqual(local)
      }).pipe(Effect.provide(NodeUdpSocket.layer(options))))
  })
}

describe("NodeUdpSocket binding errors", () => {
  it.scopedLive("an address the host does not have fails with AddressNotAvailable", () =>
    Effect.gen(function*() {
      // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a host.
      const error = yield* Effect.flip(NodeUdpSocket.make({ address: "192.0.2.1", port: 0, type: "udp4" }))
      expect(error.reason).toBe("AddressNotAvailable")
    }))

  it.scopedLive("an invalid port fails without binding", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(NodeUdpSocket.make({ address: "127.0.0.1", port: 70000, type: "udp4" }))
      expect(error.reason).toBe("AddressNotAvailable")
    }))

  it.scopedLive("an address of the other family fails", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(NodeUdpSocket.make({ address: "::1", port: 0, type: "udp4" }))
      expect(error._tag).toBe("SocketError")
    }))

  it.scopedLive("the layer fails with the bind error", () =>
    Effect.gen(function*() {
      const first = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4" })
      const { port } = yield* first.localAddress
      const error = yield* Effect.flip(
        Effect.provide(UdpSocket, NodeUdpSocket.layer({ address: "127.0.0.1", port, type: "udp4" }))
      )
      expect(error.reason).toBe("AddressInUse")
    }))
})
