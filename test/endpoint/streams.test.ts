import { describe, expect, it } from "vitest"
import type { QuicEndpoint } from "../../src/internal/endpoint.js"
import type { QuicEvent } from "../../src/internal/events.js"
import { TLS_AES_128_GCM_SHA256 } from "../../src/internal/crypto/suite.js"
import { backends } from "../helpers.js"
import {
  CLIENT,
  closedEvents,
  connect,
  connectionOf,
  decodeWire,
  KeyLog,
  makeTestPair,
  pattern,
  SERVER,
  StreamReader,
  StreamWriter
} from "../support/kit.js"
import { type LinkModel, perfectLink } from "../support/link.js"

const [, backend] = backends[0]!

/** The request of stream number `i`: 50 to 150 bytes, different for every stream. */
const requestOf = (i: number): Uint8Array => {
  const out = new Uint8Array(50 + ((i * 37) % 101))
  for (let k = 0; k < out.length; k++) out[k] = (i * 131 + k * 7 + (i >> 8)) & 0xff
  return out
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/**
 * A server that echoes every bidirectional stream: it reads the request to
 * its FIN, then writes it back and FINs.
 */
const echoServer = (server: QuicEndpoint, network: ReturnType<typeof makeTestPair>["network"]) => {
  const requests = new Map<number, Array<Uint8Array>>()
  const writers = new Map<number, StreamWriter>()
  let echoed = 0
  const onEvent = (event: QuicEvent) => {
    if (event._tag === "StreamReadable") {
      const chunks = requests.get(event.stream) ?? []
      requests.set(event.stream, chunks)
      for (;;) {
        const chunk = server.streamRecv(network.now, event.connection, event.stream, 1 << 16)
        if ("_tag" in chunk) {
          if (chunk._tag === "ReadBlocked") return
          throw new Error(`server read: ${chunk._tag}`)
        }
        if (chunk.data.length > 0) chunks.push(chunk.data.slice())
        if (chunk.finished) {
          requests.delete(event.stream)
          const writer = new StreamWriter(server, network, event.connection, event.stream, concat(chunks))
          writers.set(event.stream, writer)
          writer.pump()
          echoed++
          return
        }
        if (chunk.data.length === 0) return
      }
    } else if (event._tag === "StreamWritable") {
      writers.get(event.stream)?.pump()
    } else if (event._tag === "StreamFinished") {
      writers.delete(event.stream)
    }
  }
  return { onEvent, echoed: () => echoed, pendingWriters: () => writers.size }
}

/**
 * The client opens STREAMS bidirectional streams (as many at once as the
 * server's MAX_STREAMS allows), writes a request and FIN on each, and checks
 * the echo byte for byte.
 */
const manyStreams = (STREAMS: number, CONCURRENT: number, model: LinkModel, seed: number) => {
  const pair = makeTestPair(backend, model, { seed, serverTransport: { maxConcurrentBidiStreams: CONCURRENT } })
  const { network, client, server } = pair
  const echo = echoServer(server, network)
  const readers = new Map<number, StreamReader>()
  const writers = new Map<number, StreamWriter>()
  let conn = -1
  let opened = 0
  let done = 0
  /** `opened` each time openBi answered undefined. */
  const refusedAt: Array<number> = []
  /** Streams opened in answer to each StreamsAvailable{bidi}. */
  const wakes: Array<number> = []

  const openMore = (): number => {
    let count = 0
    client.batch(network.now, () => {
      while (opened < STREAMS) {
        const stream = client.openBi(network.now, conn)
        if (stream === undefined) {
          refusedAt.push(opened)
          return
        }
        if (typeof stream !== "number") throw new Error(`openBi: ${stream._tag}`)
        const request = requestOf(opened)
        readers.set(stream, new StreamReader(client, network, conn, stream, request))
        const writer = new StreamWriter(client, network, conn, stream, request)
        writers.set(stream, writer)
        writer.pump()
        opened++
        count++
      }
    })
    return count
  }

  network.onEvent = (endpoint: QuicEndpoint, event: QuicEvent) => {
    if (endpoint === server) return echo.onEvent(event)
    switch (event._tag) {
      case "Connected":
        conn = event.connection
        openMore()
        break
      case "StreamsAvailable":
        // The peer's transport parameters raise both limits from 0 once,
        // possibly before Connected; Connected then opens the first batch.
        if (!event.bidi || conn < 0) break
        if (opened < STREAMS) wakes.push(openMore())
        break
      case "StreamWritable":
        writers.get(event.stream)?.pump()
        break
      case "StreamReadable": {
        const reader = readers.get(event.stream)!
        reader.pump()
        if (reader.finished) done++
        break
      }
      case "StreamFinished":
        writers.delete(event.stream)
        break
    }
  }
  client.connect(network.now, SERVER, "localhost")
  expect(network.run(() => done === STREAMS, 600_000_000)).toBe(true)

  expect(opened).toBe(STREAMS)
  expect(echo.echoed()).toBe(STREAMS)
  for (const reader of readers.values()) {
    expect(reader.firstMismatch).toBe(-1)
    expect(reader.received).toBe(reader.expected.length)
    expect(reader.finishedReads).toBe(1)
  }
  // Stream IDs are the client's bidirectional ones, 0, 4, 8, … in order.
  expect([...readers.keys()]).toEqual(Array.from({ length: STREAMS }, (_, i) => i * 4))
  // The first refusal comes exactly at the server's initial_max_streams_bidi.
  expect(refusedAt[0]).toBe(CONCURRENT)
  expect(refusedAt.length).toBeGreaterThan(1)
  // The opener only retries on StreamsAvailable: every refusal was answered
  // by one, and each one let it open more streams — except, at most, the
  // event for the limit of the transport parameters, which the client
  // surfaces after Connected (when the first 100 are already open).
  expect(wakes.length).toBe(refusedAt.length)
  expect(wakes.filter((n) => n === 0).length).toBeLessThanOrEqual(1)
  expect(wakes.reduce((a, b) => a + b, 0)).toBe(STREAMS - CONCURRENT)

  // Once the last acknowledgments land, no stream state is left on either side.
  expect(network.run(() => echo.pendingWriters() === 0 && writers.size === 0, 10_000_000)).toBe(true)
  const serverConn = network.eventsOf(SERVER).find((e) => e._tag === "Connected")!.connection
  expect(network.run(() => connectionOf(server, serverConn)!.streams.streamCount === 0 && connectionOf(client, conn)!.streams.streamCount === 0, 10_000_000)).toBe(true)
  expect(closedEvents(network, CLIENT)).toEqual([])
  expect(closedEvents(network, SERVER)).toEqual([])
}

describe("many streams on one connection", () => {
  it("echoes 10 000 small bidirectional streams byte-exact; MAX_STREAMS holds openBi back and StreamsAvailable resumes it", () => {
    manyStreams(10_000, 100, perfectLink, 1)
  }, 120_000)

  it("echoes 2 000 streams byte-exact with 5% loss and a limit of 16 concurrent streams", () => {
    manyStreams(2_000, 16, { ...perfectLink, loss: 0.05 }, 9)
  }, 120_000)
})

const eventsOf = <T extends QuicEvent["_tag"]>(network: ReturnType<typeof makeTestPair>["network"], address: typeof CLIENT, tag: T) =>
  network.eventsOf(address).filter((e): e is Extract<QuicEvent, { _tag: T }> => e._tag === tag)

describe("RESET_STREAM and STOP_SENDING end to end", () => {
  it("the reader sees ReadReset with the writer's code, once, then ReadClosedStream", () => {
    const pair = makeTestPair(backend, perfectLink)
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const stream = client.openBi(network.now, clientConn) as number
    expect(client.streamSend(network.now, clientConn, stream, pattern(1000))).toBe(1000)
    expect(network.run(() => eventsOf(network, SERVER, "StreamReadable").length > 0, 1_000_000)).toBe(true)
    // The server reads what arrived, then the client abandons the stream.
    const first = server.streamRecv(network.now, serverConn, stream, 1 << 16)
    expect("_tag" in first ? first : { length: first.data.length, finished: first.finished }).toEqual({ length: 1000, finished: false })
    expect(client.resetStream(network.now, clientConn, stream, 42n)).toBeUndefined()
    // The writer can no longer write, finish or reset it.
    expect(client.streamSend(network.now, clientConn, stream, pattern(10))).toEqual({ _tag: "WriteClosedStream" })
    expect(client.streamFinish(network.now, clientConn, stream)).toEqual({ _tag: "WriteClosedStream" })
    expect(client.resetStream(network.now, clientConn, stream, 43n)).toEqual({ _tag: "WriteClosedStream" })
    expect(network.run(() => eventsOf(network, SERVER, "StreamReadable").length > 1, 1_000_000)).toBe(true)
    expect(server.streamRecv(network.now, serverConn, stream, 1 << 16)).toEqual({ _tag: "ReadReset", code: 42n })
    expect(server.streamRecv(network.now, serverConn, stream, 1 << 16)).toEqual({ _tag: "ReadClosedStream" })
    // A reset stream never reports StreamFinished.
    network.run(() => false, 1_000_000)
    expect(eventsOf(network, CLIENT, "StreamFinished")).toEqual([])
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
  })

  it("a reset discards unread data: the reader's next read is ReadReset", () => {
    const pair = makeTestPair(backend, { ...perfectLink, loss: 0.1 }, { seed: 4 })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const stream = client.openUni(network.now, clientConn) as number
    expect(client.streamSend(network.now, clientConn, stream, pattern(5000))).toBe(5000)
    expect(client.resetStream(network.now, clientConn, stream, 0x3fffffffffffffffn)).toBeUndefined()
    expect(network.run(() => {
      const readable = eventsOf(network, SERVER, "StreamReadable")
      if (readable.length === 0) return false
      const read = server.streamRecv(network.now, serverConn, stream, 1 << 16)
      // Data that arrived before the RESET_STREAM may be read first.
      return "_tag" in read && read._tag === "ReadReset" && read.code === 0x3fffffffffffffffn
    }, 10_000_000)).toBe(true)
    expect(closedEvents(network, SERVER)).toEqual([])
  })

  it("STOP_SENDING: the writer gets StreamStopped{code}, its writes fail with WriteStopped{code}, and it resets with that code", () => {
    const keyLog = new KeyLog()
    const pair = makeTestPair(backend, perfectLink, { recordWire: true, client: { keyLog: keyLog.log, cipherSuites: [TLS_AES_128_GCM_SHA256] } })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const stream = client.openBi(network.now, clientConn) as number
    expect(client.streamSend(network.now, clientConn, stream, pattern(700))).toBe(700)
    expect(network.run(() => eventsOf(network, SERVER, "StreamOpened").length > 0, 1_000_000)).toBe(true)
    expect(server.stopSending(network.now, serverConn, stream, 7n)).toBeUndefined()
    // Stopping twice, or reading a stopped stream, is refused.
    expect(server.stopSending(network.now, serverConn, stream, 8n)).toEqual({ _tag: "ReadClosedStream" })
    expect(server.streamRecv(network.now, serverConn, stream, 100)).toEqual({ _tag: "ReadClosedStream" })
    expect(network.run(() => eventsOf(network, CLIENT, "StreamStopped").length > 0, 1_000_000)).toBe(true)
    expect(eventsOf(network, CLIENT, "StreamStopped")).toEqual([{ _tag: "StreamStopped", connection: clientConn, stream, code: 7n }])
    expect(client.streamSend(network.now, clientConn, stream, pattern(10))).toEqual({ _tag: "WriteStopped", code: 7n })
    expect(client.streamFinish(network.now, clientConn, stream)).toEqual({ _tag: "WriteStopped", code: 7n })
    network.run(() => false, 1_000_000)
    // On the wire: one STOP_SENDING from the server, one RESET_STREAM from the
    // client with the same code and the final size of everything written.
    const { decoded, undecryptable } = decodeWire(backend, network.wire, keyLog)
    expect(undecryptable).toBe(0)
    const frames = (fromClient: boolean) => decoded.filter((d) => d.fromClient === fromClient).flatMap((d) => d.frames)
    expect(frames(false).filter((f) => f._tag === "StopSending")).toEqual([{ _tag: "StopSending", id: stream, errorCode: 7n }])
    expect(frames(true).filter((f) => f._tag === "ResetStream")).toEqual([{ _tag: "ResetStream", id: stream, errorCode: 7n, finalSize: 700 }])
    // The server's own direction of the stream is untouched.
    expect(server.streamSend(network.now, serverConn, stream, pattern(5))).toBe(5)
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
  })

  it("STOP_SENDING on a unidirectional stream frees it on both sides", () => {
    const pair = makeTestPair(backend, perfectLink)
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const stream = client.openUni(network.now, clientConn) as number
    expect(client.streamSend(network.now, clientConn, stream, pattern(300))).toBe(300)
    expect(network.run(() => eventsOf(network, SERVER, "StreamOpened").length > 0, 1_000_000)).toBe(true)
    expect(server.stopSending(network.now, serverConn, stream, 99n)).toBeUndefined()
    expect(network.run(() => eventsOf(network, CLIENT, "StreamStopped").length > 0, 1_000_000)).toBe(true)
    expect(eventsOf(network, CLIENT, "StreamStopped")[0]!.code).toBe(99n)
    expect(network.run(() =>
      connectionOf(client, clientConn)!.streams.streamCount === 0 && connectionOf(server, serverConn)!.streams.streamCount === 0, 1_000_000)).toBe(true)
  })
})

describe("StreamFinished", () => {
  it.each([0, 0.1])("fires once, after the peer acknowledged every byte and the FIN (loss %s)", (loss) => {
    const pair = makeTestPair(backend, { ...perfectLink, loss }, { seed: 12 })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const data = pattern(300_000, 3)
    const stream = client.openBi(network.now, clientConn) as number
    const writer = new StreamWriter(client, network, clientConn, stream, data.subarray(0, 100_000))
    const reader = new StreamReader(server, network, serverConn, stream, data)
    let finishedAt: number | undefined
    network.onEvent = (endpoint, event) => {
      if (endpoint === server && event._tag === "StreamReadable") reader.pump()
      if (endpoint === client && event._tag === "StreamFinished") finishedAt ??= network.now
      if (endpoint === client && event._tag === "StreamWritable") writer.pump()
    }
    // Data without FIN: everything is acknowledged but the stream is not finished.
    writer.finished = true
    writer.pump()
    network.run(() => false, 5_000_000)
    expect(reader.received).toBe(100_000)
    expect(finishedAt).toBeUndefined()
    // The rest, and FIN.
    const rest = new StreamWriter(client, network, clientConn, stream, data.subarray(100_000))
    network.onEvent = (endpoint, event) => {
      if (endpoint === server && event._tag === "StreamReadable") reader.pump()
      if (endpoint === client && event._tag === "StreamFinished") finishedAt ??= network.now
      if (endpoint === client && event._tag === "StreamWritable") rest.pump()
    }
    rest.pump()
    expect(network.run(() => finishedAt !== undefined, 60_000_000)).toBe(true)
    network.run(() => false, 2_000_000)
    expect(reader.finished).toBe(true)
    expect(reader.firstMismatch).toBe(-1)
    expect(reader.received).toBe(data.length)
    expect(eventsOf(network, CLIENT, "StreamFinished")).toEqual([{ _tag: "StreamFinished", connection: clientConn, stream }])
    // The acknowledgment of the last byte left the server when it read the FIN at the earliest.
    expect(finishedAt!).toBeGreaterThanOrEqual(reader.finishedAt! + perfectLink.delay)
  })
})

describe("fairness", () => {
  it("two streams with lots of data progress together", () => {
    const pair = makeTestPair(backend, perfectLink)
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    const SIZE = 4 << 20
    const datas = [pattern(SIZE, 1), pattern(SIZE, 2)]
    const ids = [client.openBi(network.now, clientConn) as number, client.openBi(network.now, clientConn) as number]
    const writers = ids.map((id, i) => new StreamWriter(client, network, clientConn, id, datas[i]!))
    const readers = ids.map((id, i) => new StreamReader(server, network, serverConn, id, datas[i]!))
    const finishedAt: Array<number | undefined> = [undefined, undefined]
    /** The other stream's bytes read by the server when the first FIN was read. */
    let otherAtFirstFin: number | undefined
    /** Both streams' bytes read by the server when the client saw the first StreamFinished. */
    let readAtFirstFinished: Array<number> | undefined
    network.onEvent = (endpoint, event) => {
      const i = ids.indexOf((event as { stream?: number }).stream ?? -1)
      if (i < 0) return
      if (endpoint === client && event._tag === "StreamWritable") writers[i]!.pump()
      if (endpoint === client && event._tag === "StreamFinished") {
        finishedAt[i] = network.now
        readAtFirstFinished ??= readers.map((r) => r.received)
      }
      if (endpoint === server && event._tag === "StreamReadable") {
        readers[i]!.pump()
        if (readers[i]!.finished && otherAtFirstFin === undefined) otherAtFirstFin = readers[1 - i]!.received
      }
    }
    client.batch(network.now, () => writers.forEach((w) => w.pump()))
    expect(network.run(() => finishedAt.every((t) => t !== undefined), 120_000_000)).toBe(true)
    for (const reader of readers) {
      expect(reader.firstMismatch).toBe(-1)
      expect(reader.received).toBe(SIZE)
      expect(reader.finishedReads).toBe(1)
    }
    // When the first stream was through, the other had well over half its data
    // delivered (and so acknowledged, the link being perfect) as well.
    expect(otherAtFirstFin!).toBeGreaterThan(SIZE / 2)
    expect(readAtFirstFinished!.every((n) => n > SIZE / 2)).toBe(true)
  })
})

describe("mixed stream endings under loss", () => {
  /**
   * The client opens 300 streams, bidirectional and unidirectional at random,
   * with up to 40 KB each; each one ends by FIN, by the client resetting it
   * half-way (code id+1), or by the server asking it to stop (code 77). The
   * server echoes nothing but closes its own half of every bidirectional
   * stream. Every stream must end as planned, with no connection error, and
   * all stream state must be freed on both sides (so MAX_STREAMS keeps rising).
   */
  const mixed = (seed: number, loss: number) => {
    let state = seed * 7919
    const random = () => {
      state = (state * 1103515245 + 12345) % 2147483648
      return state / 2147483648
    }
    const model: { -readonly [K in keyof LinkModel]: LinkModel[K] } = { ...perfectLink }
    const pair = makeTestPair(backend, model, {
      seed,
      transport: { initialMaxData: 64 * 1024, initialMaxStreamData: 16 * 1024, maxConcurrentBidiStreams: 20, maxConcurrentUniStreams: 20 }
    })
    const { network, client, server } = pair
    const { clientConn, serverConn } = connect(pair)
    Object.assign(model, { loss, duplicate: 0.02, jitter: 2_000 })
    const N = 300
    interface Plan {
      readonly id: number
      readonly data: Uint8Array
      readonly ending: "fin" | "reset" | "stop"
      sent: number
      done: boolean
    }
    const plans = new Map<number, Plan>()
    const outcome = new Map<number, string>()
    const read = new Map<number, number>()
    const stopped = new Set<number>()
    let opened = 0
    const write = (p: Plan) => {
      if (p.done) return
      while (p.sent < p.data.length) {
        const n = client.streamSend(network.now, clientConn, p.id, p.data.subarray(p.sent, p.sent + 4000))
        if (typeof n !== "number") {
          if (n._tag === "WriteStopped") {
            p.done = true
            return
          }
          expect(n._tag).toBe("WriteBlocked")
          return
        }
        p.sent += n
        if (p.ending === "reset" && p.sent > p.data.length / 2) break
      }
      p.done = true
      if (p.ending === "reset") expect(client.resetStream(network.now, clientConn, p.id, BigInt(p.id + 1))).toBeUndefined()
      else expect(client.streamFinish(network.now, clientConn, p.id)).toBeUndefined()
    }
    const openMore = () => {
      while (opened < N) {
        const bidi = random() < 0.5
        const id = bidi ? client.openBi(network.now, clientConn) : client.openUni(network.now, clientConn)
        if (id === undefined) return
        const x = random()
        const p: Plan = {
          id: id as number,
          data: pattern(Math.floor(random() * 40_000), opened),
          ending: x < 0.6 ? "fin" : x < 0.8 ? "reset" : "stop",
          sent: 0,
          done: false
        }
        plans.set(p.id, p)
        opened++
        write(p)
      }
    }
    const closeServerHalf = (id: number) => {
      if (id % 4 === 0) expect(server.streamFinish(network.now, serverConn, id)).toBeUndefined()
    }
    network.onEvent = (endpoint, event) => {
      if (endpoint === client) {
        if (event._tag === "StreamsAvailable") openMore()
        else if (event._tag === "StreamWritable") write(plans.get(event.stream)!)
        else if (event._tag === "StreamStopped") outcome.set(event.stream, `stopped ${event.code}`)
        else if (event._tag === "StreamReadable") {
          // The server's half of a bidirectional stream: an empty FIN.
          expect(client.streamRecv(network.now, clientConn, event.stream, 100)).toEqual({ data: new Uint8Array(0), finished: true })
        }
        return
      }
      if (event._tag !== "StreamReadable" && event._tag !== "StreamOpened") return
      const p = plans.get(event.stream)!
      if (stopped.has(p.id)) return
      if (p.ending === "stop") {
        stopped.add(p.id)
        expect(server.stopSending(network.now, serverConn, p.id, 77n)).toBeUndefined()
        closeServerHalf(p.id)
        return
      }
      if (event._tag === "StreamOpened") return
      for (;;) {
        const chunk = server.streamRecv(network.now, serverConn, p.id, 1 << 20)
        if ("_tag" in chunk) {
          if (chunk._tag === "ReadReset") {
            outcome.set(p.id, `reset ${chunk.code}`)
            closeServerHalf(p.id)
          } else expect(chunk._tag).toBe("ReadBlocked")
          return
        }
        const at = read.get(p.id) ?? 0
        expect(Buffer.compare(chunk.data, p.data.subarray(at, at + chunk.data.length))).toBe(0)
        read.set(p.id, at + chunk.data.length)
        if (chunk.finished) {
          outcome.set(p.id, `fin ${at + chunk.data.length}`)
          closeServerHalf(p.id)
          return
        }
        if (chunk.data.length === 0) return
      }
    }
    openMore()
    const serverState = connectionOf(server, serverConn)!
    const clientState = connectionOf(client, clientConn)!
    const settled = () => opened === N && serverState.streams.streamCount === 0 && clientState.streams.streamCount === 0
    expect(network.run(settled, 120_000_000)).toBe(true)
    let skipped = 0
    for (const p of plans.values()) {
      const expected = p.ending === "fin" ? `fin ${p.data.length}` : p.ending === "reset" ? `reset ${p.id + 1}` : "stopped 77"
      // A stop that arrives after everything was acknowledged has nothing left to stop.
      if (p.ending === "stop" && outcome.get(p.id) === undefined) { skipped++; continue }
      expect(`${p.id}: ${outcome.get(p.id)}`).toBe(`${p.id}: ${expected}`)
    }
    expect(skipped).toBeLessThan([...plans.values()].filter((p) => p.ending === "stop").length / 10)
    expect(closedEvents(network, CLIENT)).toEqual([])
    expect(closedEvents(network, SERVER)).toEqual([])
  }

  it.each([[1, 0.05], [2, 0.05], [3, 0.2], [4, 0.2]])("FIN, RESET_STREAM and STOP_SENDING on 300 streams end as planned and free all state (seed %i, loss %s)", (seed, loss) => {
    mixed(seed, loss)
  }, 60_000)
})

describe("a batch that spans several calls (beginBatch / endBatch)", () => {
  it("a stream opened, written and finished inside it leaves in one packet: data and FIN in one STREAM frame", () => {
    const keyLog = new KeyLog()
    const pair = makeTestPair(backend, perfectLink, { recordWire: true, client: { keyLog: keyLog.log } })
    const { network, client } = pair
    const { clientConn } = connect(pair)
    network.run(() => false, 300_000)
    const before = network.wire.length
    client.beginBatch()
    const stream = client.openBi(network.now, clientConn) as number
    expect(client.streamSend(network.now, clientConn, stream, pattern(8, 3))).toBe(8)
    expect(client.streamFinish(network.now, clientConn, stream)).toBeUndefined()
    expect(client.sendQueueLength).toBe(0)
    client.endBatch(network.now)
    expect(client.sendQueueLength).toBe(1)
    network.run(() => false, 100_000)
    const { decoded } = decodeWire(backend, network.wire.slice(before), keyLog)
    const fromClient = decoded.filter((d) => d.fromClient)
    expect(fromClient.length).toBe(1)
    const streamFrames = fromClient[0]!.frames.filter((f) => f._tag === "Stream")
    expect(streamFrames).toMatchObject([{ id: stream, offset: 0, fin: true }])
  })
})
