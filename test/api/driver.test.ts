import { it } from "@effect/vitest"
import { Cause, Effect, Fiber, Logger, Stream, TestClock } from "effect"
import { describe, expect } from "vitest"
import * as MemoryNetwork from "../../src/MemoryNetwork.js"
import * as NodeUdpSocket from "../../src/NodeUdpSocket.js"
import { UdpSocket, type UdpSocketService } from "../../src/UdpSocket.js"
import * as Endpoint from "../../src/Endpoint.js"
import type { SocketAddress } from "../../src/internal/address.js"
import { type DirectReceiver, type DirectSocket, DirectSocketTypeId, directSocketOf } from "../../src/internal/driver/directSocket.js"
import { Driver } from "../../src/internal/driver/driver.js"
import { OutgoingPacket, type QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { echoServer, envWith } from "./drive.js"
import { CLIENT, clientConfig, NOW, SERVER } from "./support.js"

const PEER: SocketAddress = { address: "10.0.0.9", port: 9 }

/**
 * A stand-in for the core that records what the driver does with it: the
 * datagrams it is given, and when it is asked for packets; `queued` is what
 * `pollSend` hands out.
 */
const fakeCore = () => {
  const log: Array<string> = []
  const queued: Array<OutgoingPacket> = []
  let inPollLoop = false
  const core = {
    config: { server: undefined },
    handleDatagram: (_now: number, bytes: Uint8Array) => {
      if (inPollLoop) log.push("re-entered!")
      log.push(`in ${bytes[0]}`)
    },
    nextTimerDeadline: () => undefined,
    driveTimers: () => {},
    pollEvent: () => undefined,
    beginBatch: () => {
      log.push("begin batch")
    },
    endBatch: () => {
      log.push("end batch")
    },
    flush: () => {
      log.push("flush")
    },
    pollSend: () => {
      const packet = queued.shift()
      inPollLoop = packet !== undefined
      return packet
    }
  }
  return { core: core as unknown as QuicEndpoint, log, queued }
}

/** A direct socket that takes `capacity` datagrams before it reports congestion. */
const fakeSocket = (capacity: number) => {
  let receiver: DirectReceiver | undefined
  const sent: Array<number> = []
  let room = capacity
  const direct: DirectSocket = {
    attach: (r) => {
      receiver = r
    },
    detach: () => {
      receiver = undefined
    },
    send: (_destination, data) => {
      sent.push(data[0]!)
      room--
      return room > 0
    }
  }
  const socket = {
    localAddress: Effect.succeed({ address: "10.0.0.1", port: 1 }),
    send: () => Effect.void,
    receive: Stream.never,
    [DirectSocketTypeId]: direct
  } as UdpSocketService
  return {
    socket,
    sent,
    receiver: () => receiver!,
    drain: (more: number) => {
      room = more
      receiver!.writable()
    }
  }
}

const makeDriver = (core: QuicEndpoint, socket: UdpSocketService) =>
  Effect.gen(function*() {
    const driver = new Driver(core, socket, yield* Effect.clock, yield* Effect.runtime<never>(), 16)
    yield* driver.start(yield* Effect.scope)
    return driver
  })

const packet = (first: number, segments = 1) => {
  const data = new Uint8Array(10 * segments)
  for (let i = 0; i < segments; i++) data[i * 10] = first + i
  return new OutgoingPacket(PEER, data, segments > 1 ? 10 : undefined)
}

describe("the driver over a direct socket", () => {
  it.scoped("takes a burst of datagrams in arrival order, then answers once at the end of the burst", () =>
    Effect.gen(function*() {
      const { core, log } = fakeCore()
      const net = fakeSocket(1000)
      yield* makeDriver(core, net.socket)
      for (let i = 0; i < 100; i++) net.receiver().datagram(new Uint8Array([i]), PEER)
      expect(log).toEqual(Array.from({ length: 100 }, (_, i) => `in ${i}`))
      net.receiver().endOfBurst()
      expect(log.slice(100)).toEqual(["flush"])
    }))

  it.scoped("calls made in one turn (a write, then a finish) share one flush at the end of the turn", () =>
    Effect.gen(function*() {
      const { core, log } = fakeCore()
      const net = fakeSocket(1000)
      const driver = yield* makeDriver(core, net.socket)
      driver.unsafeCall(() => log.push("write"))
      driver.unsafeCall(() => log.push("finish"))
      expect(log).toEqual(["begin batch", "write", "finish"])
      yield* Effect.promise(() => Promise.resolve())
      expect(log).toEqual(["begin batch", "write", "finish", "end batch", "flush"])
    }))

  it.scoped("stops pulling packets when the socket pushes back, and resumes in order when it is writable", () =>
    Effect.gen(function*() {
      const { core, log, queued } = fakeCore()
      const net = fakeSocket(5)
      yield* makeDriver(core, net.socket)
      // 20 packets, the last ten as two GSO-style batches of five.
      for (let i = 0; i < 10; i++) queued.push(packet(i))
      queued.push(packet(10, 5), packet(15, 5))
      net.receiver().endOfBurst()
      // Five datagrams went; the rest stays with the core until the socket drains.
      expect(net.sent).toEqual([0, 1, 2, 3, 4])
      expect(queued.length).toBe(7)
      net.drain(7)
      // A batch is never split: the socket is handed all of one packet's datagrams.
      expect(net.sent).toEqual(Array.from({ length: 15 }, (_, i) => i))
      expect(queued.length).toBe(1)
      net.drain(100)
      expect(net.sent).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(queued.length).toBe(0)
      expect(log).not.toContain("re-entered!")
    }))

  it.scoped("a datagram delivered while the driver is sending (an in-process network) waits for the send loop", () =>
    Effect.gen(function*() {
      const { core, log, queued } = fakeCore()
      const net = fakeSocket(1000)
      const direct = directSocketOf(net.socket)!
      const send = direct.send
      // The network answers each datagram at once, from inside `send`.
      ;(direct as { send: DirectSocket["send"] }).send = (destination, data) => {
        const more = send(destination, data)
        net.receiver().datagram(new Uint8Array([100 + data[0]!]), PEER)
        net.receiver().endOfBurst()
        return more
      }
      yield* makeDriver(core, net.socket)
      queued.push(packet(1), packet(2))
      net.receiver().endOfBurst()
      expect(net.sent).toEqual([1, 2])
      expect(log).not.toContain("re-entered!")
      expect(log.filter((l) => l.startsWith("in"))).toEqual(["in 101", "in 102"])
    }))
})

describe("the driver when the core fails", () => {
  /** The driver made with a logger that keeps each message with its cause, rendered. */
  const loggedDriver = (core: QuicEndpoint, socket: UdpSocketService) =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const capture = Logger.make(({ cause, message }) => {
        logs.push(`${Array.isArray(message) ? message.join(" ") : String(message)} | ${Cause.pretty(cause)}`)
      })
      const driver = yield* makeDriver(core, socket).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      return { driver, logs }
    })

  it.scoped("a turn that threw is logged, and the timer is still aimed at the core's next deadline", () =>
    Effect.gen(function*() {
      const { core, log } = fakeCore()
      const fake = core as unknown as Record<string, unknown>
      let flushes = 0
      fake["flush"] = () => {
        if (flushes++ === 0) throw new Error("flush failed")
      }
      let deadline: number | undefined
      fake["nextTimerDeadline"] = () => deadline
      fake["driveTimers"] = () => {
        log.push("timers")
        deadline = undefined
      }
      const { driver, logs } = yield* loggedDriver(core, fakeSocket(1000).socket)
      deadline = driver.now() + 5_000
      driver.pump()
      expect(flushes).toBe(1)
      yield* TestClock.adjust("4 millis")
      expect(log).not.toContain("timers")
      yield* TestClock.adjust("1 millis")
      expect(log).toContain("timers")
      expect(logs.filter((l) => l.startsWith("effect-quic: driver failed") && l.includes("flush failed"))).toHaveLength(1)
    }))

  it.scoped("a connection the core closed on a bug is reported with the exception", () =>
    Effect.gen(function*() {
      const { core } = fakeCore()
      const events: Array<QuicEvent> = [{
        _tag: "ConnectionClosed",
        connection: 7,
        reason: { _tag: "TransportError", code: 1, frameType: 0, reason: "internal error: boom", remote: false, defect: new Error("boom") }
      }]
      ;(core as unknown as Record<string, unknown>)["pollEvent"] = () => events.shift()
      const { driver, logs } = yield* loggedDriver(core, fakeSocket(1000).socket)
      driver.pump()
      yield* Effect.yieldNow()
      expect(logs.filter((l) => l.startsWith("effect-quic: a connection was closed by a bug in effect-quic") && l.includes("boom"))).toHaveLength(1)
    }))
})

describe("NodeUdpSocket's direct interface", () => {
  it.scopedLive("hands a receiver every datagram in order, then one end of burst", () =>
    Effect.gen(function*() {
      const a = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4" })
      const b = yield* NodeUdpSocket.make({ address: "127.0.0.1", port: 0, type: "udp4", recvBufferSize: 1 << 20 })
      const direct = directSocketOf(b)!
      const events: Array<string> = []
      const done = yield* Effect.makeLatch(false)
      direct.attach({
        datagram: (data) => void events.push(`d${data[0]}`),
        endOfBurst: () => {
          events.push("end")
          if (events.filter((e) => e.startsWith("d")).length === 50) done.unsafeOpen()
        },
        writable: () => {},
        failed: () => {}
      })
      const to = yield* b.localAddress
      const sender = directSocketOf(a)!
      for (let i = 0; i < 50; i++) sender.send(to, new Uint8Array([i, 1, 2, 3]))
      yield* done.await.pipe(Effect.timeout("5 seconds"))
      expect(events.filter((e) => e.startsWith("d"))).toEqual(Array.from({ length: 50 }, (_, i) => `d${i}`))
      // Every datagram is followed (eventually) by an end of burst, and no burst is empty.
      expect(events[events.length - 1]).toBe("end")
      for (let i = 1; i < events.length; i++) if (events[i] === "end") expect(events[i - 1]).not.toBe("end")
      expect((yield* b.stats).received).toBe(50)
    }))
})

it.layer(envWith({ conditions: { latency: "10 millis" }, seed: 3 }))("a socket without the direct interface", (it) => {
  it.scoped("is driven through its public receive stream and send effect", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* echoServer()
      const memory = yield* MemoryNetwork.makeSocket(CLIENT)
      // Only the public fields: the driver falls back to `receive` and `send`.
      const plain: UdpSocketService = { localAddress: memory.localAddress, send: memory.send, receive: memory.receive }
      expect(directSocketOf(plain)).toBeUndefined()
      const client = yield* Endpoint.make(clientConfig()).pipe(Effect.provideService(UdpSocket, plain))
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const connection = yield* client.connect(SERVER, { serverName: "localhost" })
        const stream = yield* connection.openBi
        yield* stream.write(new Uint8Array(200_000).fill(7))
        yield* stream.finish
        return yield* stream.readToEnd(1 << 20)
      }))
      yield* TestClock.adjust("5 seconds")
      const echoed = yield* Fiber.join(fiber)
      expect(echoed.length).toBe(200_000)
      expect(echoed.every((b) => b === 7)).toBe(true)
    }))
})
