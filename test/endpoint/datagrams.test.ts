import { describe, expect, it } from "vitest"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { TransportErrorCode } from "../../src/internal/errors.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { type Frame, frameTypeOf } from "../../src/internal/frame/types.js"
import { backends } from "../helpers.js"
import {
  CLIENT,
  closedEvents,
  connect,
  connectionOf,
  decodeWire,
  expectClosedWith,
  KeyLog,
  makeRogueClient,
  makeTestPair,
  pattern,
  SERVER
} from "../support/kit.js"
import { type LinkModel, perfectLink } from "../support/link.js"

const [, backend] = backends[0]!

/** Datagram number `i`: its number in the first two bytes, then 20 to 1019 bytes of pattern. */
const datagram = (i: number, size = 20 + ((i * 97) % 1000)): Uint8Array => {
  const out = pattern(size, i)
  out[0] = i >> 8
  out[1] = i & 0xff
  return out
}

const received = (network: ReturnType<typeof makeTestPair>["network"], address: typeof CLIENT) =>
  network.eventsOf(address).flatMap((e) => (e._tag === "DatagramReceived" ? [e.data] : []))

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("datagrams (RFC 9221)", () => {
  it("echoes 100 datagrams byte-exact, in order, over a perfect link", () => {
    const pair = makeTestPair(backend, perfectLink)
    const { network, client, server } = pair
    const { clientConn } = connect(pair)
    network.onEvent = (endpoint: QuicEndpoint, event: QuicEvent) => {
      if (endpoint === server && event._tag === "DatagramReceived") {
        expect(server.sendDatagram(network.now, event.connection, event.data, false)).toBeUndefined()
      }
    }
    const sent = Array.from({ length: 100 }, (_, i) => datagram(i))
    client.batch(network.now, () => {
      for (const d of sent) expect(client.sendDatagram(network.now, clientConn, d, false)).toBeUndefined()
    })
    expect(network.run(() => received(network, CLIENT).length === 100, 5_000_000)).toBe(true)
    expect(received(network, SERVER).map(hex)).toEqual(sent.map(hex))
    expect(received(network, CLIENT).map(hex)).toEqual(sent.map(hex))
    network.run(() => false, 1_000_000)
    expect(received(network, CLIENT).length).toBe(100)
    expect(client.connectionStats(clientConn)!.frames["Datagram"]).toBe(100)
  })

  it("over a lossy link loses some and retransmits none", () => {
    const keyLog = new KeyLog()
    // Lossless during the handshake, so that every DATAGRAM frame on the wire is one the test sent.
    const model: { -readonly [K in keyof LinkModel]: LinkModel[K] } = { ...perfectLink }
    const pair = makeTestPair(backend, model, {
      seed: 21,
      recordWire: true,
      client: { keyLog: keyLog.log, cipherSuites: [TLS_AES_128_GCM_SHA256] }
    })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    model.loss = 0.1
    const COUNT = 200
    // One every 5 ms, so each goes in its own packet.
    let next = 0
    const sendNext = () => {
      expect(client.sendDatagram(network.now, clientConn, datagram(next++), false)).toBeUndefined()
    }
    sendNext()
    let at = network.now
    while (next < COUNT) {
      at += 5_000
      network.run(() => false, at - network.now)
      network.now = Math.max(network.now, at)
      sendNext()
    }
    network.run(() => false, 5_000_000)
    const got = received(network, SERVER)
    expect(got.length).toBeGreaterThan(COUNT / 2)
    expect(got.length).toBeLessThan(COUNT)
    // Never a copy: each arrived once, intact, in the order sent.
    const numbers = got.map((d) => (d[0]! << 8) | d[1]!)
    expect(new Set(numbers).size).toBe(numbers.length)
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers)
    for (const d of got) expect(hex(d)).toBe(hex(datagram((d[0]! << 8) | d[1]!)))
    // The server's frame count agrees with what it delivered.
    expect(server.connectionStats(serverConn)!.frames["Datagram"]).toBe(got.length)
    // On the wire, the client sent exactly one DATAGRAM frame per datagram: the lost ones were never sent again.
    const { decoded, undecryptable } = decodeWire(backend, network.wire, keyLog)
    expect(undecryptable).toBe(0)
    const frames = decoded.filter((d) => d.fromClient).flatMap((d) => d.frames.filter((f) => f._tag === "Datagram").map((f) => ({ f, fate: d.fate })))
    expect(frames.length).toBe(COUNT)
    expect(frames.filter((x) => x.fate === "delivered").length).toBe(got.length)
    expect(client.connectionStats(clientConn)!.packetsLost).toBeGreaterThan(0)
    expect(closedEvents(network, CLIENT)).toEqual([])
  })

  it("refuses a datagram above maxDatagramSize with DatagramTooLarge and delivers one of exactly that size", () => {
    const pair = makeTestPair(backend, perfectLink)
    const { network, client } = pair
    const { clientConn } = connect(pair)
    const max = client.maxDatagramSize(clientConn) as number
    expect(max).toBeGreaterThan(1000)
    expect(client.sendDatagram(network.now, clientConn, new Uint8Array(max + 1), false)).toEqual({ _tag: "DatagramTooLarge", maxSize: max })
    const exact = pattern(max, 9)
    expect(client.sendDatagram(network.now, clientConn, exact, false)).toBeUndefined()
    expect(network.run(() => received(network, SERVER).length === 1, 1_000_000)).toBe(true)
    expect(hex(received(network, SERVER)[0]!)).toBe(hex(exact))
    // After path MTU discovery the limit grows with the path, and a datagram of the new size gets through.
    network.run(() => false, 3_000_000)
    const larger = client.maxDatagramSize(clientConn) as number
    expect(larger).toBeGreaterThan(max)
    expect(larger).toBeLessThanOrEqual(1452)
    expect(client.sendDatagram(network.now, clientConn, pattern(larger, 10), false)).toBeUndefined()
    expect(client.sendDatagram(network.now, clientConn, pattern(larger + 1, 10), false)).toEqual({ _tag: "DatagramTooLarge", maxSize: larger })
    expect(network.run(() => received(network, SERVER).length === 2, 1_000_000)).toBe(true)
    expect(hex(received(network, SERVER)[1]!)).toBe(hex(pattern(larger, 10)))
  })

  it("respects the peer's max_datagram_frame_size: the largest frame it allows is accepted", () => {
    const pair = makeTestPair(backend, perfectLink, { serverTransport: { maxDatagramFrameSize: 300 } })
    const { network, client } = pair
    const { clientConn } = connect(pair)
    // The frame (type, 2-byte length, payload) must fit in 300 bytes.
    const max = client.maxDatagramSize(clientConn) as number
    expect(max).toBe(297)
    expect(client.sendDatagram(network.now, clientConn, pattern(298), false)).toEqual({ _tag: "DatagramTooLarge", maxSize: 297 })
    expect(client.sendDatagram(network.now, clientConn, pattern(297), false)).toBeUndefined()
    expect(network.run(() => received(network, SERVER).length === 1, 1_000_000)).toBe(true)
    network.run(() => false, 500_000)
    expect(closedEvents(network, SERVER)).toEqual([])
  })

  it("DatagramDisabled when we do not support them, DatagramUnsupportedByPeer when the peer does not", () => {
    const pair = makeTestPair(backend, perfectLink, { clientTransport: { maxDatagramFrameSize: undefined } })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    expect(client.sendDatagram(network.now, clientConn, pattern(10), false)).toEqual({ _tag: "DatagramDisabled" })
    expect(server.sendDatagram(network.now, serverConn, pattern(10), false)).toEqual({ _tag: "DatagramUnsupportedByPeer" })
    expect(server.maxDatagramSize(serverConn)).toBe(0)
    expect(client.maxDatagramSize(clientConn)).toBeGreaterThan(0)
  })

  it("a full send buffer: DatagramBlocked returns the payload, then DatagramsUnblocked; drop-oldest makes room instead", () => {
    const pair = makeTestPair(backend, perfectLink, { clientTransport: { datagramSendBuffer: 1000 } })
    const { network, client } = pair
    const { clientConn } = connect(pair)
    const [a, b, c] = [datagram(1, 400), datagram(2, 400), datagram(3, 400)]
    // Larger than the whole buffer: never accepted.
    expect(client.sendDatagram(network.now, clientConn, pattern(1001), false)).toEqual({ _tag: "DatagramTooLarge", maxSize: 1000 })
    client.batch(network.now, () => {
      expect(client.sendDatagram(network.now, clientConn, a, false)).toBeUndefined()
      expect(client.sendDatagram(network.now, clientConn, b, false)).toBeUndefined()
      expect(client.datagramSendBufferSpace(clientConn)).toBe(200)
      const blocked = client.sendDatagram(network.now, clientConn, c, false)
      expect(blocked).toEqual({ _tag: "DatagramBlocked", payload: c })
      expect((blocked as { payload: Uint8Array }).payload).toBe(c)
    })
    const unblocked = () => network.eventsOf(CLIENT).filter((e) => e._tag === "DatagramsUnblocked").length
    // Closing the batch sent the two queued datagrams, which freed room.
    network.pump(client)
    expect(unblocked()).toBe(1)
    expect(client.datagramSendBufferSpace(clientConn)).toBe(1000)
    expect(client.sendDatagram(network.now, clientConn, c, false)).toBeUndefined()
    expect(network.run(() => received(network, SERVER).length === 3, 1_000_000)).toBe(true)
    expect(received(network, SERVER).map(hex)).toEqual([a, b, c].map(hex))

    // Drop-oldest: the third push evicts the first, which is never sent.
    const [d, e, f] = [datagram(4, 400), datagram(5, 400), datagram(6, 400)]
    client.batch(network.now, () => {
      for (const x of [d, e, f]) expect(client.sendDatagram(network.now, clientConn, x, true)).toBeUndefined()
    })
    expect(network.run(() => received(network, SERVER).length === 5, 1_000_000)).toBe(true)
    network.run(() => false, 500_000)
    expect(received(network, SERVER).slice(3).map(hex)).toEqual([e, f].map(hex))
    expect(unblocked()).toBe(1)
  })

  it("received datagrams are handed over in their event and not also retained by the connection", () => {
    const pair = makeTestPair(backend, perfectLink)
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    client.batch(network.now, () => {
      for (let i = 0; i < 50; i++) client.sendDatagram(network.now, clientConn, datagram(i, 1000), false)
    })
    expect(network.run(() => received(network, SERVER).length === 50, 1_000_000)).toBe(true)
    // Every datagram went to the application in DatagramReceived; nothing is left queued inside.
    expect(Object.keys(connectionOf(server, serverConn)!.datagrams)).not.toContain("incoming")
  })
})

describe("a peer that breaks the datagram rules is closed with PROTOCOL_VIOLATION (0x0a)", () => {
  it("a DATAGRAM frame larger than our max_datagram_frame_size", () => {
    const pair = makeRogueClient(backend, { maxDatagramFrameSize: 100 })
    // Type, 2-byte length and 97 bytes make 100: fine; type and 100 bytes (no length, 0x30) make 101: not.
    const ok: Frame = { _tag: "Datagram", data: pattern(97), withLength: true }
    const tooLarge: Frame = { _tag: "Datagram", data: pattern(100), withLength: false }
    pair.inject([ok, tooLarge])
    expectClosedWith(pair, TransportErrorCode.PROTOCOL_VIOLATION, frameTypeOf(tooLarge))
    expect(received(pair.network, SERVER).map(hex)).toEqual([hex(pattern(97))])
  })

  it("the CONNECTION_CLOSE names the offending frame's actual type: 0x31 for a DATAGRAM with a Length (RFC 9000 §19.19)", () => {
    const pair = makeRogueClient(backend, { maxDatagramFrameSize: 100 })
    const tooLarge: Frame = { _tag: "Datagram", data: pattern(98), withLength: true }
    expect(frameTypeOf(tooLarge)).toBe(0x31)
    pair.inject([tooLarge])
    expectClosedWith(pair, TransportErrorCode.PROTOCOL_VIOLATION, 0x31)
  })

  it("a DATAGRAM frame to an endpoint that did not advertise support", () => {
    const pair = makeRogueClient(backend, { maxDatagramFrameSize: undefined })
    const frame: Frame = { _tag: "Datagram", data: pattern(10), withLength: false }
    pair.inject([frame])
    expectClosedWith(pair, TransportErrorCode.PROTOCOL_VIOLATION, frameTypeOf(frame))
  })
})
