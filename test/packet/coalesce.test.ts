import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import { splitDatagram } from "../../src/internal/packet/coalesce.js"
import { setLongHeaderLength, writeLongHeader, writeShortHeader } from "../../src/internal/packet/header.js"
import { QUIC_V1 } from "../../src/internal/packet/version.js"
import { fromHex } from "../helpers.js"

const DCID = fromHex("0011223344556677")
const SCID = fromHex("8899aabb")

/** Writes a long-header packet with `payload` zero-filled payload bytes. */
const long = (w: BufferWriter, type: "initial" | "handshake" | "0rtt", payload: number, dcid = DCID): void => {
  const lengthOffset = writeLongHeader(w, QUIC_V1, type, dcid, SCID, new Uint8Array(0), 0, 2)
  w.bytes.fill(0xab, w.offset, w.offset + payload)
  w.offset += payload
  setLongHeaderLength(w.bytes, lengthOffset, 2 + payload)
}

describe("coalesced packets (RFC 9000 §12.2)", () => {
  it("splits Initial, Handshake and 1-RTT packets sharing a datagram", () => {
    const w = new BufferWriter(new Uint8Array(1500))
    long(w, "initial", 100)
    const second = w.offset
    long(w, "handshake", 200)
    const third = w.offset
    writeShortHeader(w, DCID, false, 0, 7, 1)
    w.zeros(50)
    const { packets, dropped } = splitDatagram(w.bytes.subarray(0, w.offset), DCID.length)
    expect(dropped).toBeUndefined()
    expect(packets.map((p) => [p.form, p.start, p.end])).toEqual([
      ["long", 0, second],
      ["long", second, third],
      ["short", third, w.offset]
    ])
  })

  it("ignores a trailing run of zero bytes after the last packet", () => {
    const w = new BufferWriter(new Uint8Array(1200))
    long(w, "initial", 300)
    const end = w.offset
    const { packets, dropped } = splitDatagram(w.bytes, DCID.length)
    expect(dropped).toBeUndefined()
    expect(packets.length).toBe(1)
    expect(packets[0]!.end).toBe(end)
  })

  it("stops at a packet for another connection ID", () => {
    const w = new BufferWriter(new Uint8Array(600))
    long(w, "initial", 100)
    long(w, "handshake", 100, fromHex("ffffffffffffffff"))
    const { packets, dropped } = splitDatagram(w.bytes.subarray(0, w.offset), DCID.length)
    expect(packets.length).toBe(1)
    expect(dropped?.reason).toBe("connection-id-mismatch")
  })

  it("reports a malformed remainder but keeps the packets before it", () => {
    const w = new BufferWriter(new Uint8Array(600))
    long(w, "initial", 100)
    w.u8(0x80)
    w.u8(0x01)
    const { packets, dropped } = splitDatagram(w.bytes.subarray(0, w.offset), DCID.length)
    expect(packets.length).toBe(1)
    expect(dropped?.reason).toBe("truncated")
  })

  it("covers any datagram with packets that tile it, never throwing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const { packets } = splitDatagram(bytes, 8)
        let offset = 0
        for (const p of packets) {
          expect(p.start).toBe(offset)
          expect(p.end).toBeGreaterThan(p.start)
          offset = p.end
        }
        expect(offset).toBeLessThanOrEqual(bytes.length)
      }),
      { numRuns: 3000 }
    )
  })
})
