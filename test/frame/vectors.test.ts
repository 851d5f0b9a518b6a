import { describe, expect, it } from "vitest"
import { toHex } from "../../src/internal/codec/hex.js"
import { decodeFrames } from "../../src/internal/frame/decode.js"
import type { Frame } from "../../src/internal/frame/types.js"
import { ascii, decodeAll, encode, hex } from "./helpers.js"

const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill)

/** Encodings written by hand from the frame layouts of RFC 9000 §19 and RFC 9221 §4. */
const vectors: Array<[string, string, Frame]> = [
  ["PING (§19.2)", "01", { _tag: "Ping" }],
  ["HANDSHAKE_DONE (§19.20)", "1e", { _tag: "HandshakeDone" }],
  ["PADDING, 3 bytes (§19.1)", "000000", { _tag: "Padding", length: 3 }],
  [
    "STREAM 0x0f: OFF, LEN and FIN (§19.8)",
    "0f 04 43e8 03 616263",
    { _tag: "Stream", id: 4, offset: 1000, data: ascii("abc"), fin: true, withLength: true }
  ],
  [
    "STREAM 0x08: offset 0, data to the end of the packet (§19.8)",
    "08 00 6869",
    { _tag: "Stream", id: 0, offset: 0, data: ascii("hi"), fin: false, withLength: false }
  ],
  [
    "STREAM 0x0b: FIN with no data (§19.8)",
    "0b 02 00",
    { _tag: "Stream", id: 2, offset: 0, data: new Uint8Array(0), fin: true, withLength: true }
  ],
  [
    // Largest 100, First ACK Range 2 (98..100), Gap 3 → largest 98-3-2 = 93,
    // ACK Range Length 4 → 89..93; ECT(0) 5, ECT(1) 0, ECN-CE 1.
    "ACK with ECN counts (§19.3, §19.3.1, §19.3.2)",
    "03 4064 19 01 02 03 04 05 00 01",
    { _tag: "Ack", ranges: [100, 98, 93, 89], delay: 25, ecn: { ect0: 5, ect1: 0, ce: 1 } }
  ],
  ["ACK of packet 0 only (§19.3)", "02 00 00 00 00", { _tag: "Ack", ranges: [0, 0], delay: 0 }],
  [
    "RESET_STREAM (§19.4)",
    "04 01 4100 05",
    { _tag: "ResetStream", id: 1, errorCode: 0x100n, finalSize: 5 }
  ],
  [
    // RFC 9000 §A.1's 4-byte (494,878,333) and 2-byte (15,293) varint examples.
    "STOP_SENDING (§19.5)",
    "05 9d7f3e7d 7bbd",
    { _tag: "StopSending", id: 494_878_333, errorCode: 15_293n }
  ],
  ["CRYPTO (§19.6)", "06 00 03 010203", { _tag: "Crypto", offset: 0, data: new Uint8Array([1, 2, 3]) }],
  ["NEW_TOKEN (§19.7)", "07 02 abcd", { _tag: "NewToken", token: new Uint8Array([0xab, 0xcd]) }],
  [
    // RFC 9000 §A.1's 8-byte example, 151,288,809,941,952,652: beyond 2^53, exact as a bigint.
    "MAX_DATA (§19.9)",
    "10 c2197c5eff14e88c",
    { _tag: "MaxData", max: 151_288_809_941_952_652n }
  ],
  ["MAX_STREAM_DATA (§19.10)", "11 04 25", { _tag: "MaxStreamData", id: 4, max: 37n }],
  ["MAX_STREAMS bidi at 2^60 (§19.11)", "12 d000000000000000", { _tag: "MaxStreams", bidi: true, max: 1n << 60n }],
  ["MAX_STREAMS uni (§19.11)", "13 0a", { _tag: "MaxStreams", bidi: false, max: 10n }],
  ["DATA_BLOCKED (§19.12)", "14 7bbd", { _tag: "DataBlocked", limit: 15_293n }],
  ["STREAM_DATA_BLOCKED (§19.13)", "15 08 00", { _tag: "StreamDataBlocked", id: 8, limit: 0n }],
  ["STREAMS_BLOCKED bidi (§19.14)", "16 03", { _tag: "StreamsBlocked", bidi: true, limit: 3n }],
  ["STREAMS_BLOCKED uni (§19.14)", "17 03", { _tag: "StreamsBlocked", bidi: false, limit: 3n }],
  [
    "NEW_CONNECTION_ID (§19.15)",
    "18 02 01 04 c0ffee01 00112233445566778899aabbccddeeff",
    {
      _tag: "NewConnectionId",
      sequence: 2,
      retirePriorTo: 1,
      connectionId: hex("c0ffee01"),
      resetToken: hex("00112233445566778899aabbccddeeff")
    }
  ],
  ["RETIRE_CONNECTION_ID (§19.16)", "19 07", { _tag: "RetireConnectionId", sequence: 7 }],
  ["PATH_CHALLENGE (§19.17)", "1a 0102030405060708", { _tag: "PathChallenge", data: hex("0102030405060708") }],
  ["PATH_RESPONSE (§19.18)", "1b 0102030405060708", { _tag: "PathResponse", data: hex("0102030405060708") }],
  [
    "CONNECTION_CLOSE 0x1c: PROTOCOL_VIOLATION caused by a STREAM frame (§19.19)",
    "1c 0a 08 03 626164",
    { _tag: "ConnectionClose", application: false, errorCode: 0x0an, frameType: 0x08n, reason: ascii("bad") }
  ],
  [
    "CONNECTION_CLOSE 0x1d: application error, no reason (§19.19)",
    "1d 4100 00",
    { _tag: "ConnectionClose", application: true, errorCode: 0x100n, reason: new Uint8Array(0) }
  ],
  ["DATAGRAM 0x30 (RFC 9221 §4)", "30 6869", { _tag: "Datagram", data: ascii("hi"), withLength: false }],
  ["DATAGRAM 0x31 (RFC 9221 §4)", "31 02 6869", { _tag: "Datagram", data: ascii("hi"), withLength: true }]
]

describe("known frame encodings", () => {
  for (const [name, encoding, frame] of vectors) {
    it(name, () => {
      expect(decodeAll(hex(encoding))).toStrictEqual(frame)
      expect(toHex(encode(frame))).toBe(encoding.replace(/\s+/g, ""))
    })
  }

  it("STREAM with the OFF bit and an explicit offset of 0 decodes (§19.8)", () => {
    expect(decodeAll(hex("0e 00 00 01 ff"))).toStrictEqual({
      _tag: "Stream",
      id: 0,
      offset: 0,
      data: hex("ff"),
      fin: false,
      withLength: true
    })
  })

  it("PADDING runs decode as one frame and stop at the next non-zero byte", () => {
    expect(decodeFrames(hex("000000 01 00"), "initial")).toStrictEqual([
      { _tag: "Padding", length: 3 },
      { _tag: "Ping" },
      { _tag: "Padding", length: 1 }
    ])
  })

  it("RFC 9001 §A.2: the client Initial payload is a CRYPTO frame and PADDING to 1162 bytes", () => {
    const clientHello = bytes(241, 0x16)
    const payload = new Uint8Array(1162)
    payload.set(hex("060040f1"))
    payload.set(clientHello, 4)
    expect(decodeFrames(payload, "initial")).toStrictEqual([
      { _tag: "Crypto", offset: 0, data: clientHello },
      { _tag: "Padding", length: 1162 - 245 }
    ])
  })

  it("RFC 9001 §A.3: the server Initial payload is an ACK of packet 0 and a CRYPTO frame", () => {
    const serverHello = bytes(90, 0x02)
    const payload = new Uint8Array([...hex("02000000000600405a"), ...serverHello])
    expect(decodeFrames(payload, "initial")).toStrictEqual([
      { _tag: "Ack", ranges: [0, 0], delay: 0 },
      { _tag: "Crypto", offset: 0, data: serverHello }
    ])
  })

  it("RFC 9001 §A.5: the ChaCha20 short header packet carries a single PING", () => {
    expect(decodeFrames(hex("01"), "1rtt")).toStrictEqual([{ _tag: "Ping" }])
  })
})
