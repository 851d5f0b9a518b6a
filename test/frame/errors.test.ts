import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferReader } from "../../src/internal/codec/reader.js"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { decodeFrame, decodeFrames } from "../../src/internal/frame/decode.js"
import { anyFrame, isSelfDelimiting } from "./arbitraries.js"
import { decodeAll, encode, expectError, hex } from "./helpers.js"

const {
  CRYPTO_BUFFER_EXCEEDED,
  FLOW_CONTROL_ERROR,
  FRAME_ENCODING_ERROR,
  PROTOCOL_VIOLATION,
  STREAM_LIMIT_ERROR
} = TransportErrorCode

/** 2^53 as an 8-byte varint: the smallest value a number field cannot hold. */
const UNSAFE = "c020000000000000"
/** 2^53-1 as an 8-byte varint. */
const MAX_SAFE = "c01fffffffffffff"
/** 2^62-1, the largest varint. */
const VARINT_MAX = "ffffffffffffffff"
const TOKEN = "00112233445566778899aabbccddeeff"

const decode = (encoding: string) => decodeAll(hex(encoding))

describe("frame type (RFC 9000 §12.4)", () => {
  it("an empty reader is a truncated frame", () => {
    expectError(decodeFrame(new BufferReader(new Uint8Array(0))), FRAME_ENCODING_ERROR)
  })

  it("unknown types are FRAME_ENCODING_ERROR and name the type", () => {
    for (const type of [0x1f, 0x20, 0x2f, 0x32, 0x3f]) {
      expectError(decode(type.toString(16)), FRAME_ENCODING_ERROR, type)
    }
    expectError(decode("4040"), FRAME_ENCODING_ERROR, 0x40)
    expectError(decode("bfffffff"), FRAME_ENCODING_ERROR, 0x3fffffff)
  })

  it("a type beyond 2^53-1 is unknown, reported as frame type 0", () => {
    expectError(decode(VARINT_MAX), FRAME_ENCODING_ERROR, 0)
    expectError(decode(UNSAFE), FRAME_ENCODING_ERROR, 0)
  })

  it("a truncated multi-byte type is FRAME_ENCODING_ERROR", () => {
    expectError(decode("40"), FRAME_ENCODING_ERROR)
    expectError(decode("c0000000"), FRAME_ENCODING_ERROR)
  })

  it("a type that is not minimally encoded is PROTOCOL_VIOLATION", () => {
    expectError(decode("4001"), PROTOCOL_VIOLATION, 0x01)
    expectError(decode("4000"), PROTOCOL_VIOLATION, 0x00)
    expectError(decode("80000006 00 00"), PROTOCOL_VIOLATION, 0x06)
    expectError(decode("c000000000000008 00 00"), PROTOCOL_VIOLATION, 0x08)
  })
})

describe("truncation", () => {
  it("every proper prefix of a self-delimiting frame is FRAME_ENCODING_ERROR", () => {
    fc.assert(
      fc.property(anyFrame.filter(isSelfDelimiting), (frame) => {
        const bytes = encode(frame)
        for (let length = 0; length < bytes.length; length++) {
          const result = decodeFrame(new BufferReader(bytes, 0, length))
          expectError(result, FRAME_ENCODING_ERROR, length === 0 ? 0 : bytes[0])
        }
      }),
      { numRuns: 200 }
    )
  })

  it("a length beyond the end of the packet is FRAME_ENCODING_ERROR, however large", () => {
    expectError(decode("0a 00 05 6869"), FRAME_ENCODING_ERROR, 0x0a)
    expectError(decode(`0a 00 ${UNSAFE}`), FRAME_ENCODING_ERROR, 0x0a)
    expectError(decode("06 00 02 01"), FRAME_ENCODING_ERROR, 0x06)
    expectError(decode("07 03 0102"), FRAME_ENCODING_ERROR, 0x07)
    expectError(decode(`1c 00 00 ${VARINT_MAX}`), FRAME_ENCODING_ERROR, 0x1c)
    expectError(decode("1d 00 01"), FRAME_ENCODING_ERROR, 0x1d)
    expectError(decode("31 03 6869"), FRAME_ENCODING_ERROR, 0x31)
    expectError(decode("1a 01020304050607"), FRAME_ENCODING_ERROR, 0x1a)
    expectError(decode("1b"), FRAME_ENCODING_ERROR, 0x1b)
  })
})

describe("stream fields", () => {
  it("a stream ID beyond 2^53-1 is STREAM_LIMIT_ERROR", () => {
    expectError(decode(`08 ${UNSAFE}`), STREAM_LIMIT_ERROR, 0x08)
    expectError(decode(`04 ${UNSAFE} 00 00`), STREAM_LIMIT_ERROR, 0x04)
    expectError(decode(`05 ${VARINT_MAX} 00`), STREAM_LIMIT_ERROR, 0x05)
    expectError(decode(`11 ${UNSAFE} 00`), STREAM_LIMIT_ERROR, 0x11)
    expectError(decode(`15 ${UNSAFE} 00`), STREAM_LIMIT_ERROR, 0x15)
  })

  it("a stream offset or final size beyond 2^53-1 is FLOW_CONTROL_ERROR (§19.8)", () => {
    expectError(decode(`0c 00 ${UNSAFE}`), FLOW_CONTROL_ERROR, 0x0c)
    expectError(decode(`0e 00 ${MAX_SAFE} 01 ff`), FLOW_CONTROL_ERROR, 0x0e)
    expectError(decode(`04 00 00 ${UNSAFE}`), FLOW_CONTROL_ERROR, 0x04)
  })

  it("data ending exactly at 2^53-1 is accepted", () => {
    expect(decode(`0e 00 ${MAX_SAFE} 00`)).toMatchObject({ _tag: "Stream", offset: 2 ** 53 - 1 })
    expect(decode(`04 00 00 ${MAX_SAFE}`)).toMatchObject({ _tag: "ResetStream", finalSize: 2 ** 53 - 1 })
  })

  it("CRYPTO data beyond 2^53-1 is CRYPTO_BUFFER_EXCEEDED (§19.6)", () => {
    expectError(decode(`06 ${UNSAFE} 00`), CRYPTO_BUFFER_EXCEEDED, 0x06)
    expectError(decode(`06 ${MAX_SAFE} 01 ff`), CRYPTO_BUFFER_EXCEEDED, 0x06)
    expect(decode(`06 ${MAX_SAFE} 00`)).toMatchObject({ _tag: "Crypto", offset: 2 ** 53 - 1 })
  })

  it("MAX_STREAMS and STREAMS_BLOCKED above 2^60 are FRAME_ENCODING_ERROR (§19.11, §19.14)", () => {
    for (const type of ["12", "13", "16", "17"]) {
      expectError(decode(`${type} d000000000000001`), FRAME_ENCODING_ERROR, parseInt(type, 16))
      expectError(decode(`${type} ${VARINT_MAX}`), FRAME_ENCODING_ERROR, parseInt(type, 16))
      expect(decode(`${type} d000000000000000`)).not.toHaveProperty("code")
    }
  })

  it("flow control limits keep values beyond 2^53 exactly", () => {
    expect(decode(`10 ${VARINT_MAX}`)).toStrictEqual({ _tag: "MaxData", max: (1n << 62n) - 1n })
    expect(decode(`14 ${UNSAFE}`)).toStrictEqual({ _tag: "DataBlocked", limit: 1n << 53n })
    expect(decode(`11 00 ${VARINT_MAX}`)).toMatchObject({ max: (1n << 62n) - 1n })
    expect(decode(`15 00 ${VARINT_MAX}`)).toMatchObject({ limit: (1n << 62n) - 1n })
  })
})

describe("ACK (§19.3)", () => {
  it("a Largest Acknowledged beyond 2^53-1 is PROTOCOL_VIOLATION", () => {
    expectError(decode(`02 ${UNSAFE} 00 00 00`), PROTOCOL_VIOLATION, 0x02)
  })

  it("an ACK Delay beyond 2^53-1 is PROTOCOL_VIOLATION", () => {
    expectError(decode(`02 05 ${VARINT_MAX} 00 00`), PROTOCOL_VIOLATION, 0x02)
  })

  it("an ECN count beyond 2^53-1 is PROTOCOL_VIOLATION", () => {
    expectError(decode(`03 05 00 00 00 ${UNSAFE} 00 00`), PROTOCOL_VIOLATION, 0x03)
    expectError(decode(`03 05 00 00 00 00 00 ${UNSAFE}`), PROTOCOL_VIOLATION, 0x03)
  })

  it("a range below packet number 0 is FRAME_ENCODING_ERROR (§19.3.1)", () => {
    // First ACK Range larger than Largest Acknowledged.
    expectError(decode("02 05 00 00 06"), FRAME_ENCODING_ERROR, 0x02)
    expectError(decode(`02 05 00 00 ${UNSAFE}`), FRAME_ENCODING_ERROR, 0x02)
    // Smallest 1, Gap 0: next largest = 1 - 0 - 2 = -1.
    expectError(decode("02 05 00 01 04 00 00"), FRAME_ENCODING_ERROR, 0x02)
    // Smallest 5, Gap 1: next largest 2; Length 3 → smallest -1.
    expectError(decode("02 05 00 01 00 01 03"), FRAME_ENCODING_ERROR, 0x02)
    expectError(decode(`02 05 00 01 00 ${UNSAFE} 00`), FRAME_ENCODING_ERROR, 0x02)
    // The same, ending exactly at packet 0, is valid.
    expect(decode("02 05 00 01 00 01 02")).toStrictEqual({ _tag: "Ack", ranges: [5, 5, 2, 0], delay: 0 })
  })

  it("a hostile ACK Range Count fails at once instead of looping or allocating", () => {
    expectError(decode("02 05 00 c000010000000000 00"), FRAME_ENCODING_ERROR, 0x02)
    expectError(decode(`02 05 00 ${VARINT_MAX} 00`), FRAME_ENCODING_ERROR, 0x02)
    expectError(decode(`02 05 00 ${UNSAFE} 00 ${"00".repeat(64)}`), FRAME_ENCODING_ERROR, 0x02)
    // Two ranges announced, room for one.
    expectError(decode("02 05 00 02 00 00 00"), FRAME_ENCODING_ERROR, 0x02)
  })

  it("a payload full of ranges decodes them all", () => {
    // Largest 3000, then 700 ranges of one packet each separated by one missing packet.
    const payload = hex(`02 4bb8 00 42bc 00 ${"0000".repeat(700)}`)
    const ack = decodeAll(payload)
    if (ack._tag !== "Ack") throw new Error(`expected an ACK, got ${ack._tag}`)
    expect(ack.ranges.length).toBe(1402)
    expect(ack.ranges.slice(-2)).toStrictEqual([1600, 1600])
  })
})

describe("connection IDs (§19.15, §19.16)", () => {
  it("a connection ID length outside 1..20 is FRAME_ENCODING_ERROR", () => {
    expectError(decode(`18 01 00 00 ${TOKEN}`), FRAME_ENCODING_ERROR, 0x18)
    expectError(decode(`18 01 00 15 ${"aa".repeat(21)} ${TOKEN}`), FRAME_ENCODING_ERROR, 0x18)
    expect(decode(`18 01 00 14 ${"aa".repeat(20)} ${TOKEN}`)).toMatchObject({ _tag: "NewConnectionId" })
  })

  it("Retire Prior To above the Sequence Number is FRAME_ENCODING_ERROR", () => {
    expectError(decode(`18 01 02 01 aa ${TOKEN}`), FRAME_ENCODING_ERROR, 0x18)
    expectError(decode(`18 01 ${UNSAFE} 01 aa ${TOKEN}`), FRAME_ENCODING_ERROR, 0x18)
    expect(decode(`18 02 02 01 aa ${TOKEN}`)).toMatchObject({ sequence: 2, retirePriorTo: 2 })
  })

  it("a sequence number beyond 2^53-1 is PROTOCOL_VIOLATION", () => {
    expectError(decode(`18 ${UNSAFE} 00 01 aa ${TOKEN}`), PROTOCOL_VIOLATION, 0x18)
    expectError(decode(`19 ${UNSAFE}`), PROTOCOL_VIOLATION, 0x19)
  })

  it("a short Stateless Reset Token is FRAME_ENCODING_ERROR", () => {
    expectError(decode(`18 01 00 01 aa ${TOKEN.slice(2)}`), FRAME_ENCODING_ERROR, 0x18)
  })
})

describe("other frame rules", () => {
  it("an empty NEW_TOKEN is FRAME_ENCODING_ERROR (§19.7)", () => {
    expectError(decode("07 00"), FRAME_ENCODING_ERROR, 0x07)
  })

  it("a CONNECTION_CLOSE reason is kept as raw bytes, even if not UTF-8 (§19.19)", () => {
    expect(decode("1c 00 00 02 fffe")).toStrictEqual({
      _tag: "ConnectionClose",
      application: false,
      errorCode: 0n,
      frameType: 0n,
      reason: hex("fffe")
    })
  })
})

describe("decodeFrames", () => {
  it("a packet with no frames is PROTOCOL_VIOLATION (§12.4)", () => {
    for (const packetType of ["initial", "0rtt", "handshake", "1rtt"] as const) {
      expectError(decodeFrames(new Uint8Array(0), packetType), PROTOCOL_VIOLATION)
    }
  })

  it("a frame the packet type does not permit is PROTOCOL_VIOLATION naming the frame (§12.4)", () => {
    expectError(decodeFrames(hex("01 0b 00 00"), "initial"), PROTOCOL_VIOLATION, 0x0b)
    expectError(decodeFrames(hex("1e"), "handshake"), PROTOCOL_VIOLATION, 0x1e)
    expectError(decodeFrames(hex("02 00 00 00 00"), "0rtt"), PROTOCOL_VIOLATION, 0x02)
  })

  it("an error in any frame fails the whole payload", () => {
    expectError(decodeFrames(hex("01 00 00 1f"), "1rtt"), FRAME_ENCODING_ERROR, 0x1f)
    expectError(decodeFrames(hex("01 07 00 01"), "1rtt"), FRAME_ENCODING_ERROR, 0x07)
  })

  it("an unknown type is FRAME_ENCODING_ERROR in every packet type, not a permission error", () => {
    for (const packetType of ["initial", "0rtt", "handshake", "1rtt"] as const) {
      expectError(decodeFrames(hex("21"), packetType), FRAME_ENCODING_ERROR, 0x21)
    }
  })
})
