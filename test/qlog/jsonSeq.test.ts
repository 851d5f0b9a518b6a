import { describe, expect, it } from "vitest"
import { describeFrame, transportErrorName } from "../../src/internal/qlog/frames.js"
import { eventRecord, headerRecord, parseJsonSeq } from "../../src/internal/qlog/jsonSeq.js"
import { parseRecord } from "./support.js"

describe("qlog JSON-SEQ records", () => {
  it("the header carries the version, format, vantage point and common fields", () => {
    const header = parseRecord(headerRecord({ side: "server", odcid: "0102030405060708", referenceTime: 1_767_225_600_123 }))
    expect(header).toMatchObject({
      qlog_version: "0.3",
      qlog_format: "JSON-SEQ",
      trace: {
        vantage_point: { type: "server" },
        common_fields: { ODCID: "0102030405060708", group_id: "0102030405060708", reference_time: 1_767_225_600_123, time_format: "relative" }
      }
    })
  })

  it("an event is RS, {time, name, data}, LF, with fractional ms kept", () => {
    const record = eventRecord(12.345, "transport:packet_sent", { header: { packet_type: "1RTT", packet_number: 7 } })
    expect(record.charCodeAt(0)).toBe(0x1e)
    expect(record.at(-1)).toBe("\n")
    expect(parseRecord(record)).toEqual({ time: 12.345, name: "transport:packet_sent", data: { header: { packet_type: "1RTT", packet_number: 7 } } })
  })

  it("a reader skips a damaged record and keeps the rest (RFC 7464 §2.3)", () => {
    const text = eventRecord(1, "a:b", {}) + "\x1e{\"time\":2,\"na" + eventRecord(3, "c:d", {})
    expect(parseJsonSeq(text).map((e: any) => e.time)).toEqual([1, 3])
  })
})

describe("qlog frames", () => {
  it("ACK ranges become ascending inclusive pairs and the delay is scaled to ms", () => {
    expect(describeFrame({ _tag: "Ack", ranges: [20, 15, 10, 10, 5, 0], delay: 1000 }, 3)).toEqual({
      frame_type: "ack",
      ack_delay: 8,
      acked_ranges: [[0, 5], [10, 10], [15, 20]]
    })
  })

  it("varint fields beyond 2^53 keep every digit; error codes are named", () => {
    expect(describeFrame({ _tag: "MaxData", max: (1n << 62n) - 1n }, 3)).toEqual({ frame_type: "max_data", maximum: "4611686018427387903" })
    expect(describeFrame({ _tag: "MaxStreams", bidi: false, max: 10n }, 3)).toEqual({ frame_type: "max_streams", stream_type: "unidirectional", maximum: 10 })
    expect(
      describeFrame({ _tag: "ConnectionClose", application: false, errorCode: 0x0an, frameType: 0x08n, reason: new TextEncoder().encode("bad") }, 3)
    ).toEqual({ frame_type: "connection_close", error_space: "transport", error_code: "protocol_violation", raw_error_code: 10, reason: "bad", trigger_frame_type: 8 })
    expect(transportErrorName(0x128)).toBe("crypto_error_0x128")
    expect(transportErrorName(0x0)).toBe("no_error")
    expect(transportErrorName(0x99)).toBe(0x99)
  })
})
