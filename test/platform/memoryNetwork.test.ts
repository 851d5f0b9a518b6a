import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Scope, Stream, TestClock } from "effect"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import { type Datagram, type SocketAddress, UdpSocket, type UdpSocketService } from "../../src/UdpSocket.js"

const A: SocketAddress = { address: "10.0.0.1", port: 1000 }
const B: SocketAddress = { address: "10.0.0.2", port: 2000 }
const A2: SocketAddress = { address: "10.9.9.9", port: 3000 }

/** A datagram whose first four bytes carry `index`. */
const numbered = (index: number, size = 100): Uint8Array => {
  const data = new Uint8Array(size)
  new DataView(data.buffer).setUint32(0, index)
  for (let i = 4; i < size; i++) data[i] = (i * 31 + index) & 0xff
  return data
}
const indexOf = (d: Datagram): number => new DataView(d.data.buffer, d.data.byteOffset).getUint32(0)

/** Collects everything a socket receives, in a background fiber. */
const collect = (socket: UdpSocketService) =>
  Effect.gen(function*() {
    const received: Array<Datagram> = []
    yield* Effect.forkScoped(Stream.runForEach(socket.receive, (d) => Effect.sync(() => received.push(d))))
    yield* Effect.yieldNow()
    return received
  })

/** A network with sockets at A and B, and what B receives. */
const pair = (options?: MemoryNetwork.Options) =>
  Effect.gen(function*() {
    const network = yield* MemoryNetwork.make(options)
    const a = yield* network.attach(A)
    const b = yield* network.attach(B)
    const atA = yield* collect(a)
    const atB = yield* collect(b)
    return { network, a, b, atA, atB }
  })

/**
 * Lets every fiber run until it waits (a `TestClock` adjustment of zero waits
 * for the other fibers to suspend): zero-latency deliveries wake readers
 * asynchronously.
 */
const settle = TestClock.adjust(0)

const sendNumbered = (socket: UdpSocketService, to: SocketAddress, from: number, count: number, size = 100) =>
  socket.send(Array.from({ length: count }, (_, i) => ({ destination: to, data: numbered(from + i, size) })))

describe("MemoryNetwork timing (TestClock)", () => {
  it.scoped("a datagram arrives exactly after the latency, not before", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ conditions: { latency: "10 millis" }, log: true })
      yield* a.send([{ destination: B, data: numbered(1) }])
      yield* TestClock.adjust("9 millis")
      expect(atB).toHaveLength(0)
      yield* TestClock.adjust("999 micros")
      expect(atB).toHaveLength(0)
      expect(yield* network.inFlight).toBe(1)
      yield* TestClock.adjust("1 micros")
      expect(atB).toHaveLength(1)
      expect(atB[0]!.remote).toEqual(A)
      expect(atB[0]!.data).toEqual(numbered(1))
      const log = yield* network.log
      expect(log).toHaveLength(1)
      expect(log[0]!.fate).toBe("delivered")
      expect(log[0]!.at - log[0]!.sentAt).toBe(10)
    }))

  it.scoped("sub-millisecond latency is honoured", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ conditions: { latency: "2500 micros" }, log: true })
      yield* TestClock.adjust("3 millis")
      yield* a.send([{ destination: B, data: numbered(1) }])
      yield* TestClock.adjust("2 millis")
      expect(atB).toHaveLength(0)
      yield* TestClock.adjust("1 millis")
      expect(atB).toHaveLength(1)
      const [entry] = yield* network.log
      expect(entry!.sentAt).toBe(3)
      expect(entry!.at).toBe(5.5)
    }))

  it.scoped("with no latency a datagram arrives without the clock moving", () =>
    Effect.gen(function*() {
      const { a, atB } = yield* pair()
      yield* a.send([{ destination: B, data: numbered(1) }])
      yield* settle
      expect(atB.map(indexOf)).toEqual([1])
    }))

  it.scoped("datagrams sent together arrive together, in the order sent", () =>
    Effect.gen(function*() {
      const { a, atB } = yield* pair({ conditions: { latency: "10 millis" } })
      yield* sendNumbered(a, B, 0, 50)
      yield* TestClock.adjust("10 millis")
      expect(atB.map(indexOf)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    }))

  it.scoped("a later, faster datagram overtakes an earlier, slower one", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ conditions: { latency: "30 millis" } })
      yield* a.send([{ destination: B, data: numbered(1) }])
      yield* network.setConditions({ latency: "5 millis" })
      yield* TestClock.adjust("1 millis")
      yield* a.send([{ destination: B, data: numbered(2) }])
      yield* TestClock.adjust("5 millis")
      expect(atB.map(indexOf)).toEqual([2])
      yield* TestClock.adjust("24 millis")
      expect(atB.map(indexOf)).toEqual([2, 1])
    }))

  it.scoped("jitter keeps every arrival within [latency, latency + jitter]", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ seed: 3, conditions: { latency: "10 millis", jitter: "5 millis" }, log: true })
      yield* sendNumbered(a, B, 0, 60)
      yield* TestClock.adjust("9 millis")
      expect(atB).toHaveLength(0)
      yield* TestClock.adjust("6 millis")
      expect(atB).toHaveLength(60)
      const delays = (yield* network.log).map((e) => e.at - e.sentAt)
      expect(delays).toHaveLength(60)
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(10)
        expect(delay).toBeLessThanOrEqual(15)
      }
      // Actually spread out, and therefore reordered.
      expect(new Set(delays).size).toBeGreaterThan(30)
      expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(4)
      expect(atB.map(indexOf)).not.toEqual(Array.from({ length: 60 }, (_, i) => i))
      // Arrivals are reported in time order.
      const ats = (yield* network.log).map((e) => e.at)
      expect(ats).toEqual([...ats].sort((x, y) => x - y))
    }))

  it.scoped("bandwidth spaces datagrams by their transmission time", () =>
    Effect.gen(function*() {
      // 100 kB/s: a 1000-byte datagram takes 10 ms to leave the bottleneck.
      const { a, atB, network } = yield* pair({ conditions: { latency: "5 millis", bandwidth: 100_000 }, log: true })
      yield* sendNumbered(a, B, 0, 5, 1000)
      yield* TestClock.adjust("14 millis")
      expect(atB).toHaveLength(0)
      yield* TestClock.adjust("1 millis")
      expect(atB).toHaveLength(1)
      yield* TestClock.adjust("40 millis")
      expect(atB.map(indexOf)).toEqual([0, 1, 2, 3, 4])
      expect((yield* network.log).map((e) => e.at)).toEqual([15, 25, 35, 45, 55])
    }))

  it.scoped("the bottleneck queue is bounded: overflow is dropped", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({
        conditions: { latency: "5 millis", bandwidth: 100_000, queueBytes: 3000 }
      })
      yield* sendNumbered(a, B, 0, 5, 1000)
      yield* TestClock.adjust("100 millis")
      expect(atB.map(indexOf)).toEqual([0, 1, 2])
      const stats = yield* network.linkStats(A, B)
      expect(stats.queueFull).toBe(2)
      expect(stats.delivered).toBe(3)
      // Once drained, the bottleneck takes more.
      yield* sendNumbered(a, B, 10, 1, 1000)
      yield* TestClock.adjust("15 millis")
      expect(atB.map(indexOf)).toEqual([0, 1, 2, 10])
    }))
})

describe("MemoryNetwork impairments", () => {
  const lossRun = (seed: number) =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ seed, conditions: { latency: "1 millis", loss: 0.25 } })
      yield* sendNumbered(a, B, 0, 4000, 20)
      yield* TestClock.adjust("1 millis")
      const stats = yield* network.linkStats(A, B)
      return { delivered: atB.map(indexOf), stats }
    }).pipe(Effect.scoped)

  it.effect("loss is near the configured rate, and the same seed loses the same datagrams", () =>
    Effect.gen(function*() {
      const first = yield* lossRun(42)
      // 4000 × 0.75 = 3000 expected, σ ≈ 27.
      expect(first.delivered.length).toBeGreaterThan(2900)
      expect(first.delivered.length).toBeLessThan(3100)
      expect(first.stats.sent).toBe(4000)
      expect(first.stats.lost + first.stats.delivered).toBe(4000)
      const again = yield* lossRun(42)
      expect(again.delivered).toEqual(first.delivered)
      const other = yield* lossRun(43)
      expect(other.delivered).not.toEqual(first.delivered)
    }))

  it.scoped("datagrams above the MTU are dropped; a GSO batch is judged per datagram", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ conditions: { mtu: 1200 } })
      yield* a.send([
        { destination: B, data: numbered(1, 1200) },
        { destination: B, data: numbered(2, 1201) },
        { destination: B, data: numbered(3, 2500), segmentSize: 1000 }
      ])
      yield* settle
      expect(atB.map((d) => d.data.length)).toEqual([1200, 1000, 1000, 500])
      expect(indexOf(atB[0]!)).toBe(1)
      const stats = yield* network.linkStats(A, B)
      expect(stats.tooLarge).toBe(1)
      expect(stats.sent).toBe(5)
    }))

  it.scoped("duplication delivers twice, corruption alters exactly one byte", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({ conditions: { latency: "1 millis", duplicate: 1 } })
      yield* sendNumbered(a, B, 0, 10)
      yield* TestClock.adjust("1 millis")
      expect(atB.map(indexOf)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9])
      expect((yield* network.linkStats(A, B)).duplicated).toBe(10)

      yield* network.setConditions({ corrupt: 1 })
      const sent = numbered(7)
      const kept = sent.slice()
      atB.length = 0
      yield* a.send([{ destination: B, data: sent }])
      yield* settle
      expect(sent).toEqual(kept) // the sender's buffer is never touched
      const got = atB[0]!.data
      const differing = got.reduce((n, byte, i) => n + (byte === kept[i] ? 0 : 1), 0)
      expect(differing).toBe(1)
      expect((yield* network.linkStats(A, B)).corrupted).toBe(1)
    }))

  it.scoped("reordering holds some datagrams back", () =>
    Effect.gen(function*() {
      const { a, atB, network } = yield* pair({
        seed: 5,
        conditions: { latency: "1 millis", reorder: 0.3, reorderDelay: "5 millis" },
        log: true
      })
      yield* sendNumbered(a, B, 0, 40)
      yield* TestClock.adjust("1 millis")
      const onTime = atB.length
      const stats = yield* network.linkStats(A, B)
      expect(stats.reordered).toBeGreaterThan(0)
      expect(onTime).toBe(40 - stats.reordered)
      yield* TestClock.adjust("5 millis")
      expect(atB).toHaveLength(40)
      const order = atB.map(indexOf)
      expect(order).not.toEqual([...order].sort((x, y) => x - y))
      expect((yield* network.log).filter((e) => e.reordered).every((e) => e.at - e.sentAt === 6)).toBe(true)
    }))

  it.scoped("conditions can be set per direction and changed at runtime", () =>
    Effect.gen(function*() {
      const { a, b, atA, atB, network } = yield* pair({
        conditions: { latency: "10 millis" },
        links: [{ from: B, to: A, conditions: { latency: "2 millis" } }]
      })
      yield* sendNumbered(a, B, 0, 1)
      yield* sendNumbered(b, A, 100, 1)
      yield* TestClock.adjust("2 millis")
      expect(atA.map(indexOf)).toEqual([100])
      expect(atB).toHaveLength(0)
      yield* TestClock.adjust("8 millis")
      expect(atB.map(indexOf)).toEqual([0])

      // Cut A → B only: the overlay keeps the default latency.
      yield* network.setConditions({ loss: 1 }, { from: A, to: B })
      yield* sendNumbered(a, B, 1, 3)
      yield* sendNumbered(b, A, 101, 1)
      yield* TestClock.adjust("10 millis")
      expect(atB.map(indexOf)).toEqual([0])
      expect(atA.map(indexOf)).toEqual([100, 101])
      expect((yield* network.linkStats(A, B)).lost).toBe(3)

      // Heal.
      yield* network.clearConditions({ from: A, to: B })
      yield* sendNumbered(a, B, 4, 1)
      yield* TestClock.adjust("10 millis")
      expect(atB.map(indexOf)).toEqual([0, 4])
      yield* network.clearConditions()
      yield* sendNumbered(a, B, 5, 1)
      yield* settle
      expect(atB.map(indexOf)).toEqual([0, 4, 5])
    }))
})

describe("MemoryNetwork addresses", () => {
  it.scoped("attaching at a taken address fails with AddressInUse", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.make()
      const scope = yield* Scope.make()
      yield* network.attach(A).pipe(Scope.extend(scope))
      const error = yield* Effect.flip(network.attach(A))
      expect(error._tag).toBe("SocketError")
      expect(error.reason).toBe("AddressInUse")
      // Free again once the first socket's scope closes.
      yield* Scope.close(scope, Exit.void)
      const again = yield* network.attach(A)
      expect(yield* again.localAddress).toEqual(A)
    }))

  it.scoped("port 0 picks a free ephemeral port", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.make()
      const x = yield* network.attach({ address: "10.0.0.1", port: 0 })
      const y = yield* network.attach({ address: "10.0.0.1", port: 0 })
      const px = (yield* x.localAddress).port
      const py = (yield* y.localAddress).port
      expect(px).toBeGreaterThanOrEqual(49152)
      expect(py).not.toBe(px)
    }))

  it.scoped("rebinding: later datagrams come from the new address; the old address is gone", () =>
    Effect.gen(function*() {
      const { a, b, atA, atB, network } = yield* pair({ conditions: { latency: "10 millis" } })
      yield* sendNumbered(a, B, 1, 1)
      yield* TestClock.adjust("10 millis")
      expect(atB.map((d) => d.remote)).toEqual([A])

      // A reply is on its way to A when A's NAT binding changes.
      yield* sendNumbered(b, A, 100, 1)
      yield* TestClock.adjust("5 millis")
      yield* network.rebind(A, A2)
      expect(yield* a.localAddress).toEqual(A2)
      yield* TestClock.adjust("5 millis")
      expect(atA).toHaveLength(0)
      expect((yield* network.linkStats(B, A)).unreachable).toBe(1)

      // A's next datagram comes from A2; B answers there and A receives it.
      yield* sendNumbered(a, B, 2, 1)
      yield* TestClock.adjust("10 millis")
      expect(atB.map((d) => d.remote)).toEqual([A, A2])
      yield* sendNumbered(b, A2, 101, 1)
      yield* sendNumbered(b, A, 102, 1)
      yield* TestClock.adjust("10 millis")
      expect(atA.map(indexOf)).toEqual([101])
      expect(atA[0]!.remote).toEqual(B)
      expect((yield* network.linkStats(B, A)).unreachable).toBe(2)

      // The old address is free for someone else.
      const newcomer = yield* network.attach(A)
      expect(yield* newcomer.localAddress).toEqual(A)
    }))

  it.scoped("rebinding onto a taken address fails with AddressInUse; from nowhere with AddressNotAvailable", () =>
    Effect.gen(function*() {
      const { network } = yield* pair()
      expect((yield* Effect.flip(network.rebind(A, B))).reason).toBe("AddressInUse")
      expect((yield* Effect.flip(network.rebind(A2, { address: "10.1.1.1", port: 1 }))).reason).toBe(
        "AddressNotAvailable"
      )
    }))

  it.scoped("a closed socket refuses to send, its stream ends, and datagrams to it are unreachable", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.make()
      const a = yield* network.attach(A)
      const scope = yield* Scope.make()
      const b = yield* network.attach(B).pipe(Scope.extend(scope))
      const reading = yield* Effect.fork(Stream.runCollect(b.receive))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      expect(Chunk.size(yield* reading.await.pipe(Effect.flatten))).toBe(0)
      expect((yield* Effect.flip(b.send([{ destination: A, data: numbered(1) }]))).reason).toBe("Closed")
      yield* a.send([{ destination: B, data: numbered(1) }])
      expect((yield* network.linkStats(A, B)).unreachable).toBe(1)
    }))

  it.scoped("a full receive queue drops and counts overflow", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.make({ receiveQueueSize: 3 })
      const a = yield* network.attach(A)
      const b = yield* network.attach(B)
      yield* sendNumbered(a, B, 0, 5)
      const stats = yield* network.linkStats(A, B)
      expect(stats.delivered).toBe(3)
      expect(stats.overflow).toBe(2)
      const got = yield* Stream.take(b.receive, 3).pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(got).map(indexOf)).toEqual([0, 1, 2])
    }))

  it.scoped("MemoryNetwork.socket provides UdpSocket over the network in the context", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket
      expect(yield* socket.localAddress).toEqual(A)
      const peer = yield* MemoryNetwork.makeSocket(B)
      const got = yield* Stream.take(peer.receive, 1).pipe(Stream.runCollect, Effect.fork)
      yield* socket.send([{ destination: B, data: numbered(9) }])
      yield* TestClock.adjust("3 millis")
      const [datagram] = Chunk.toReadonlyArray(yield* got.await.pipe(Effect.flatten))
      expect(indexOf(datagram!)).toBe(9)
      expect(datagram!.remote).toEqual(A)
    }).pipe(
      Effect.provide(
        Layer.provideMerge(MemoryNetwork.socket(A), MemoryNetwork.layer({ conditions: { latency: "3 millis" } }))
      )
    ))
})

describe("MemoryNetwork on the live clock", () => {
  it.scopedLive("delivers after a real delay", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.make({ conditions: { latency: "20 millis", jitter: "5 millis" } })
      const a = yield* network.attach(A)
      const b = yield* network.attach(B)
      const got = yield* Stream.take(b.receive, 3).pipe(Stream.runCollect, Effect.fork)
      yield* sendNumbered(a, B, 0, 3)
      const received = yield* got.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
      expect(Chunk.toReadonlyArray(received).map(indexOf).sort()).toEqual([0, 1, 2])
    }))
})
