import { describe, expect, it } from "vitest"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import type { TransportConfig } from "../../src/internal/config.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import { TransportErrorCode } from "../../src/internal/errors.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import { type Frame, frameTypeOf } from "../../src/internal/frame/types.js"
import type { SentStreamFrame } from "../../src/internal/stream/streams.js"
import { StreamManager } from "../../src/internal/stream/streams.js"
import { backends } from "../helpers.js"
import {
  CLIENT,
  closedEvents,
  connect,
  type DecodedDatagram,
  decodeWire,
  expectClosedWith,
  KeyLog,
  makeRogueClient,
  makeTestPair,
  pattern,
  SERVER,
  StreamReader,
  StreamWriter
} from "../support/kit.js"
import { type LinkModel, perfectLink } from "../support/link.js"

const [, backend] = backends[0]!

const tinyWindows: Partial<TransportConfig> = {
  initialMaxData: 4096,
  initialMaxStreamData: 2048,
  maxConnectionWindow: 8192,
  maxStreamWindow: 4096
}

/**
 * Replays the decrypted wire in virtual time and checks RFC 9000 §4.1 from
 * the outside, for data the client sends on client-initiated streams: no
 * STREAM frame goes beyond the MAX_STREAM_DATA, and no stream's highest offsets
 * add up beyond the MAX_DATA, that the client had received when it sent the
 * frame (transport parameters, then frames delivered `delay` µs after the
 * server sent them: a link without jitter or reordering). Also checks that the
 * server never grants more than its configured maximum windows beyond what it
 * had received. Returns counters showing the limits were actually reached.
 */
const checkFlowControl = (decoded: ReadonlyArray<DecodedDatagram>, delay: number, server: Partial<TransportConfig>) => {
  const fromServer = decoded.filter((d) => !d.fromClient && d.fate === "delivered")
  const fromClient = decoded.filter((d) => d.fromClient)
  let known = 0
  let maxData = server.initialMaxData!
  const maxStreamData = new Map<number, number>()
  const highest = new Map<number, number>()
  let sentTotal = 0
  let atStreamLimit = 0
  let atConnectionLimit = 0
  // What the server had received (delivered client frames), for the window bound.
  const delivered = fromClient.filter((d) => d.fate === "delivered")
  let seen = 0
  let receivedTotal = 0
  const receivedHighest = new Map<number, number>()
  for (const d of decoded) {
    if (d.fromClient) {
      while (known < fromServer.length && fromServer[known]!.at + delay <= d.at) {
        for (const frame of fromServer[known]!.frames) {
          if (frame._tag === "MaxData") maxData = Math.max(maxData, Number(frame.max))
          if (frame._tag === "MaxStreamData") maxStreamData.set(frame.id, Math.max(maxStreamData.get(frame.id) ?? 0, Number(frame.max)))
        }
        known++
      }
      for (const frame of d.frames) {
        if (frame._tag !== "Stream") continue
        const end = frame.offset + frame.data.length
        const limit = Math.max(server.initialMaxStreamData!, maxStreamData.get(frame.id) ?? 0)
        expect(end, `stream ${frame.id} at ${d.at}`).toBeLessThanOrEqual(limit)
        if (end === limit) atStreamLimit++
        const before = highest.get(frame.id) ?? 0
        if (end > before) {
          sentTotal += end - before
          highest.set(frame.id, end)
        }
        expect(sentTotal, `connection at ${d.at}`).toBeLessThanOrEqual(maxData)
        if (sentTotal === maxData) atConnectionLimit++
      }
    } else {
      while (seen < delivered.length && delivered[seen]!.at + delay <= d.at) {
        for (const frame of delivered[seen]!.frames) {
          if (frame._tag !== "Stream") continue
          const end = frame.offset + frame.data.length
          const before = receivedHighest.get(frame.id) ?? 0
          if (end > before) {
            receivedTotal += end - before
            receivedHighest.set(frame.id, end)
          }
        }
        seen++
      }
      for (const frame of d.frames) {
        // The receiver grants at most its largest window beyond what it has received.
        if (frame._tag === "MaxStreamData") {
          expect(Number(frame.max)).toBeLessThanOrEqual((receivedHighest.get(frame.id) ?? 0) + server.maxStreamWindow!)
        }
        if (frame._tag === "MaxData") expect(Number(frame.max)).toBeLessThanOrEqual(receivedTotal + server.maxConnectionWindow!)
      }
    }
  }
  return { atStreamLimit, atConnectionLimit, sentTotal }
}

const framesOf = (decoded: ReadonlyArray<DecodedDatagram>, fromClient: boolean, tag: Frame["_tag"]) =>
  decoded.filter((d) => d.fromClient === fromClient).flatMap((d) => d.frames).filter((f) => f._tag === tag)

describe("flow control with tiny windows", () => {
  it("moves 512 KB through 2 KB stream / 4 KB connection windows; writes are partial or WriteBlocked until StreamWritable; the sender never exceeds a limit", () => {
    const keyLog = new KeyLog()
    const pair = makeTestPair(backend, perfectLink, {
      transport: tinyWindows,
      recordWire: true,
      client: { keyLog: keyLog.log, cipherSuites: [TLS_AES_128_GCM_SHA256] }
    })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const data = pattern(512 * 1024, 5)
    const stream = client.openBi(network.now, clientConn) as number
    const writer = new StreamWriter(client, network, clientConn, stream, data, 1500)
    const reader = new StreamReader(server, network, serverConn, stream, data)
    let writable = 0
    network.onEvent = (endpoint: QuicEndpoint, event: QuicEvent) => {
      if (endpoint === client && event._tag === "StreamWritable") {
        writable++
        writer.pump()
      }
      if (endpoint === server && event._tag === "StreamReadable") reader.pump()
    }
    writer.pump()
    // The first write takes exactly the stream's initial credit.
    expect(writer.sent).toBe(2048)
    expect(writer.partialWrites).toBe(1)
    expect(client.streamSend(network.now, clientConn, stream, data.subarray(2048, 3000))).toEqual({ _tag: "WriteBlocked" })
    expect(network.run(() => reader.finished, 600_000_000)).toBe(true)
    expect(reader.firstMismatch).toBe(-1)
    expect(reader.received).toBe(data.length)
    expect(writer.partialWrites).toBeGreaterThan(10)
    expect(writable).toBeGreaterThan(10)
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])

    const { decoded, undecryptable } = decodeWire(backend, network.wire, keyLog)
    expect(undecryptable).toBe(0)
    const result = checkFlowControl(decoded, perfectLink.delay, { ...tinyWindows })
    expect(result.sentTotal).toBe(data.length)
    // The limits were really what held the sender back, and it said so (§4.1 SHOULD).
    expect(result.atStreamLimit).toBeGreaterThan(10)
    expect(framesOf(decoded, true, "StreamDataBlocked").length).toBeGreaterThan(0)
    expect(framesOf(decoded, false, "MaxStreamData").length).toBeGreaterThan(10)
    expect(framesOf(decoded, false, "MaxData").length).toBeGreaterThan(10)
  })

  it("connection-level credit is shared: three streams through a 4 KB connection window", () => {
    const keyLog = new KeyLog()
    const windows: Partial<TransportConfig> = { ...tinyWindows, maxStreamWindow: 4096, maxConnectionWindow: 4096 }
    const pair = makeTestPair(backend, perfectLink, {
      transport: windows,
      recordWire: true,
      client: { keyLog: keyLog.log, cipherSuites: [TLS_AES_128_GCM_SHA256] }
    })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const datas = [0, 1, 2].map((i) => pattern(100_000 + i * 10_000, i))
    const ids = [client.openBi(network.now, clientConn), client.openUni(network.now, clientConn), client.openBi(network.now, clientConn)] as Array<number>
    const writers = ids.map((id, i) => new StreamWriter(client, network, clientConn, id, datas[i]!, 1000))
    const readers = ids.map((id, i) => new StreamReader(server, network, serverConn, id, datas[i]!))
    network.onEvent = (endpoint, event) => {
      const i = ids.indexOf((event as { stream?: number }).stream ?? -1)
      if (i < 0) return
      if (endpoint === client && event._tag === "StreamWritable") writers[i]!.pump()
      if (endpoint === server && event._tag === "StreamReadable") readers[i]!.pump()
    }
    client.batch(network.now, () => writers.forEach((w) => w.pump()))
    expect(network.run(() => readers.every((r) => r.finished), 600_000_000)).toBe(true)
    for (const reader of readers) {
      expect(reader.firstMismatch).toBe(-1)
      expect(reader.received).toBe(reader.expected.length)
    }
    const { decoded } = decodeWire(backend, network.wire, keyLog)
    const result = checkFlowControl(decoded, perfectLink.delay, windows)
    expect(result.atConnectionLimit).toBeGreaterThan(0)
    expect(framesOf(decoded, true, "DataBlocked").length).toBeGreaterThan(0)
    expect(closedEvents(network, SERVER)).toEqual([])
  })

  /** Both directions, bidi and uni, through tiny windows over a lossy link (the handshake too). */
  const lossyExchange = (model: LinkModel, seed: number) => {
    const keyLog = new KeyLog()
    const pair = makeTestPair(backend, model, {
      seed,
      transport: tinyWindows,
      recordWire: true,
      client: { keyLog: keyLog.log, cipherSuites: [TLS_AES_128_GCM_SHA256] }
    })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair, 60_000_000)
    const up = [pattern(40_000, seed), pattern(30_000, seed + 1)]
    const down = pattern(40_000, seed + 2)
    const upIds = [client.openBi(network.now, clientConn) as number, client.openUni(network.now, clientConn) as number]
    const downId = server.openUni(network.now, serverConn) as number
    const writers = [
      ...upIds.map((id, i) => new StreamWriter(client, network, clientConn, id, up[i]!, 3000)),
      new StreamWriter(server, network, serverConn, downId, down, 3000)
    ]
    const readers = [
      ...upIds.map((id, i) => new StreamReader(server, network, serverConn, id, up[i]!)),
      new StreamReader(client, network, clientConn, downId, down)
    ]
    network.onEvent = (endpoint, event) => {
      if (event._tag !== "StreamWritable" && event._tag !== "StreamReadable") return
      const ends: ReadonlyArray<StreamWriter | StreamReader> = event._tag === "StreamWritable" ? writers : readers
      ends.find((e) => e.endpoint === endpoint && e.stream === event.stream)?.pump()
    }
    for (const w of writers) w.pump()
    const ok = network.run(() => readers.every((r) => r.finished), 600_000_000)
    return { ok, readers, network, keyLog }
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 8])("never provokes FLOW_CONTROL_ERROR under 10%% loss and duplication (seed %i)", (seed) => {
    const model = { ...perfectLink, loss: 0.1, duplicate: 0.05 }
    const { ok, readers, network, keyLog } = lossyExchange(model, seed)
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
    expect(ok).toBe(true)
    for (const reader of readers) {
      expect(reader.firstMismatch).toBe(-1)
      expect(reader.received).toBe(reader.expected.length)
    }
    const { decoded } = decodeWire(backend, network.wire, keyLog)
    checkFlowControl(decoded, model.delay, tinyWindows)
  })

  it.each([1, 2, 3])("never provokes FLOW_CONTROL_ERROR under 30%% reordering and 5%% loss (seed %i)", (seed) => {
    const { ok, readers, network } = lossyExchange({ ...perfectLink, loss: 0.05, reorder: 0.3, reorderDelay: 12_000, jitter: 3_000 }, seed)
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
    expect(ok).toBe(true)
    for (const reader of readers) expect(reader.firstMismatch).toBe(-1)
  })
})

const stream = (id: number, offset: number, length: number, fin = false): Frame => ({
  _tag: "Stream",
  id,
  offset,
  data: pattern(length, id),
  fin,
  withLength: true
})

const rogueClient = (serverTransport: Partial<TransportConfig>) => makeRogueClient(backend, serverTransport)

describe("a peer that violates the limits is closed with the RFC's error code", () => {
  it("FLOW_CONTROL_ERROR (0x03): STREAM data beyond MAX_STREAM_DATA", () => {
    const pair = rogueClient({ initialMaxStreamData: 1000 })
    // Exactly at the limit is fine (type 0x0a); one byte beyond is not (0x0e).
    const frame = stream(0, 1000, 1)
    pair.inject([stream(0, 0, 1000), frame])
    expectClosedWith(pair, TransportErrorCode.FLOW_CONTROL_ERROR, frameTypeOf(frame))
  })

  it("FLOW_CONTROL_ERROR (0x03): streams within their limits but beyond MAX_DATA together (frames from a StreamManager that was told larger limits)", () => {
    const pair = rogueClient({ initialMaxData: 1000, initialMaxStreamData: 600 })
    // A client-side stream layer that believes the server granted far more.
    const rogue = new StreamManager("client")
    rogue.applyPeerParameters({
      initialMaxData: 1 << 20,
      initialMaxStreamDataBidiLocal: 1 << 20,
      initialMaxStreamDataBidiRemote: 1 << 20,
      initialMaxStreamDataUni: 1 << 20,
      initialMaxStreamsBidi: 10,
      initialMaxStreamsUni: 10
    })
    const a = rogue.openBi()!
    const b = rogue.openBi()!
    expect(rogue.send(a, pattern(550, 1))).toBe(550)
    expect(rogue.send(b, pattern(550, 2))).toBe(550)
    const records: Array<SentStreamFrame> = []
    let frames: Array<Frame> = []
    pair.inject((w: BufferWriter) => {
      const start = w.offset
      rogue.writeFrames(w, w.remaining, records, pair.network.now, 20_000)
      frames = decodeFrames(w.bytes.subarray(start, w.offset), "1rtt") as Array<Frame>
    })
    // 550 + 550 > 1000: each stream is within its 600, the connection is not.
    expect(records).toEqual([
      { _tag: "Stream", id: a, offset: 0, length: 550, fin: false },
      { _tag: "Stream", id: b, offset: 0, length: 550, fin: false }
    ])
    expectClosedWith(pair, TransportErrorCode.FLOW_CONTROL_ERROR, frameTypeOf(frames[1]!))
  })

  it("FLOW_CONTROL_ERROR (0x03): a RESET_STREAM whose final size exceeds the stream's limit", () => {
    const pair = rogueClient({ initialMaxStreamData: 1000 })
    pair.inject([{ _tag: "ResetStream", id: 0, errorCode: 1n, finalSize: 1001 }])
    expectClosedWith(pair, TransportErrorCode.FLOW_CONTROL_ERROR, frameTypeOf({ _tag: "ResetStream", id: 0, errorCode: 1n, finalSize: 1001 }))
  })

  it.each([
    ["bidirectional", { maxConcurrentBidiStreams: 2 }, 8],
    ["unidirectional", { maxConcurrentUniStreams: 1 }, 6]
  ] as const)("STREAM_LIMIT_ERROR (0x04): a %s stream beyond MAX_STREAMS", (_kind, limits, id) => {
    const pair = rogueClient(limits)
    // The last stream within the limit opens (and with it every lower one, §3.2); the next is refused.
    const frame = stream(id, 0, 10)
    pair.inject([stream(id - 4, 0, 10), frame])
    expectClosedWith(pair, TransportErrorCode.STREAM_LIMIT_ERROR, frameTypeOf(frame))
    const opened = pair.network.eventsOf(SERVER).filter((e) => e._tag === "StreamOpened").map((e) => (e as { stream: number }).stream)
    expect(opened).toEqual(id === 8 ? [0, 4] : [2])
  })

  it.each([
    ["data beyond the final size", stream(0, 10, 5)],
    ["data ending past the final size", stream(0, 5, 6)],
    ["a FIN that moves the final size down", stream(0, 0, 5, true)],
    ["a FIN that moves the final size up", stream(0, 10, 2, true)],
    ["a RESET_STREAM with another final size", { _tag: "ResetStream", id: 0, errorCode: 0n, finalSize: 9 } as Frame]
  ])("FINAL_SIZE_ERROR (0x06): %s", (_what, frame) => {
    const pair = rogueClient({})
    const { network, client, clientConn } = pair
    // The real client sends 10 bytes and FIN: the final size is 10.
    const id = client.openBi(network.now, clientConn) as number
    expect(id).toBe(0)
    expect(client.streamSend(network.now, clientConn, id, pattern(10, 0))).toBe(10)
    expect(client.streamFinish(network.now, clientConn, id)).toBeUndefined()
    expect(network.run(() => network.eventsOf(SERVER).some((e) => e._tag === "StreamReadable"), 1_000_000)).toBe(true)
    // A retransmission of what was sent is fine; then the violation.
    const retransmission: Frame = { _tag: "Stream", id: 0, offset: 3, data: pattern(10, 0).subarray(3), fin: true, withLength: true }
    pair.inject([retransmission, frame])
    expectClosedWith(pair, TransportErrorCode.FINAL_SIZE_ERROR, frameTypeOf(frame))

  })

  it("FINAL_SIZE_ERROR (0x06) also after the stream was read to its end", () => {
    const pair = rogueClient({})
    const { network, client, server, clientConn, serverConn } = pair
    const id = client.openBi(network.now, clientConn) as number
    client.streamSend(network.now, clientConn, id, pattern(10, 0))
    client.streamFinish(network.now, clientConn, id)
    expect(network.run(() => network.eventsOf(SERVER).some((e) => e._tag === "StreamReadable"), 1_000_000)).toBe(true)
    const read = server.streamRecv(network.now, serverConn, id, 100)
    expect("_tag" in read ? read : read.finished).toBe(true)
    const frame = stream(0, 10, 1)
    pair.inject([frame])
    expectClosedWith(pair, TransportErrorCode.FINAL_SIZE_ERROR, frameTypeOf(frame))
  })

  it.each([
    ["STREAM on a server-initiated stream the server never opened", stream(1, 0, 5)],
    ["STREAM on the server's own unidirectional stream", stream(3, 0, 5)],
    ["MAX_STREAM_DATA for the client's own unidirectional stream, as seen by the server (receive-only)", { _tag: "MaxStreamData", id: 2, max: 5000n } as Frame]
  ])("STREAM_STATE_ERROR (0x05): %s", (_what, frame) => {
    const pair = rogueClient({})
    pair.inject([frame])
    expectClosedWith(pair, TransportErrorCode.STREAM_STATE_ERROR, frameTypeOf(frame))
  })
})

describe("regression: handshake under loss", () => {
  /**
   * Found by the lossy flow-control runs (seed 5): once the client had 1-RTT
   * keys, Connection.pollTransmit sealed its Handshake packet (a PTO probe
   * repeating its Finished, or an ACK) and then dropped the whole datagram
   * because the application space had nothing to add; the server never
   * completed the handshake. Fixed in aa97491.
   */
  it("completes when the client's Handshake flight (its Finished) is lost once", () => {
    const pair = makeTestPair(backend, perfectLink, { recordWire: true })
    const { network, client, server } = pair
    // Drop the client's second datagram: its Initial ACK and Handshake packet with Finished.
    let fromClient = 0
    const deliver = server.handleDatagram.bind(server)
    server.handleDatagram = (now, bytes, peer) => {
      if (++fromClient === 2) return
      deliver(now, bytes, peer)
    }
    client.connect(network.now, SERVER, "localhost")
    const connected = (address: typeof SERVER) => network.eventsOf(address).some((e) => e._tag === "Connected")
    network.run(() => connected(SERVER), 10_000_000)
    // The client probed again (RFC 9002 §6.2.4) and the server completed.
    expect(network.wire.filter((o) => o.from.port === CLIENT.port).length).toBeGreaterThan(2)
    expect(connected(CLIENT)).toBe(true)
    expect(connected(SERVER)).toBe(true)
    expect(closedEvents(network, CLIENT)).toEqual([])
  })

  it("completes under 10% loss for 40 seeds", () => {
    const failed: Array<number> = []
    for (let seed = 1; seed <= 40; seed++) {
      const { network, client } = makeTestPair(backend, { ...perfectLink, loss: 0.1 }, { seed })
      client.connect(network.now, SERVER, "localhost")
      const connected = (address: typeof SERVER) => network.eventsOf(address).some((e) => e._tag === "Connected")
      if (!network.run(() => connected(CLIENT) && connected(SERVER), 60_000_000)) failed.push(seed)
    }
    expect(failed).toEqual([])
  })
})
