import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { decodePacketNumber, packetNumberLength, truncatePacketNumber } from "../../src/internal/codec/packetNumber.js"

describe("packet numbers (RFC 9000 §17.1, Appendix A.2, A.3)", () => {
  it("chooses the lengths of the RFC 9000 §17.1 examples", () => {
    // §17.1: largest acked 0xabe8b3, sending 0xac5c02 needs 16 bits; 0xace8fe needs 24 bits.
    expect(packetNumberLength(0xac5c02, 0xabe8b3)).toBe(2)
    expect(packetNumberLength(0xace8fe, 0xabe8b3)).toBe(3)
  })

  it("decodes the RFC 9000 §A.3 example", () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32)
  })

  it("decodes the RFC 9001 A.5 packet number from its 3-byte truncation", () => {
    expect(decodePacketNumber(654360563, 49140, 24)).toBe(654360564)
  })

  it("decodes the first packet when nothing was received", () => {
    expect(decodePacketNumber(undefined, 0, 8)).toBe(0)
    expect(decodePacketNumber(undefined, 5, 32)).toBe(5)
  })

  it("round-trips any packet number within the window the encoder chose", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 2 ** 20 }),
        fc.integer({ min: -(2 ** 10), max: 2 ** 10 }),
        (largestAcked, ahead, receiverSkew) => {
          const pn = largestAcked + 1 + ahead
          const length = packetNumberLength(pn, largestAcked)
          const bits = length * 8
          const truncated = truncatePacketNumber(pn, length)
          // The receiver's largest received lies between the sender's largest acked and pn - 1.
          const largestReceived = Math.min(pn - 1, Math.max(largestAcked, largestAcked + receiverSkew))
          expect(decodePacketNumber(largestReceived, truncated, bits)).toBe(pn)
        }
      )
    )
  })

  it("truncation keeps the low bytes of any packet number up to 2^53-1", () => {
    expect(truncatePacketNumber(0xa82f9b32, 2)).toBe(0x9b32)
    expect(truncatePacketNumber(2 ** 32 + 7, 4)).toBe(7)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const), (pn, bytes) => {
        expect(truncatePacketNumber(pn, bytes)).toBe(Number(BigInt(pn) & ((1n << BigInt(8 * bytes)) - 1n)))
      })
    )
  })

  it("never returns a packet number above 2^53-1", () => {
    expect(decodePacketNumber(Number.MAX_SAFE_INTEGER - 1, 0, 8)).toBe(-1)
  })
})
