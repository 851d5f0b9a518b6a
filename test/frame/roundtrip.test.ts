import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import { encodeFrame, frameLength } from "../../src/internal/frame/encode.js"
import { type Frame, frameTypeOf } from "../../src/internal/frame/types.js"
import { anyFrame, frameArbitraries, isSelfDelimiting } from "./arbitraries.js"
import { decodeAll, encode } from "./helpers.js"

describe("frame round trip", () => {
  for (const [name, arbitrary] of Object.entries(frameArbitraries)) {
    it(`${name}: frameLength is exact and decode(encode(f)) equals f`, () => {
      fc.assert(
        fc.property(arbitrary, (frame) => {
          const bytes = encode(frame)
          // The single-byte Frame Type comes first (Padding: the first zero).
          expect(bytes[0]).toBe(frameTypeOf(frame))
          expect(decodeAll(bytes)).toStrictEqual(frame)
        }),
        { numRuns: 300 }
      )
    })
  }

  it("a payload of many frames decodes to the same frames, in order", () => {
    // Only the last frame may run to the end of the packet, and adjacent
    // PADDING would merge, so the leading frames are self-delimiting and not PADDING.
    const leading = anyFrame.filter((frame) => isSelfDelimiting(frame))
    fc.assert(
      fc.property(fc.array(leading, { maxLength: 8 }), anyFrame, (head, last) => {
        const frames = [...head, last]
        const payload = new Uint8Array(frames.reduce((sum, frame) => sum + frameLength(frame), 0))
        const writer = new BufferWriter(payload)
        for (const frame of frames) encodeFrame(writer, frame)
        expect(writer.offset).toBe(payload.length)
        expect(decodeFrames(payload, "1rtt")).toStrictEqual(frames)
      }),
      { numRuns: 300 }
    )
  })

  it("data fields are views of the payload, not copies", () => {
    const frames: Array<Frame> = [
      { _tag: "Crypto", offset: 5, data: new Uint8Array([1, 2, 3]) },
      { _tag: "NewToken", token: new Uint8Array([4, 5]) },
      { _tag: "Stream", id: 4, offset: 0, data: new Uint8Array([6]), fin: true, withLength: true },
      { _tag: "Datagram", data: new Uint8Array([7, 8]), withLength: false }
    ]
    const payload = new Uint8Array(frames.reduce((sum, frame) => sum + frameLength(frame), 0))
    const writer = new BufferWriter(payload)
    for (const frame of frames) encodeFrame(writer, frame)
    const decoded = decodeFrames(payload, "1rtt")
    if (!Array.isArray(decoded)) throw new Error(decoded.reason)
    for (const frame of decoded) {
      const view = frame._tag === "NewToken" ? frame.token : (frame as { data: Uint8Array }).data
      expect(view.buffer).toBe(payload.buffer)
    }
  })
})
