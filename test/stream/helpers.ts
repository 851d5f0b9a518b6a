import { expect } from "vitest"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import { isTransportError, type TransportError } from "../../src/internal/errors.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import type { Frame } from "../../src/internal/frame/types.js"
import type { StreamEvent } from "../../src/internal/stream/events.js"
import {
  type SentStreamFrame,
  type StreamConfig,
  type StreamFrame,
  StreamManager
} from "../../src/internal/stream/streams.js"

/** A small deterministic generator (mulberry32), so a failing seed replays. */
export const rng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `length` pseudo-random bytes from `seed`. */
export const bytes = (length: number, seed: number): Uint8Array => {
  const random = rng(seed)
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256)
  return out
}

export { concatBytes as concat } from "../../src/internal/codec/bytes.js"

export const expectError = (result: unknown, code: number, frameType?: number): void => {
  expect(isTransportError(result), `expected a TransportError, got ${JSON.stringify(result)}`).toBe(true)
  const error = result as TransportError
  expect(error.code, error.reason).toBe(code)
  if (frameType !== undefined) expect(error.frameType).toBe(frameType)
}

const STREAM_TAGS = new Set<Frame["_tag"]>([
  "Stream",
  "ResetStream",
  "StopSending",
  "MaxData",
  "MaxStreamData",
  "MaxStreams",
  "DataBlocked",
  "StreamDataBlocked",
  "StreamsBlocked"
])

export const isStreamFrame = (frame: Frame): frame is StreamFrame => STREAM_TAGS.has(frame._tag)

/** A client and a server with each other's parameters applied. */
export const pair = (
  clientConfig?: StreamConfig,
  serverConfig?: StreamConfig
): { client: StreamManager; server: StreamManager } => {
  const client = new StreamManager("client", clientConfig)
  const server = new StreamManager("server", serverConfig)
  client.applyPeerParameters(server.localParameters())
  server.applyPeerParameters(client.localParameters())
  return { client, server }
}

/** One packet built by `writeFrames`: its payload and records (empty payload when nothing was written). */
export const packet = (
  manager: StreamManager,
  size = 1200,
  now = 0,
  rtt = 0
): { payload: Uint8Array; records: Array<SentStreamFrame> } => {
  const bytes = new Uint8Array(size)
  const writer = new BufferWriter(bytes)
  const records: Array<SentStreamFrame> = []
  manager.writeFrames(writer, size, records, now, rtt)
  return { payload: bytes.subarray(0, writer.offset), records }
}

/** Decodes a payload and feeds every frame to `manager`; fails the test on any error. */
export const deliver = (manager: StreamManager, payload: Uint8Array): Array<Frame> => {
  if (payload.length === 0) return []
  const frames = decodeFrames(payload, "1rtt")
  if (isTransportError(frames)) throw new Error(`decode: ${frames.reason}`)
  for (const frame of frames) {
    if (!isStreamFrame(frame)) continue
    const error = manager.onFrame(frame)
    if (error !== undefined) throw new Error(`onFrame ${frame._tag}: ${error.reason} (${error.code})`)
  }
  return frames
}

/** Everything from `from` to `to` without loss, acknowledging as it goes, until both are idle. */
export const flush = (a: StreamManager, b: StreamManager, rounds = 1000): void => {
  for (let i = 0; i < rounds; i++) {
    let idle = true
    for (const [from, to] of [[a, b], [b, a]] as const) {
      while (from.hasPendingData()) {
        const { payload, records } = packet(from)
        if (payload.length === 0) break
        idle = false
        deliver(to, payload)
        for (const record of records) from.onAcked(record)
      }
    }
    if (idle) return
  }
  throw new Error("flush did not settle")
}

export const drainEvents = (manager: StreamManager): Array<StreamEvent> => {
  const out: Array<StreamEvent> = []
  for (let e = manager.pollEvent(); e !== undefined; e = manager.pollEvent()) out.push(e)
  return out
}

/** Byte equality without vitest's element-by-element deep compare (slow on large arrays). */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
