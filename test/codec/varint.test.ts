import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { BufferReader } from "../../src/internal/codec/reader.js"
import { varintLength, varintLengthBig, VARINT_MAX, VARINT_UNSAFE } from "../../src/internal/codec/varint.js"
import { BufferWriter, EncodeOverflow } from "../../src/internal/codec/writer.js"
import { fromHex, toHex } from "../helpers.js"

const encode = (value: number | bigint): string => {
  const w = new BufferWriter(new Uint8Array(8))
  if (typeof value === "bigint") w.varintBig(value)
  else w.varint(value)
  return toHex(w.bytes.subarray(0, w.offset))
}

describe("varint (RFC 9000 §16)", () => {
  // RFC 9000 Appendix A.1 sample encodings.
  const samples: ReadonlyArray<readonly [string, bigint]> = [
    ["c2197c5eff14e88c", 151288809941952652n],
    ["9d7f3e7d", 494878333n],
    ["7bbd", 15293n],
    ["25", 37n]
  ]

  it.each(samples)("decodes the RFC 9000 A.1 sample %s", (hex, value) => {
    const r = new BufferReader(fromHex(hex))
    expect(r.varintBig()).toBe(value)
    expect(r.failed).toBe(false)
    expect(r.remaining).toBe(0)
    expect(encode(value)).toBe(hex)
  })

  it("reads the two-byte encoding of 37 (4025) as 37: non-minimal encodings are legal", () => {
    const r = new BufferReader(fromHex("4025"))
    expect(r.varint()).toBe(37)
    expect(r.offset).toBe(2)
  })

  it("reports values above 2^53-1 as unsafe in number form but exactly as bigint", () => {
    const r = new BufferReader(fromHex("c2197c5eff14e88c"))
    expect(r.varint()).toBe(VARINT_UNSAFE)
    expect(r.failed).toBe(false)
    expect(new BufferReader(fromHex("ffffffffffffffff")).varintBig()).toBe(VARINT_MAX)
  })

  it("reads 2^53-1 exactly in number form and 2^53 as unsafe", () => {
    expect(new BufferReader(fromHex(encode(2n ** 53n - 1n))).varint()).toBe(Number.MAX_SAFE_INTEGER)
    expect(new BufferReader(fromHex(encode(2n ** 53n))).varint()).toBe(VARINT_UNSAFE)
  })

  it("round-trips every number up to 2^53-1 with the shortest length", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 0x3fffffff }), fc.maxSafeNat()), (value) => {
        const hex = encode(value)
        expect(hex.length / 2).toBe(varintLength(value))
        const r = new BufferReader(fromHex(hex))
        expect(r.varint()).toBe(value)
        expect(r.remaining).toBe(0)
      })
    )
  })

  it("round-trips every bigint up to 2^62-1 with the shortest length", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: VARINT_MAX }), (value) => {
        const hex = encode(value)
        expect(hex.length / 2).toBe(varintLengthBig(value))
        expect(new BufferReader(fromHex(hex)).varintBig()).toBe(value)
      })
    )
  })

  it("writes a fixed-length encoding that reads back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fff }), fc.constantFrom(2 as const, 4 as const, 8 as const), (value, length) => {
        const w = new BufferWriter(new Uint8Array(8))
        w.varintWithLength(value, length)
        expect(w.offset).toBe(length)
        expect(new BufferReader(w.bytes).varint()).toBe(value)
      })
    )
  })

  it("refuses to encode values outside the range", () => {
    const w = new BufferWriter(new Uint8Array(8))
    expect(() => w.varint(-1)).toThrow(EncodeOverflow)
    expect(() => w.varint(2 ** 53)).toThrow(EncodeOverflow)
    expect(() => w.varintBig(VARINT_MAX + 1n)).toThrow(EncodeOverflow)
    expect(() => w.varintWithLength(64, 1)).toThrow(EncodeOverflow)
  })

  it("sets the sticky failure flag on truncated input instead of throwing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9 }), (bytes) => {
        const r = new BufferReader(bytes)
        const value = r.varint()
        if (bytes.length === 0 || bytes.length < 1 << (bytes[0]! >> 6)) {
          expect(r.failed).toBe(true)
          expect(value).toBe(0)
        } else {
          expect(r.failed).toBe(false)
          expect(r.offset).toBe(1 << (bytes[0]! >> 6))
        }
      })
    )
  })
})

describe("BufferReader", () => {
  it("reads fixed-width integers big-endian", () => {
    const r = new BufferReader(fromHex("01020304050607080910"))
    expect(r.u8()).toBe(0x01)
    expect(r.u16()).toBe(0x0203)
    expect(r.u24()).toBe(0x040506)
    expect(r.u32()).toBe(0x07080910)
    expect(r.failed).toBe(false)
    expect(r.u8()).toBe(0)
    expect(r.failed).toBe(true)
  })

  it("reads u32 values with the top bit set as positive numbers", () => {
    expect(new BufferReader(fromHex("ffffffff")).u32()).toBe(0xffffffff)
  })

  it("returns views, not copies, and an empty view past the end", () => {
    const bytes = fromHex("aabbccdd")
    const r = new BufferReader(bytes)
    const view = r.bytesView(2)
    expect(view.buffer).toBe(bytes.buffer)
    expect(toHex(view)).toBe("aabb")
    expect(r.bytesView(3).length).toBe(0)
    expect(r.failed).toBe(true)
  })
})
