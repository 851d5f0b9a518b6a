import { describe, expect, it } from "vitest"
import { isTransportError, TransportErrorCode } from "../../src/internal/errors.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import { type Frame, FrameType, frameTypeOf } from "../../src/internal/frame/types.js"
import {
  defaultStreamConfig,
  type SentStreamFrame,
  type StreamConfig,
  type StreamFrame,
  StreamManager
} from "../../src/internal/stream/streams.js"
import { bytes, drainEvents, expectError, flush, packet, pair, sameBytes } from "./helpers.js"

const { FINAL_SIZE_ERROR, FLOW_CONTROL_ERROR, STREAM_LIMIT_ERROR, STREAM_STATE_ERROR } = TransportErrorCode

const config = (overrides: Partial<StreamConfig>): StreamConfig => ({ ...defaultStreamConfig, ...overrides })

const stream = (id: number, offset: number, data: Uint8Array, fin = false): StreamFrame => ({
  _tag: "Stream",
  id,
  offset,
  data,
  fin,
  withLength: true
})

const reset = (id: number, finalSize: number, errorCode = 7n): StreamFrame => ({
  _tag: "ResetStream",
  id,
  errorCode,
  finalSize
})

const decodeAll = (payload: Uint8Array): Array<Frame> => {
  const result = decodeFrames(payload, "1rtt")
  if (isTransportError(result)) throw new Error(result.reason)
  return result
}

/** The frames one packet from `manager` carries, and its records. */
const frames = (manager: StreamManager, size = 1200): { frames: Array<Frame>; records: Array<SentStreamFrame> } => {
  const { payload, records } = packet(manager, size)
  return { frames: payload.length === 0 ? [] : decodeAll(payload), records }
}

describe("stream IDs and limits (RFC 9000 §2.1, §4.6)", () => {
  it("numbers streams by initiator and direction", () => {
    const { client, server } = pair()
    expect([client.openBi(), client.openBi(), client.openUni(), client.openUni()]).toEqual([0, 4, 2, 6])
    expect([server.openBi(), server.openUni(), server.openBi()]).toEqual([1, 3, 5])
  })

  it("refuses to open beyond the peer's MAX_STREAMS and says STREAMS_BLOCKED once per limit", () => {
    const { client } = pair(undefined, config({ maxConcurrentBidiStreams: 2 }))
    expect(client.openBi()).toBe(0)
    expect(client.openBi()).toBe(4)
    expect(client.openBi()).toBeUndefined()
    expect(client.openBi()).toBeUndefined()
    const first = frames(client).frames
    expect(first).toEqual([{ _tag: "StreamsBlocked", bidi: true, limit: 2n }])
    expect(client.openBi()).toBeUndefined()
    expect(client.hasPendingData()).toBe(false)
    // MAX_STREAMS raises the limit: StreamsAvailable, and the next open works.
    drainEvents(client)
    expect(client.onFrame({ _tag: "MaxStreams", bidi: true, max: 3n })).toBeUndefined()
    expect(drainEvents(client)).toEqual([{ _tag: "StreamsAvailable", bidi: true }])
    // A lower or equal MAX_STREAMS is ignored (§19.11).
    expect(client.onFrame({ _tag: "MaxStreams", bidi: true, max: 1n })).toBeUndefined()
    expect(drainEvents(client)).toEqual([])
    expect(client.openBi()).toBe(8)
  })

  it("opens every lower-numbered peer stream of the type implicitly (§3.2)", () => {
    const { server } = pair()
    expect(server.onFrame(stream(8, 0, Uint8Array.of(1)))).toBeUndefined()
    const opened = drainEvents(server).filter((e) => e._tag === "StreamOpened")
    expect(opened).toEqual([
      { _tag: "StreamOpened", id: 0, bidi: true },
      { _tag: "StreamOpened", id: 4, bidi: true },
      { _tag: "StreamOpened", id: 8, bidi: true }
    ])
    expect(server.streamCount).toBe(3)
    // A frame for an already open lower stream opens nothing new.
    expect(server.onFrame(stream(4, 0, Uint8Array.of(1)))).toBeUndefined()
    expect(drainEvents(server).filter((e) => e._tag === "StreamOpened")).toEqual([])
  })

  it("a peer stream beyond our MAX_STREAMS is STREAM_LIMIT_ERROR", () => {
    const server = new StreamManager("server", config({ maxConcurrentBidiStreams: 3, maxConcurrentUniStreams: 1 }))
    expect(server.onFrame(stream(8, 0, new Uint8Array(0)))).toBeUndefined()
    const frame = stream(12, 0, new Uint8Array(0))
    expectError(server.onFrame(frame), STREAM_LIMIT_ERROR, frameTypeOf(frame))
    expectError(server.onFrame(stream(6, 0, new Uint8Array(0))), STREAM_LIMIT_ERROR)
    expectError(server.onFrame({ _tag: "MaxStreamData", id: 16, max: 10n }), STREAM_LIMIT_ERROR)
  })
})

describe("stream state errors (RFC 9000 §19.4–19.13)", () => {
  const { server } = pair()
  server.openUni() // 3: server send-only
  server.openBi() // 1

  const cases: Array<[string, StreamFrame]> = [
    ["STREAM on a locally initiated stream not yet opened", stream(5, 0, Uint8Array.of(1))],
    ["RESET_STREAM on a locally initiated stream not yet opened", reset(9, 0)],
    ["STOP_SENDING on a locally initiated stream not yet opened", { _tag: "StopSending", id: 5, errorCode: 0n }],
    ["MAX_STREAM_DATA on a locally initiated stream not yet opened", { _tag: "MaxStreamData", id: 5, max: 9n }],
    ["STREAM on our send-only stream", stream(3, 0, Uint8Array.of(1))],
    ["RESET_STREAM on our send-only stream", reset(3, 0)],
    ["STREAM_DATA_BLOCKED on our send-only stream", { _tag: "StreamDataBlocked", id: 3, limit: 0n }],
    ["MAX_STREAM_DATA on the peer's send-only (our receive-only) stream", {
      _tag: "MaxStreamData",
      id: 2,
      max: 9n
    }],
    ["STOP_SENDING on our receive-only stream", { _tag: "StopSending", id: 2, errorCode: 0n }]
  ]
  for (const [name, frame] of cases) {
    it(`${name} is STREAM_STATE_ERROR`, () => {
      expectError(server.onFrame(frame), STREAM_STATE_ERROR, frameTypeOf(frame))
    })
  }

  it("frames for the stream directions that exist are fine", () => {
    expect(server.onFrame({ _tag: "MaxStreamData", id: 3, max: 9n })).toBeUndefined()
    expect(server.onFrame({ _tag: "StopSending", id: 1, errorCode: 0n })).toBeUndefined()
    expect(server.onFrame(stream(2, 0, Uint8Array.of(1)))).toBeUndefined()
    expect(server.onFrame({ _tag: "StreamDataBlocked", id: 6, limit: 0n })).toBeUndefined()
  })
})

describe("flow control (RFC 9000 §4.1)", () => {
  it("data beyond the stream window is FLOW_CONTROL_ERROR", () => {
    const server = new StreamManager("server", config({ streamReceiveWindow: 1000 }))
    expect(server.onFrame(stream(0, 0, new Uint8Array(1000)))).toBeUndefined()
    const frame = stream(0, 999, new Uint8Array(2))
    expectError(server.onFrame(frame), FLOW_CONTROL_ERROR, frameTypeOf(frame))
    expectError(server.onFrame(reset(4, 1001)), FLOW_CONTROL_ERROR, FrameType.RESET_STREAM)
  })

  it("data beyond the connection window is FLOW_CONTROL_ERROR, counting highest offsets", () => {
    const server = new StreamManager("server", config({ streamReceiveWindow: 600, connectionReceiveWindow: 1000 }))
    // A gap still counts: the highest offset is what flow control sees (§4.5).
    expect(server.onFrame(stream(0, 599, new Uint8Array(1)))).toBeUndefined()
    expect(server.onFrame(stream(0, 0, new Uint8Array(600)))).toBeUndefined()
    expect(server.onFrame(stream(4, 0, new Uint8Array(400)))).toBeUndefined()
    expectError(server.onFrame(stream(8, 0, new Uint8Array(1))), FLOW_CONTROL_ERROR)
    expectError(server.onFrame(reset(8, 1)), FLOW_CONTROL_ERROR)
    expect(server.onFrame(reset(8, 0))).toBeUndefined()
  })

  it("the windows move as the application reads", () => {
    const { client, server } = pair(undefined, config({ streamReceiveWindow: 1000, connectionReceiveWindow: 1500 }))
    const id = client.openBi()!
    const data = bytes(5000, 1)
    let written = 0
    let read = 0
    const out = new Uint8Array(5000)
    for (let i = 0; i < 100 && read < 5000; i++) {
      const n = client.send(id, data.subarray(written))
      if (typeof n === "number") written += n
      flush(client, server)
      const r = server.recvInto(id, out.subarray(read))
      if ("length" in r) read += r.length
    }
    expect(read).toBe(5000)
    expect(sameBytes(out, data)).toBe(true)
  })

  it("a partial write reports STREAM_DATA_BLOCKED once, and StreamWritable when credit arrives", () => {
    const { client } = pair(undefined, config({ streamReceiveWindow: 1000 }))
    const id = client.openBi()!
    expect(client.send(id, new Uint8Array(1500))).toBe(1000)
    expect(client.send(id, new Uint8Array(10))).toEqual({ _tag: "WriteBlocked" })
    const { frames: out } = frames(client)
    expect(out.filter((f) => f._tag === "StreamDataBlocked")).toEqual([
      { _tag: "StreamDataBlocked", id, limit: 1000n }
    ])
    expect(client.send(id, new Uint8Array(10))).toEqual({ _tag: "WriteBlocked" })
    expect(client.hasPendingData()).toBe(false)
    drainEvents(client)
    expect(client.onFrame({ _tag: "MaxStreamData", id, max: 1200n })).toBeUndefined()
    expect(drainEvents(client)).toEqual([{ _tag: "StreamWritable", id }])
    expect(client.send(id, new Uint8Array(500))).toBe(200)
  })

  it("connection credit runs out: DATA_BLOCKED", () => {
    const { client } = pair(undefined, config({ connectionReceiveWindow: 1000 }))
    const a = client.openBi()!
    const b = client.openBi()!
    expect(client.send(a, new Uint8Array(700))).toBe(700)
    expect(client.send(b, new Uint8Array(700))).toBe(300)
    const { frames: out } = frames(client)
    expect(out[0]).toEqual({ _tag: "DataBlocked", limit: 1000n })
    drainEvents(client)
    client.onFrame({ _tag: "MaxData", max: 2000n })
    expect(drainEvents(client)).toEqual([{ _tag: "StreamWritable", id: b }])
  })

  it("the per-stream send buffer bounds unacknowledged data", () => {
    const { client } = pair(config({ sendBufferSize: 1000 }))
    const id = client.openBi()!
    expect(client.send(id, new Uint8Array(1500))).toBe(1000)
    expect(client.send(id, new Uint8Array(1))).toEqual({ _tag: "WriteBlocked" })
    // Not flow control: no STREAM_DATA_BLOCKED.
    const { frames: out, records } = frames(client)
    expect(out.map((f) => f._tag)).toEqual(["Stream"])
    drainEvents(client)
    for (const r of records) client.onAcked(r)
    expect(drainEvents(client)).toEqual([{ _tag: "StreamWritable", id }])
    expect(client.send(id, new Uint8Array(1500))).toBe(1000)
  })
})

describe("final size (RFC 9000 §4.5)", () => {
  it("STREAM data beyond, or a FIN changing, the final size is FINAL_SIZE_ERROR", () => {
    const server = new StreamManager("server")
    expect(server.onFrame(stream(0, 0, new Uint8Array(10), true))).toBeUndefined()
    expectError(server.onFrame(stream(0, 10, Uint8Array.of(1))), FINAL_SIZE_ERROR)
    expectError(server.onFrame(stream(0, 0, new Uint8Array(8), true)), FINAL_SIZE_ERROR)
    expect(server.onFrame(stream(0, 5, new Uint8Array(5), true))).toBeUndefined()
  })

  it("a RESET_STREAM final size that differs from the known one, or is below received data", () => {
    const server = new StreamManager("server")
    expect(server.onFrame(stream(0, 0, new Uint8Array(10), true))).toBeUndefined()
    expectError(server.onFrame(reset(0, 12)), FINAL_SIZE_ERROR, FrameType.RESET_STREAM)
    expect(server.onFrame(stream(4, 0, new Uint8Array(10)))).toBeUndefined()
    expectError(server.onFrame(reset(4, 5)), FINAL_SIZE_ERROR)
    expect(server.onFrame(reset(4, 20))).toBeUndefined()
    expectError(server.onFrame(stream(4, 15, new Uint8Array(6))), FINAL_SIZE_ERROR)
    expect(server.onFrame(stream(4, 15, new Uint8Array(5)))).toBeUndefined()
    expect(server.onFrame(reset(4, 20))).toBeUndefined()
  })
})

describe("application calls", () => {
  it("reads data in order and reports the end once", () => {
    const server = new StreamManager("server")
    expect(server.recv(0, 10)).toEqual({ _tag: "ReadClosedStream" })
    server.onFrame(stream(0, 3, Uint8Array.of(4, 5), true))
    expect(server.recv(0, 10)).toEqual({ _tag: "ReadBlocked" })
    server.onFrame(stream(0, 0, Uint8Array.of(1, 2, 3)))
    const first = server.recv(0, 2)
    expect(first).toEqual({ data: Uint8Array.of(1, 2), finished: false })
    const rest = server.recv(0, 10)
    expect(rest).toEqual({ data: Uint8Array.of(3, 4, 5), finished: true })
    expect(server.recv(0, 10)).toEqual({ _tag: "ReadClosedStream" })
  })

  it("an empty stream ends with an empty, finished read; recvInto likewise", () => {
    const server = new StreamManager("server")
    server.onFrame(stream(0, 0, new Uint8Array(0), true))
    expect(server.recv(0, 10)).toEqual({ data: new Uint8Array(0), finished: true })
    server.onFrame(stream(4, 0, Uint8Array.of(9), true))
    const buffer = new Uint8Array(4)
    expect(server.recvInto(4, buffer)).toEqual({ length: 1, finished: true })
    expect(buffer[0]).toBe(9)
  })

  it("a reset is reported once, then the stream is closed for reading", () => {
    const server = new StreamManager("server")
    server.onFrame(stream(2, 0, new Uint8Array(10)))
    server.onFrame(reset(2, 30, 42n))
    expect(server.recv(2, 10)).toEqual({ _tag: "ReadReset", code: 42n })
    expect(server.recv(2, 10)).toEqual({ _tag: "ReadClosedStream" })
    // A peer unidirectional stream that was reset and read is freed.
    expect(server.streamCount).toBe(0)
  })

  it("writes fail on streams that cannot be written", () => {
    const { client } = pair()
    expect(client.send(0, Uint8Array.of(1))).toEqual({ _tag: "WriteClosedStream" })
    client.onFrame(stream(3, 0, Uint8Array.of(1)))
    expect(client.send(3, Uint8Array.of(1))).toEqual({ _tag: "WriteClosedStream" })
    const id = client.openUni()!
    expect(client.recv(id, 1)).toEqual({ _tag: "ReadClosedStream" })
    expect(client.finish(id)).toBeUndefined()
    expect(client.send(id, Uint8Array.of(1))).toEqual({ _tag: "WriteClosedStream" })
    expect(client.finish(id)).toEqual({ _tag: "WriteClosedStream" })
    expect(client.send(id, new Uint8Array(0))).toEqual({ _tag: "WriteClosedStream" })
  })

  it("send copies the accepted bytes; sendChunks keeps them", () => {
    const { client, server } = pair()
    const a = client.openUni()!
    const b = client.openUni()!
    const data = Uint8Array.of(1, 2, 3)
    expect(client.send(a, data)).toBe(3)
    const chunks = [Uint8Array.of(4, 5), Uint8Array.of(6)]
    expect(client.sendChunks(b, chunks)).toBe(3)
    data[0] = 0
    chunks[0]![0] = 0
    flush(client, server)
    expect(server.recv(a, 10)).toEqual({ data: Uint8Array.of(1, 2, 3), finished: false })
    expect(server.recv(b, 10)).toEqual({ data: Uint8Array.of(0, 5, 6), finished: false })
  })

  it("resetStream sends RESET_STREAM with every written byte as final size; the peer reads the reset", () => {
    const { client, server } = pair(undefined, config({ streamReceiveWindow: 100 }))
    const id = client.openBi()!
    expect(client.send(id, new Uint8Array(150))).toBe(100)
    expect(client.resetStream(id, 9n)).toBeUndefined()
    expect(client.resetStream(id, 9n)).toEqual({ _tag: "WriteClosedStream" })
    expect(client.send(id, Uint8Array.of(1))).toEqual({ _tag: "WriteClosedStream" })
    const { frames: out, records } = frames(client)
    // The unsent data is abandoned: only the RESET_STREAM goes out.
    expect(out).toEqual([{ _tag: "ResetStream", id, errorCode: 9n, finalSize: 100 }])
    drainEvents(server)
    for (const f of out) expect(server.onFrame(f as StreamFrame)).toBeUndefined()
    expect(drainEvents(server)).toEqual([
      { _tag: "StreamOpened", id, bidi: true },
      { _tag: "StreamReadable", id }
    ])
    expect(server.recv(id, 10)).toEqual({ _tag: "ReadReset", code: 9n })
    // Reset acknowledged: the sending part is done; the receiving part is still open.
    for (const r of records) client.onAcked(r)
    expect(client.streamCount).toBe(1)
    server.finish(id)
    flush(client, server)
    expect(client.recv(id, 10)).toEqual({ data: new Uint8Array(0), finished: true })
    expect(client.streamCount).toBe(0)
  })

  it("STOP_SENDING: the peer resets with the same code and reports StreamStopped", () => {
    const { client, server } = pair()
    const id = client.openBi()!
    client.send(id, new Uint8Array(100))
    flush(client, server)
    drainEvents(server)
    expect(server.stopSending(id, 5n)).toBeUndefined()
    expect(server.stopSending(id, 5n)).toEqual({ _tag: "ReadClosedStream" })
    expect(server.recv(id, 10)).toEqual({ _tag: "ReadClosedStream" })
    const { frames: out } = frames(server)
    expect(out).toEqual([{ _tag: "StopSending", id, errorCode: 5n }])
    drainEvents(client)
    for (const f of out) client.onFrame(f as StreamFrame)
    expect(drainEvents(client)).toEqual([{ _tag: "StreamStopped", id, code: 5n }])
    expect(client.send(id, Uint8Array.of(1))).toEqual({ _tag: "WriteStopped", code: 5n })
    expect(client.finish(id)).toEqual({ _tag: "WriteStopped", code: 5n })
    const { frames: answer } = frames(client)
    expect(answer).toEqual([{ _tag: "ResetStream", id, errorCode: 5n, finalSize: 100 }])
  })

  it("stopSending returns the discarded data's credit to the connection", () => {
    const { client, server } = pair(undefined, config({ connectionReceiveWindow: 1000, streamReceiveWindow: 1000 }))
    const a = client.openUni()!
    expect(client.send(a, new Uint8Array(1000))).toBe(1000)
    flush(client, server)
    server.stopSending(a, 1n)
    // Half the connection window was released: MAX_DATA goes out with the STOP_SENDING.
    const out = frames(server).frames
    expect(out).toContainEqual({ _tag: "MaxData", max: 2000n })
  })
})

describe("retransmission of control frames (RFC 9000 §13.3)", () => {
  it("a lost MAX_DATA is resent only while it is the latest", () => {
    const { client, server } = pair(undefined, config({ connectionReceiveWindow: 1000, streamReceiveWindow: 5000 }))
    const id = client.openUni()!
    client.send(id, new Uint8Array(1000))
    flush(client, server)
    server.recv(id, 600)
    const first = frames(server).records.filter((r) => r._tag === "MaxData")
    expect(first).toEqual([{ _tag: "MaxData", max: 1600 }])
    client.onFrame({ _tag: "MaxData", max: 1600n })
    client.send(id, new Uint8Array(600))
    flush(client, server)
    server.recv(id, 10_000)
    const second = frames(server).records.filter((r) => r._tag === "MaxData")
    expect(second).toEqual([{ _tag: "MaxData", max: 2600 }])
    server.onLost(first[0]!)
    expect(server.hasPendingData()).toBe(false)
    server.onLost(second[0]!)
    expect(frames(server).records).toEqual([{ _tag: "MaxData", max: 2600 }])
  })

  it("a lost STREAM_DATA_BLOCKED is not resent once the limit rose; a lost RESET_STREAM is", () => {
    const { client } = pair(undefined, config({ streamReceiveWindow: 100 }))
    const id = client.openBi()!
    client.send(id, new Uint8Array(200))
    const { records } = frames(client)
    const blocked = records.find((r) => r._tag === "StreamDataBlocked")!
    client.onLost(blocked)
    expect(frames(client).records).toEqual([blocked])
    client.onFrame({ _tag: "MaxStreamData", id, max: 150n })
    client.onLost(blocked)
    expect(client.hasPendingData()).toBe(false)
    client.resetStream(id, 1n)
    const resetRecord = frames(client).records
    expect(resetRecord).toEqual([{ _tag: "ResetStream", id }])
    client.onLost(resetRecord[0]!)
    expect(frames(client).records).toEqual([{ _tag: "ResetStream", id }])
    client.onAcked(resetRecord[0]!)
    client.onLost(resetRecord[0]!)
    expect(client.hasPendingData()).toBe(false)
  })

  it("a lost STOP_SENDING is not resent once the peer reset the stream", () => {
    const { server } = pair()
    server.onFrame(stream(2, 0, Uint8Array.of(1)))
    server.stopSending(2, 3n)
    const records = frames(server).records
    expect(records).toEqual([{ _tag: "StopSending", id: 2 }])
    server.onLost(records[0]!)
    expect(server.hasPendingData()).toBe(true)
    expect(frames(server).records).toEqual(records)
    server.onFrame(reset(2, 1, 3n))
    server.onLost(records[0]!)
    // Stopped and reset: nothing left to read, the stream is gone and the
    // peer gets it back; no STOP_SENDING.
    expect(server.streamCount).toBe(0)
    expect(frames(server).records).toEqual([{ _tag: "MaxStreams", bidi: false, max: 101 }])
  })
})

describe("stream lifecycle", () => {
  it("streams are freed when both parts are done, and the peer gets MAX_STREAMS back", () => {
    const { client, server } = pair(undefined, config({ maxConcurrentBidiStreams: 2 }))
    const a = client.openBi()!
    const b = client.openBi()!
    expect(client.openBi()).toBeUndefined()
    for (const id of [a, b]) {
      client.send(id, Uint8Array.of(1, 2))
      client.finish(id)
    }
    flush(client, server)
    for (const id of [a, b]) {
      expect(server.recv(id, 10)).toEqual({ data: Uint8Array.of(1, 2), finished: true })
      server.finish(id)
    }
    flush(client, server)
    // Server side: read all and all acknowledged: freed, MAX_STREAMS sent.
    expect(server.streamCount).toBe(0)
    const events = drainEvents(client)
    expect(events).toContainEqual({ _tag: "StreamsAvailable", bidi: true })
    expect(events).toContainEqual({ _tag: "StreamFinished", id: a })
    for (const id of [a, b]) expect(client.recv(id, 10)).toEqual({ data: new Uint8Array(0), finished: true })
    expect(client.streamCount).toBe(0)
    expect(client.openBi()).toBe(8)
    expect(client.openBi()).toBe(12)
    expect(client.openBi()).toBeUndefined()
  })

  it("a late frame for a freed stream is ignored", () => {
    const server = new StreamManager("server")
    server.onFrame(stream(2, 0, Uint8Array.of(1), true))
    server.recv(2, 10)
    expect(server.streamCount).toBe(0)
    expect(server.onFrame(stream(2, 0, Uint8Array.of(1), true))).toBeUndefined()
    expect(server.onFrame(reset(2, 1))).toBeUndefined()
    expect(server.streamCount).toBe(0)
  })

  it("emits every kind of event", () => {
    const { client, server } = pair(undefined, config({ streamReceiveWindow: 100, maxConcurrentUniStreams: 1 }))
    const seen = new Set<string>()
    const collect = () => {
      for (const e of [...drainEvents(client), ...drainEvents(server)]) seen.add(e._tag)
    }
    const bi = client.openBi()!
    client.send(bi, new Uint8Array(200)) // blocked at 100: Writable later
    flush(client, server) // StreamOpened, StreamReadable
    server.recv(bi, 1000) // consumes: MAX_STREAM_DATA -> StreamWritable
    flush(client, server)
    const uni = client.openUni()!
    expect(client.openUni()).toBeUndefined()
    client.finish(uni)
    flush(client, server) // StreamFinished (after ACK)
    server.recv(uni, 10) // freed: MAX_STREAMS -> StreamsAvailable
    flush(client, server)
    server.stopSending(bi, 4n)
    flush(client, server) // StreamStopped
    collect()
    expect([...seen].sort()).toEqual([
      "StreamFinished",
      "StreamOpened",
      "StreamReadable",
      "StreamStopped",
      "StreamWritable",
      "StreamsAvailable"
    ])
  })

  it("StreamReadable is emitted once until the application reads", () => {
    const server = new StreamManager("server")
    server.onFrame(stream(0, 0, Uint8Array.of(1)))
    server.onFrame(stream(0, 1, Uint8Array.of(2)))
    expect(drainEvents(server).filter((e) => e._tag === "StreamReadable")).toHaveLength(1)
    server.recv(0, 1)
    server.onFrame(stream(0, 2, Uint8Array.of(3)))
    expect(drainEvents(server).filter((e) => e._tag === "StreamReadable")).toHaveLength(1)
  })
})

describe("peer transport parameters", () => {
  it("0-RTT: remembered limits first, the real ones raise them and never lower them", () => {
    const client = new StreamManager("client")
    const remembered = {
      initialMaxData: 1000,
      initialMaxStreamDataBidiLocal: 100,
      initialMaxStreamDataBidiRemote: 500,
      initialMaxStreamDataUni: 300,
      initialMaxStreamsBidi: 1,
      initialMaxStreamsUni: 0
    }
    expect(client.openBi()).toBeUndefined()
    client.applyPeerParameters(remembered)
    const id = client.openBi()!
    expect(client.openUni()).toBeUndefined()
    expect(client.send(id, new Uint8Array(600))).toBe(500)
    drainEvents(client)
    client.applyPeerParameters({ ...remembered, initialMaxStreamDataBidiRemote: 800, initialMaxStreamsUni: 2 })
    expect(drainEvents(client)).toEqual([
      { _tag: "StreamsAvailable", bidi: false },
      { _tag: "StreamWritable", id }
    ])
    expect(client.send(id, new Uint8Array(600))).toBe(300)
    // Lower values change nothing.
    client.applyPeerParameters({ ...remembered, initialMaxStreamsBidi: 0, initialMaxData: 0 })
    expect(client.openBi()).toBeUndefined()
    expect(client.openUni()).toBe(2)
    expect(client.send(2, new Uint8Array(1000))).toBe(200)
  })
})

describe("writeFrames", () => {
  it("round-robins streams: each gets a frame before any gets a second", () => {
    const { client } = pair()
    const ids = [client.openBi()!, client.openBi()!]
    for (const id of ids) expect(client.send(id, new Uint8Array(50_000))).toBe(50_000)
    const order: Array<number> = []
    for (let i = 0; i < 20; i++) {
      const { frames: out } = frames(client)
      const stream = out.filter((f) => f._tag === "Stream")
      expect(stream).toHaveLength(1)
      // A frame that fills the packet omits its Length.
      expect(stream[0]!.withLength).toBe(false)
      order.push(stream[0]!.id)
    }
    for (let i = 0; i + 1 < order.length; i++) expect(new Set(order.slice(i, i + 2)).size).toBe(2)
  })

  it("puts several small streams in one packet in turn, with Length except when the last fills it", () => {
    const { client } = pair()
    const ids = [client.openUni()!, client.openUni()!, client.openUni()!]
    for (const id of ids) client.send(id, new Uint8Array(100))
    const { frames: out } = frames(client)
    expect(out.map((f) => f._tag === "Stream" && f.id)).toEqual(ids)
    expect(out.every((f) => f._tag === "Stream" && f.withLength)).toBe(true)
    // Exactly enough room for the second's data without Length: it ends the packet.
    for (const id of ids) client.send(id, new Uint8Array(100))
    // id 2 at offset 100 with Length (type, id, 2-byte offset, 2-byte length),
    // then id 6 at offset 100 without Length (type, id, 2-byte offset).
    const size = 6 + 100 + 4 + 50
    const { payload } = packet(client, size)
    const decoded = decodeAll(payload)
    expect(decoded.map((f) => f._tag === "Stream" && [f.id, f.data.length, f.withLength])).toEqual([
      [2, 100, true],
      [6, 50, false]
    ])
    expect(payload.length).toBe(size)
  })

  it("control frames come before STREAM frames", () => {
    const { client, server } = pair(undefined, config({ streamReceiveWindow: 100 }))
    const id = client.openBi()!
    client.send(id, new Uint8Array(100))
    flush(client, server)
    server.recv(id, 100)
    server.send(id, new Uint8Array(10))
    const tags = frames(server).frames.map((f) => f._tag)
    expect(tags).toEqual(["MaxStreamData", "Stream"])
  })
})
