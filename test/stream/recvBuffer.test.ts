import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { TransportErrorCode } from "../../src/internal/errors.js"
import { MAX_RECEIVE_RANGES, RECEIVE_BLOCK_SIZE, RecvBuffer } from "../../src/internal/stream/recvBuffer.js"
import { bytes, concat, expectError, rng, sameBytes } from "./helpers.js"

const { FINAL_SIZE_ERROR, INTERNAL_ERROR } = TransportErrorCode
const STREAM = 0x08

/**
 * Inserts `data[start, end)` as a frame would carry it: a view into a larger
 * "packet" that is scribbled over afterwards, proving the buffer copied.
 */
const insert = (buffer: RecvBuffer, data: Uint8Array, start: number, end: number, fin: boolean): void => {
  const packet = new Uint8Array(end - start + 20)
  packet.set(data.subarray(start, end), 7)
  const error = buffer.checkFinalSize(end, fin, STREAM) ??
    buffer.insert(start, packet.subarray(7, 7 + end - start), fin, STREAM)
  expect(error).toBeUndefined()
  packet.fill(0xee)
}

describe("RecvBuffer", () => {
  it("reassembles out-of-order, overlapping and duplicate frames", () => {
    const data = bytes(100, 3)
    const buffer = new RecvBuffer()
    insert(buffer, data, 50, 100, true)
    expect(buffer.read(100).length).toBe(0)
    insert(buffer, data, 10, 60, false)
    insert(buffer, data, 10, 20, false)
    expect(buffer.contiguous).toBe(0)
    insert(buffer, data, 0, 15, false)
    expect(buffer.complete).toBe(true)
    const out = new Uint8Array(100)
    expect(buffer.readInto(out)).toBe(100)
    expect(out).toEqual(data)
    expect(buffer.finished).toBe(true)
  })

  it("hands out views that later data never overwrites", () => {
    const data = bytes(300, 4)
    const buffer = new RecvBuffer()
    insert(buffer, data, 0, 100, false)
    const first = buffer.read(1000)
    expect(first).toEqual(data.subarray(0, 100))
    // A retransmission of what was read, carrying different bytes, is ignored.
    buffer.insert(0, new Uint8Array(200).fill(1), false, STREAM)
    expect(first).toEqual(data.subarray(0, 100))
    expect(buffer.read(1000)).toEqual(new Uint8Array(100).fill(1))
  })

  it("reads stop at a block boundary; readInto crosses it", () => {
    const n = RECEIVE_BLOCK_SIZE + 500
    const data = bytes(n, 5)
    const buffer = new RecvBuffer()
    insert(buffer, data, 0, n, true)
    const a = buffer.read(n)
    expect(a.length).toBe(RECEIVE_BLOCK_SIZE)
    expect(buffer.read(n)).toEqual(data.subarray(RECEIVE_BLOCK_SIZE))
    const again = new RecvBuffer()
    insert(again, data, 0, n, true)
    const out = new Uint8Array(n)
    expect(again.readInto(out)).toBe(n)
    expect(out).toEqual(data)
  })

  it("allocates only the final size for a short stream with its FIN", () => {
    const buffer = new RecvBuffer()
    insert(buffer, bytes(10, 1), 0, 10, true)
    const blocks = (buffer as unknown as { blocks: Array<Uint8Array> }).blocks
    expect(blocks[0]!.length).toBe(10)
  })

  describe("block sizes", () => {
    const blocksOf = (buffer: RecvBuffer) => (buffer as unknown as { blocks: Array<Uint8Array | undefined> }).blocks
    const lengths = (buffer: RecvBuffer) => blocksOf(buffer).map((b) => b?.length)

    it("a byte on a fresh stream, or far beyond a gap, takes a kilobyte rather than a block", () => {
      const buffer = new RecvBuffer()
      insert(buffer, bytes(1, 1), 0, 1, false)
      expect(lengths(buffer)).toEqual([1024])
      const far = 3 * RECEIVE_BLOCK_SIZE + 5
      expect(buffer.insert(far, Uint8Array.of(9), false, STREAM)).toBeUndefined()
      expect(lengths(buffer)).toEqual([1024, undefined, undefined, 1024])
    })

    it("a block grows by doubling, keeping the unread bytes and the views handed out", () => {
      const data = bytes(6000, 8)
      const buffer = new RecvBuffer()
      insert(buffer, data, 0, 1000, false)
      const first = buffer.read(500)
      insert(buffer, data, 1000, 2500, false)
      expect(lengths(buffer)).toEqual([4096])
      insert(buffer, data, 2500, 6000, false)
      expect(lengths(buffer)).toEqual([8192])
      const rest = new Uint8Array(5500)
      expect(buffer.readInto(rest)).toBe(5500)
      expect(rest).toEqual(data.subarray(500))
      expect(first).toEqual(data.subarray(0, 500))
    })

    it("data flowing in order gets whole blocks after the first", () => {
      const n = 2 * RECEIVE_BLOCK_SIZE + 100
      const data = bytes(n, 9)
      const buffer = new RecvBuffer()
      for (let at = 0; at < n; at += 1400) insert(buffer, data, at, Math.min(n, at + 1400), false)
      expect(lengths(buffer)).toEqual([RECEIVE_BLOCK_SIZE, RECEIVE_BLOCK_SIZE, RECEIVE_BLOCK_SIZE])
      const out = new Uint8Array(n)
      expect(buffer.readInto(out)).toBe(n)
      expect(out).toEqual(data)
    })
  })

  describe("release", () => {
    const blocksOf = (buffer: RecvBuffer) => (buffer as unknown as { blocks: Array<Uint8Array | undefined> }).blocks

    it("drops every block once all that arrived was read; later data reassembles in new ones", () => {
      const data = bytes(3000, 6)
      const buffer = new RecvBuffer(1024)
      insert(buffer, data, 0, 1500, false)
      const first = buffer.read(5000)
      expect(first).toEqual(data.subarray(0, 1024))
      buffer.release()
      // 476 bytes are still unread: nothing is dropped.
      expect(blocksOf(buffer).filter((b) => b !== undefined)).toHaveLength(1)
      const second = buffer.read(5000)
      expect(second).toEqual(data.subarray(1024, 1500))
      buffer.release()
      expect(blocksOf(buffer)).toEqual([])
      insert(buffer, data, 1500, 3000, true)
      const rest = new Uint8Array(1500)
      expect(buffer.readInto(rest)).toBe(1500)
      expect(rest).toEqual(data.subarray(1500))
      expect(buffer.finished).toBe(true)
      // Views handed out before the release still hold their bytes.
      expect(first).toEqual(data.subarray(0, 1024))
      expect(second).toEqual(data.subarray(1024, 1500))
    })

    it("keeps data that arrived beyond a gap", () => {
      const data = bytes(2000, 7)
      const buffer = new RecvBuffer(512)
      insert(buffer, data, 0, 100, false)
      insert(buffer, data, 1000, 2000, false)
      expect(buffer.read(5000)).toEqual(data.subarray(0, 100))
      buffer.release()
      insert(buffer, data, 100, 1000, false)
      const out = new Uint8Array(1900)
      expect(buffer.readInto(out)).toBe(1900)
      expect(out).toEqual(data.subarray(100))
    })
  })

  describe("final size (RFC 9000 §4.5)", () => {
    it("data beyond a known final size", () => {
      const buffer = new RecvBuffer()
      insert(buffer, bytes(10, 1), 0, 10, true)
      expectError(buffer.checkFinalSize(11, false, STREAM), FINAL_SIZE_ERROR, STREAM)
      expect(buffer.checkFinalSize(10, false, STREAM)).toBeUndefined()
    })

    it("a FIN changing the final size", () => {
      const buffer = new RecvBuffer()
      insert(buffer, bytes(10, 1), 0, 10, true)
      expectError(buffer.checkFinalSize(9, true, STREAM), FINAL_SIZE_ERROR)
      expect(buffer.checkFinalSize(10, true, STREAM)).toBeUndefined()
    })

    it("a FIN below data already received", () => {
      const buffer = new RecvBuffer()
      insert(buffer, bytes(20, 1), 10, 20, false)
      expectError(buffer.checkFinalSize(15, true, STREAM), FINAL_SIZE_ERROR)
      expect(buffer.checkFinalSize(20, true, STREAM)).toBeUndefined()
    })
  })

  it("refuses data fragmented into too many ranges", () => {
    const buffer = new RecvBuffer()
    for (let i = 0; i < MAX_RECEIVE_RANGES; i++) {
      expect(buffer.insert(2 * i + 1, Uint8Array.of(1), false, STREAM)).toBeUndefined()
    }
    expectError(buffer.insert(2 * MAX_RECEIVE_RANGES + 1, Uint8Array.of(1), false, STREAM), INTERNAL_ERROR)
  })

  it("after discard, tracks completion without keeping data", () => {
    const data = bytes(100, 2)
    const buffer = new RecvBuffer()
    insert(buffer, data, 0, 30, false)
    buffer.discard()
    insert(buffer, data, 60, 100, true)
    expect(buffer.complete).toBe(false)
    insert(buffer, data, 30, 60, false)
    expect(buffer.complete).toBe(true)
    expect(buffer.readOffset).toBe(100)
    expect((buffer as unknown as { blocks: Array<unknown> }).blocks.length).toBe(0)
  })

  it("property: any chunking, order, duplication and overlap reassembles byte-exact, whatever the block size and releases", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * RECEIVE_BLOCK_SIZE }),
        fc.integer(),
        fc.boolean(),
        fc.constantFrom(512, 4096, RECEIVE_BLOCK_SIZE),
        fc.boolean(),
        (length, seed, useReadInto, blockSize, releasing) => {
          const random = rng(seed)
          const data = bytes(length, seed)
          // Cover the stream with random segments, then add random extra ones.
          const segments: Array<[number, number]> = []
          for (let at = 0; at < length;) {
            const n = 1 + Math.floor(random() * 3000)
            segments.push([at, Math.min(length, at + n)])
            at += n
          }
          if (length === 0) segments.push([0, 0])
          const extra = Math.floor(random() * 10)
          for (let i = 0; i < extra && length > 0; i++) {
            const s = Math.floor(random() * length)
            segments.push([s, Math.min(length, s + 1 + Math.floor(random() * 5000))])
          }
          for (let i = segments.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1))
            ;[segments[i], segments[j]] = [segments[j]!, segments[i]!]
          }
          const buffer = new RecvBuffer(blockSize)
          const out: Array<Uint8Array> = []
          let readTotal = 0
          for (const [s, e] of segments) {
            insert(buffer, data, s, e, e === length && random() < 0.7)
            if (random() < 0.5) {
              if (useReadInto) {
                const into = new Uint8Array(Math.floor(random() * 5000))
                const n = buffer.readInto(into)
                out.push(into.slice(0, n))
                readTotal += n
              } else {
                const view = buffer.read(1 + Math.floor(random() * 5000))
                out.push(view)
                readTotal += view.length
              }
              if (releasing) buffer.release()
            }
          }
          // A FIN may not have been carried by any frame: send it alone.
          if (buffer.finalSize === undefined) insert(buffer, data, length, length, true)
          expect(buffer.complete).toBe(true)
          for (let view = buffer.read(4096); view.length > 0; view = buffer.read(4096)) {
            out.push(view)
            readTotal += view.length
          }
          expect(readTotal).toBe(length)
          expect(sameBytes(concat(out), data)).toBe(true)
          expect(buffer.finished).toBe(true)
        }
      ),
      { numRuns: 100 }
    )
  })
})
