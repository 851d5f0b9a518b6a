import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { secureRandom, seededRandom } from "../../src/internal/random.js"
import { backends, toHex } from "../helpers.js"

const take = (fill: (out: Uint8Array) => void, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  fill(out)
  return out
}

describe.each(backends)("seededRandom on %s", (_name, backend) => {
  it("is deterministic per seed", () => {
    for (const seed of [0, 1, 42, -7, 0.5, 2 ** 40]) {
      const a = seededRandom(backend, seed)
      const b = seededRandom(backend, seed)
      expect(toHex(take(a.fill, 100))).toBe(toHex(take(b.fill, 100)))
      expect(a.u32()).toBe(b.u32())
    }
  })

  it("differs across seeds", () => {
    const streams = [0, 1, 2, 3, 42, 1_000_000, -1].map((seed) => toHex(take(seededRandom(backend, seed).fill, 32)))
    expect(new Set(streams).size).toBe(streams.length)
  })

  it("is SHA-256(seed as float64 big-endian ‖ counter as u32 big-endian), block after block", () => {
    const seed = 12345
    const input = new Uint8Array(12)
    new DataView(input.buffer).setFloat64(0, seed)
    const expected: Array<number> = []
    for (let counter = 0; counter < 3; counter++) {
      new DataView(input.buffer).setUint32(8, counter)
      expected.push(...backend.hash("sha256", input))
    }
    expect(toHex(take(seededRandom(backend, seed).fill, 96))).toBe(toHex(Uint8Array.from(expected)))
  })

  it("gives the same stream however the reads are split", () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 12 }), (seed, sizes) => {
        const total = sizes.reduce((a, b) => a + b, 0)
        const whole = take(seededRandom(backend, seed).fill, total)
        const split = seededRandom(backend, seed)
        const parts: Array<number> = []
        for (const size of sizes) parts.push(...take(split.fill, size))
        expect(toHex(Uint8Array.from(parts))).toBe(toHex(whole))
      }),
      { numRuns: 100 }
    )
  })

  it("builds u32 from the next 4 bytes of the stream, big-endian", () => {
    const bytes = take(seededRandom(backend, 9).fill, 12)
    const r = seededRandom(backend, 9)
    for (let i = 0; i < 3; i++) {
      const expected = ((bytes[4 * i]! << 24) | (bytes[4 * i + 1]! << 16) | (bytes[4 * i + 2]! << 8) | bytes[4 * i + 3]!) >>> 0
      expect(r.u32()).toBe(expected)
    }
  })

  it("interleaves u32 and fill on one stream", () => {
    const bytes = take(seededRandom(backend, 77).fill, 40)
    const r = seededRandom(backend, 77)
    r.u32()
    expect(toHex(take(r.fill, 10))).toBe(toHex(bytes.subarray(4, 14)))
    r.u32()
    expect(toHex(take(r.fill, 22))).toBe(toHex(bytes.subarray(18, 40)))
  })

  it("keeps two generators independent", () => {
    const a = seededRandom(backend, 1)
    const b = seededRandom(backend, 2)
    const aRef = take(seededRandom(backend, 1).fill, 16)
    b.u32()
    const first = take(a.fill, 8)
    b.u32()
    const second = take(a.fill, 8)
    expect(toHex(first) + toHex(second)).toBe(toHex(aRef))
  })

  it("returns u32 values that are integers in [0, 2^32)", () => {
    const r = seededRandom(backend, 3)
    let high = false
    for (let i = 0; i < 2000; i++) {
      const v = r.u32()
      expect(Number.isInteger(v)).toBe(true)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(2 ** 32)
      if (v >= 2 ** 31) high = true
    }
    // The top bit is used (no signed 32-bit overflow).
    expect(high).toBe(true)
  })

  it("leaves an empty buffer alone and does not advance the stream", () => {
    const r = seededRandom(backend, 5)
    r.fill(new Uint8Array(0))
    expect(toHex(take(r.fill, 8))).toBe(toHex(take(seededRandom(backend, 5).fill, 8)))
  })
})

describe("seededRandom across backends", () => {
  it("produces the same stream on node and noble", () => {
    const [node, noble] = [backends[0]![1], backends[1]![1]]
    expect(toHex(take(seededRandom(node, 2024).fill, 200))).toBe(toHex(take(seededRandom(noble, 2024).fill, 200)))
  })
})

describe.each(backends)("secureRandom on %s", (_name, backend) => {
  it("fills the whole buffer with fresh bytes", () => {
    const r = secureRandom(backend)
    const a = take(r.fill, 64)
    const b = take(r.fill, 64)
    expect(a.some((x) => x !== 0)).toBe(true)
    expect(toHex(a)).not.toBe(toHex(b))
    // Every position is written (a zero-filled tail would be very unlikely for 64 random buffers).
    const touched = new Uint8Array(64)
    for (let i = 0; i < 64; i++) {
      const buf = take(r.fill, 64)
      for (let j = 0; j < 64; j++) touched[j]! |= buf[j]!
    }
    expect(touched.every((x) => x !== 0)).toBe(true)
  })

  it("fills large buffers", () => {
    const r = secureRandom(backend)
    const big = take(r.fill, 70_000)
    expect(big.subarray(65_536).some((x) => x !== 0)).toBe(true)
  })

  it("returns u32 values that are integers in [0, 2^32) and vary", () => {
    const r = secureRandom(backend)
    const seen = new Set<number>()
    for (let i = 0; i < 200; i++) {
      const v = r.u32()
      expect(Number.isInteger(v)).toBe(true)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(2 ** 32)
      seen.add(v)
    }
    expect(seen.size).toBeGreaterThan(190)
  })
})
