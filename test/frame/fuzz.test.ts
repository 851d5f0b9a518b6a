import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferReader } from "../../src/internal/codec/reader.js"
import { isTransportError } from "../../src/internal/errors.js"
import { decodeFrame, decodeFrames } from "../../src/internal/frame/decode.js"
import type { PacketType } from "../../src/internal/frame/permitted.js"
import { FrameType } from "../../src/internal/frame/types.js"
import { decodeAll, encode } from "./helpers.js"

const packetTypes: ReadonlyArray<PacketType> = ["initial", "0rtt", "handshake", "1rtt"]

const knownTypes = [...Object.values(FrameType), 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]

/** Random bytes, and random bytes behind a known Frame Type so every body decoder is reached. */
const payloads = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(fc.constantFrom(...knownTypes), fc.uint8Array({ maxLength: 64 })).map(([type, body]) =>
    new Uint8Array([type, ...body])
  )
)

describe("decoding arbitrary bytes", () => {
  it("decodeFrames returns frames or a TransportError and never throws", () => {
    fc.assert(
      fc.property(payloads, fc.constantFrom(...packetTypes), (payload, packetType) => {
        const result = decodeFrames(payload, packetType)
        expect(Array.isArray(result) || isTransportError(result)).toBe(true)
      }),
      { numRuns: 2000 }
    )
  })

  it("decodeFrame consumes frame after frame, and every decoded frame re-encodes to itself", () => {
    fc.assert(
      fc.property(payloads, (payload) => {
        const reader = new BufferReader(payload)
        while (reader.remaining > 0) {
          const start = reader.offset
          const frame = decodeFrame(reader)
          if (isTransportError(frame)) return
          expect(reader.offset).toBeGreaterThan(start)
          expect(reader.offset).toBeLessThanOrEqual(payload.length)
          expect(decodeAll(encode(frame))).toStrictEqual(frame)
        }
      }),
      { numRuns: 2000 }
    )
  })
})
