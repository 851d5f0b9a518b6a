import { describe, expect, it } from "vitest"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import { isAckEliciting, isFramePermitted, isProbing, type PacketType } from "../../src/internal/frame/permitted.js"
import { type Frame, frameTypeOf } from "../../src/internal/frame/types.js"
import { encode, expectError } from "./helpers.js"

/**
 * RFC 9000 §12.4 Table 3, transcribed: type, "Pkts" column ("ih" for
 * CONNECTION_CLOSE is split into 0x1c in IH01 and 0x1d in __01), and "Spec"
 * column; DATAGRAM from RFC 9221 §4 (0-RTT and 1-RTT, ack-eliciting).
 */
const TABLE_3: ReadonlyArray<[type: number, pkts: string, spec: string]> = [
  [0x00, "IH01", "NP"],
  [0x01, "IH01", ""],
  [0x02, "IH_1", "NC"],
  [0x03, "IH_1", "NC"],
  [0x04, "__01", ""],
  [0x05, "__01", ""],
  [0x06, "IH_1", ""],
  [0x07, "___1", ""],
  ...[0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f].map((type): [number, string, string] => [type, "__01", "F"]),
  [0x10, "__01", ""],
  [0x11, "__01", ""],
  [0x12, "__01", ""],
  [0x13, "__01", ""],
  [0x14, "__01", ""],
  [0x15, "__01", ""],
  [0x16, "__01", ""],
  [0x17, "__01", ""],
  [0x18, "__01", "P"],
  [0x19, "__01", ""],
  [0x1a, "__01", "P"],
  [0x1b, "___1", "P"],
  [0x1c, "IH01", "N"],
  [0x1d, "__01", "N"],
  [0x1e, "___1", ""],
  [0x30, "__01", ""],
  [0x31, "__01", ""]
]

const columns: ReadonlyArray<[PacketType, string]> = [
  ["initial", "I"],
  ["handshake", "H"],
  ["0rtt", "0"],
  ["1rtt", "1"]
]

/** One valid frame of each type, for the end-to-end check through decodeFrames. */
const samples: ReadonlyArray<Frame> = [
  { _tag: "Padding", length: 1 },
  { _tag: "Ping" },
  { _tag: "Ack", ranges: [3, 1], delay: 0 },
  { _tag: "Ack", ranges: [3, 1], delay: 0, ecn: { ect0: 1, ect1: 0, ce: 0 } },
  { _tag: "ResetStream", id: 1, errorCode: 0n, finalSize: 0 },
  { _tag: "StopSending", id: 1, errorCode: 0n },
  { _tag: "Crypto", offset: 0, data: new Uint8Array(1) },
  { _tag: "NewToken", token: new Uint8Array(1) },
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((bits): Frame => ({
    _tag: "Stream",
    id: 0,
    offset: bits & 4 ? 1 : 0,
    data: new Uint8Array(1),
    fin: (bits & 1) !== 0,
    withLength: (bits & 2) !== 0
  })),
  { _tag: "MaxData", max: 1n },
  { _tag: "MaxStreamData", id: 0, max: 1n },
  { _tag: "MaxStreams", bidi: true, max: 1n },
  { _tag: "MaxStreams", bidi: false, max: 1n },
  { _tag: "DataBlocked", limit: 1n },
  { _tag: "StreamDataBlocked", id: 0, limit: 1n },
  { _tag: "StreamsBlocked", bidi: true, limit: 1n },
  { _tag: "StreamsBlocked", bidi: false, limit: 1n },
  {
    _tag: "NewConnectionId",
    sequence: 1,
    retirePriorTo: 0,
    connectionId: new Uint8Array(8),
    resetToken: new Uint8Array(16)
  },
  { _tag: "RetireConnectionId", sequence: 0 },
  { _tag: "PathChallenge", data: new Uint8Array(8) },
  { _tag: "PathResponse", data: new Uint8Array(8) },
  { _tag: "ConnectionClose", application: false, errorCode: 0n, frameType: 0n, reason: new Uint8Array(0) },
  { _tag: "ConnectionClose", application: true, errorCode: 0n, reason: new Uint8Array(0) },
  { _tag: "HandshakeDone" },
  { _tag: "Datagram", data: new Uint8Array(1), withLength: false },
  { _tag: "Datagram", data: new Uint8Array(1), withLength: true }
]

describe("RFC 9000 §12.4 Table 3", () => {
  it("has one sample frame per frame type", () => {
    expect(samples.map(frameTypeOf)).toStrictEqual(TABLE_3.map(([type]) => type))
  })

  for (const [type, pkts, spec] of TABLE_3) {
    const name = `0x${type.toString(16).padStart(2, "0")}`
    for (const [packetType, letter] of columns) {
      const permitted = pkts.includes(letter)
      it(`${name} ${permitted ? "is" : "is not"} permitted in ${packetType} packets`, () => {
        expect(isFramePermitted(packetType, type)).toBe(permitted)
        const sample = samples.find((frame) => frameTypeOf(frame) === type)!
        const result = decodeFrames(encode(sample), packetType)
        if (permitted) expect(result).toStrictEqual([sample])
        else expectError(result, TransportErrorCode.PROTOCOL_VIOLATION, type)
      })
    }

    const eliciting = !spec.includes("N")
    const probing = spec.includes("P")
    it(`${name} is ${eliciting ? "" : "not "}ack-eliciting and ${probing ? "" : "not "}probing`, () => {
      expect(isAckEliciting(type)).toBe(eliciting)
      expect(isProbing(type)).toBe(probing)
    })
  }

  it("unknown frame types are permitted nowhere", () => {
    for (const type of [0x1f, 0x20, 0x2f, 0x32, 0x40, 0x4000, 2 ** 40]) {
      for (const [packetType] of columns) expect(isFramePermitted(packetType, type)).toBe(false)
    }
  })
})
