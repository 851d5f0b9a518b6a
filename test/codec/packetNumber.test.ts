import { FastCheck as fc } from "effect"
import { execFileSync } from "node:child_process"
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

  it("decodes every truncation as RFC 9000 Appendix A.3's pseudo-code does, on both sides of 2^30", () => {
    /** Appendix A.3 in BigInt, line by line. */
    const reference = (largest: number | undefined, truncated: number, bits: number): number => {
      const expected = largest === undefined ? 0n : BigInt(largest) + 1n
      const window = 1n << BigInt(bits)
      const half = window / 2n
      const candidate = (expected & ~(window - 1n)) | BigInt(truncated)
      let result = candidate
      if (candidate <= expected - half && candidate < (1n << 62n) - window) result = candidate + window
      else if (candidate > expected + half && candidate >= window) result = candidate - window
      return result > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(result)
    }
    const largest = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 0, max: 2 ** 12 }),
      fc.integer({ min: 2 ** 30 - 2 ** 12, max: 2 ** 30 + 2 ** 12 }),
      fc.integer({ min: 0, max: 2 ** 40 })
    )
    fc.assert(
      fc.property(largest, fc.constantFrom(8, 16, 24, 32), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (l, bits, at) => {
        const truncated = Math.floor(at * 2 ** bits)
        expect(decodePacketNumber(l, truncated, bits)).toBe(reference(l, truncated, bits))
      }),
      { numRuns: 5000 }
    )
  })

  it("keeps small packet numbers small integers, which V8 stores unboxed", () => {
    // A child with V8's natives syntax: whether a number is a Smi is not visible from JavaScript.
    const module = new URL("../../src/internal/codec/packetNumber.ts", import.meta.url).pathname
    const script = `
      import { decodePacketNumber, truncatePacketNumber } from ${JSON.stringify(module)}
      const isSmi = new Function("x", "return %IsSmi(x)")
      const results = [
        decodePacketNumber(undefined, 0, 8), decodePacketNumber(1000, 0xe9, 8), decodePacketNumber(70000, 0x1171, 16),
        decodePacketNumber(5, 6, 32), decodePacketNumber(2 ** 24, 3, 24), truncatePacketNumber(70000, 1),
        truncatePacketNumber(70000, 2), truncatePacketNumber(70000, 3), truncatePacketNumber(70000, 4)
      ]
      console.log(JSON.stringify(results.map((x) => [x, isSmi(x)])))
    `
    const out = execFileSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" })
    expect(JSON.parse(out)).toEqual([
      [0, true], [1001, true], [70001, true], [6, true], [2 ** 24 + 3, true], [0x70, true], [0x1170, true], [70000, true], [70000, true]
    ])
  }, 30_000)

  it("never returns a packet number above 2^53-1", () => {
    expect(decodePacketNumber(Number.MAX_SAFE_INTEGER - 1, 0, 8)).toBe(-1)
  })
})
