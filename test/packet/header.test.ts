import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferWriter } from "../../src/internal/codec/writer.js"
import { isPacketDropped } from "../../src/internal/packet/dropped.js"
import {
  encodeVersionNegotiation,
  keyPhaseOf,
  packetNumberLengthOf,
  parsePacketHeader,
  reservedBits,
  setLongHeaderLength,
  writeLongHeader,
  writeShortHeader
} from "../../src/internal/packet/header.js"
import { encodeRetry } from "../../src/internal/packet/retry.js"
import { QUIC_V1, QUIC_V2, isReservedVersion } from "../../src/internal/packet/version.js"
import { backends, fromHex, toHex } from "../helpers.js"

const cid = fc.uint8Array({ maxLength: 20 })
const pnLength = fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const)
const version = fc.constantFrom(QUIC_V1, QUIC_V2)
const [, backend] = backends[0]!

describe("long headers (RFC 9000 §17.2, RFC 9369 §3.2)", () => {
  it("round-trip Initial, 0-RTT and Handshake headers of both versions", () => {
    fc.assert(
      fc.property(
        version,
        fc.constantFrom("initial" as const, "0rtt" as const, "handshake" as const),
        cid,
        cid,
        fc.uint8Array({ maxLength: 64 }),
        pnLength,
        fc.nat(),
        fc.integer({ min: 0, max: 1500 }),
        (version, type, dcid, scid, token, length, pn, payloadLength) => {
          const truncated = pn % 2 ** (8 * length)
          const buffer = new Uint8Array(2048)
          const w = new BufferWriter(buffer)
          const lengthOffset = writeLongHeader(w, version, type, dcid, scid, token, truncated, length)
          const pnOffset = w.offset - length
          w.zeros(payloadLength)
          setLongHeaderLength(buffer, lengthOffset, length + payloadLength)
          const datagram = buffer.subarray(0, w.offset)
          const header = parsePacketHeader(datagram, 0, 8)
          if (isPacketDropped(header) || header.form !== "long") throw new Error(JSON.stringify(header))
          expect(header.type).toBe(type)
          expect(header.version).toBe(version)
          expect(toHex(header.dcid)).toBe(toHex(dcid))
          expect(toHex(header.scid)).toBe(toHex(scid))
          expect(toHex(header.token)).toBe(type === "initial" ? toHex(token) : "")
          expect(header.pnOffset).toBe(pnOffset)
          expect(header.end).toBe(datagram.length)
          expect(packetNumberLengthOf(datagram[0]!)).toBe(length)
          expect(reservedBits(datagram[0]!)).toBe(0)
        }
      )
    )
  })

  it("uses each version's type bits: an Initial starts c0 in v1 and d0 in v2", () => {
    for (const [version, first] of [
      [QUIC_V1, 0xc0],
      [QUIC_V2, 0xd0]
    ] as const) {
      const w = new BufferWriter(new Uint8Array(64))
      writeLongHeader(w, version, "initial", fromHex("01"), fromHex(""), fromHex(""), 0, 1)
      expect(w.bytes[0]).toBe(first)
    }
  })

  it("drops a Length that runs past the datagram, a zero fixed bit and an over-long connection ID", () => {
    const w = new BufferWriter(new Uint8Array(64))
    const lengthOffset = writeLongHeader(w, QUIC_V1, "handshake", fromHex("0102"), fromHex("03"), fromHex(""), 0, 1)
    w.zeros(10)
    const packet = w.bytes.subarray(0, w.offset)
    setLongHeaderLength(packet, lengthOffset, 12)
    expect(parsePacketHeader(packet, 0, 8)).toEqual({ _tag: "PacketDropped", reason: "length-exceeds-datagram" })
    setLongHeaderLength(packet, lengthOffset, 11)
    expect(isPacketDropped(parsePacketHeader(packet, 0, 8))).toBe(false)
    const noFixedBit = packet.slice()
    noFixedBit[0]! &= ~0x40
    expect(parsePacketHeader(noFixedBit, 0, 8)).toEqual({ _tag: "PacketDropped", reason: "fixed-bit-zero" })
    const longCid = new Uint8Array(40)
    longCid.set(fromHex("c000000001"))
    longCid[5] = 21
    expect(parsePacketHeader(longCid, 0, 8)).toEqual({ _tag: "PacketDropped", reason: "connection-id-too-long" })
  })

  it("reads only the invariant fields of an unknown version, allowing 255-byte connection IDs", () => {
    const packet = new Uint8Array(1 + 4 + 1 + 255 + 1 + 3 + 10)
    packet.set(fromHex("c0facefeed"))
    packet[5] = 255
    packet[261] = 3
    const header = parsePacketHeader(packet, 0, 8)
    if (isPacketDropped(header) || header.form !== "unsupported-version") throw new Error(JSON.stringify(header))
    expect(header.version).toBe(0xfacefeed)
    expect(header.dcid.length).toBe(255)
    expect(header.scid.length).toBe(3)
  })
})

describe("short headers (RFC 9000 §17.3.1)", () => {
  it("round-trip with spin bit, key phase and packet number", () => {
    fc.assert(
      fc.property(cid, fc.boolean(), fc.constantFrom(0 as const, 1 as const), pnLength, fc.nat(), (dcid, spin, keyPhase, length, pn) => {
        const w = new BufferWriter(new Uint8Array(64))
        const truncated = pn % 2 ** (8 * length)
        const pnOffset = writeShortHeader(w, dcid, spin, keyPhase, truncated, length)
        w.zeros(20)
        const datagram = w.bytes.subarray(0, w.offset)
        const header = parsePacketHeader(datagram, 0, dcid.length)
        if (isPacketDropped(header) || header.form !== "short") throw new Error(JSON.stringify(header))
        expect(toHex(header.dcid)).toBe(toHex(dcid))
        expect(header.spin).toBe(spin)
        expect(header.pnOffset).toBe(pnOffset)
        expect(keyPhaseOf(datagram[0]!)).toBe(keyPhase)
        expect(packetNumberLengthOf(datagram[0]!)).toBe(length)
        expect(reservedBits(datagram[0]!)).toBe(0)
      })
    )
  })

  it("flags reserved bits set after unprotection", () => {
    expect(reservedBits(0x40 | 0x18)).toBe(0x18)
    expect(reservedBits(0xc0 | 0x0c)).toBe(0x0c)
  })
})

describe("Retry (RFC 9000 §17.2.5)", () => {
  it("round-trips through encodeRetry and the parser", () => {
    fc.assert(
      fc.property(version, cid, cid, fc.uint8Array({ minLength: 1, maxLength: 100 }), cid, (version, dcid, scid, token, odcid) => {
        const packet = encodeRetry(backend, version, dcid, scid, token, odcid, 0)
        const header = parsePacketHeader(packet, 0, 8)
        if (isPacketDropped(header) || header.form !== "retry") throw new Error(JSON.stringify(header))
        expect(header.version).toBe(version)
        expect(toHex(header.dcid)).toBe(toHex(dcid))
        expect(toHex(header.scid)).toBe(toHex(scid))
        expect(toHex(header.token)).toBe(toHex(token))
      })
    )
  })

  it("drops a Retry with an empty token", () => {
    const packet = encodeRetry(backend, QUIC_V1, fromHex("01"), fromHex("02"), new Uint8Array(0), fromHex("03"), 0)
    expect(parsePacketHeader(packet, 0, 8)).toEqual({ _tag: "PacketDropped", reason: "empty-retry-token" })
  })
})

describe("Version Negotiation (RFC 9000 §17.2.1)", () => {
  it("round-trips the version list, with the 0x40 bit set", () => {
    fc.assert(
      fc.property(cid, cid, fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 10 }), fc.nat(0xff), (dcid, scid, versions, unused) => {
        const packet = encodeVersionNegotiation(dcid, scid, versions, unused)
        expect(packet[0]! & 0xc0).toBe(0xc0)
        const header = parsePacketHeader(packet, 0, 8)
        if (isPacketDropped(header) || header.form !== "version-negotiation") throw new Error(JSON.stringify(header))
        expect(header.versions).toEqual(versions)
        expect(toHex(header.dcid)).toBe(toHex(dcid))
        expect(toHex(header.scid)).toBe(toHex(scid))
      })
    )
  })

  it("drops a version list that is empty or not a multiple of four bytes", () => {
    const empty = encodeVersionNegotiation(fromHex("01"), fromHex("02"), [], 0)
    expect(parsePacketHeader(empty, 0, 8)).toEqual({ _tag: "PacketDropped", reason: "malformed-version-list" })
    const ragged = new Uint8Array([...encodeVersionNegotiation(fromHex("01"), fromHex("02"), [1], 0), 0])
    expect(parsePacketHeader(ragged, 0, 8)).toEqual({ _tag: "PacketDropped", reason: "malformed-version-list" })
  })

  it("recognises the reserved greasing versions 0x?a?a?a?a", () => {
    expect(isReservedVersion(0x1a2a3a4a)).toBe(true)
    expect(isReservedVersion(QUIC_V1.number)).toBe(false)
    expect(isReservedVersion(QUIC_V2.number)).toBe(false)
  })
})

describe("hostile input", () => {
  it("random bytes give a header or a drop, never an exception, and stay within the datagram", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(20), (bytes, cidLength) => {
        const header = parsePacketHeader(bytes, 0, cidLength)
        if (isPacketDropped(header)) return
        expect(header.end).toBeLessThanOrEqual(bytes.length)
        if (header.form === "long" || header.form === "short") {
          expect(header.pnOffset).toBeGreaterThan(header.start)
          expect(header.pnOffset).toBeLessThanOrEqual(header.end)
        }
      }),
      { numRuns: 5000 }
    )
  })
})
