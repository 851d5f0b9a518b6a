import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { SendBuffer, type StreamRange } from "../../src/internal/stream/sendBuffer.js"
import { bytes, rng, sameBytes } from "./helpers.js"

/** Reads a range's bytes the way the packetizer does. */
const take = (buffer: SendBuffer, range: StreamRange): Uint8Array => {
  const out = new Uint8Array(range.length + 4)
  buffer.copyInto(out, 2, range.offset, range.length)
  return out.subarray(2, 2 + range.length)
}

describe("SendBuffer", () => {
  it("sends new data in order, then the FIN", () => {
    const buffer = new SendBuffer()
    buffer.write(Uint8Array.of(1, 2, 3))
    buffer.write(Uint8Array.of(4, 5))
    buffer.finish()
    const a = buffer.nextRange(4)!
    expect(a).toEqual({ offset: 0, length: 4, fin: false })
    expect([...take(buffer, a)]).toEqual([1, 2, 3, 4])
    const b = buffer.nextRange(4)!
    expect(b).toEqual({ offset: 4, length: 1, fin: true })
    expect(buffer.nextRange(4)).toBeUndefined()
    expect(buffer.hasPending).toBe(false)
  })

  it("retransmits exactly the lost range before new data, and a lost FIN alone", () => {
    const buffer = new SendBuffer()
    buffer.write(bytes(100, 1))
    const first = buffer.nextRange(40)!
    const second = buffer.nextRange(40)!
    buffer.write(bytes(10, 2))
    buffer.finish()
    const third = buffer.nextRange(100)!
    expect(third).toEqual({ offset: 80, length: 30, fin: true })
    buffer.onAcked(first.offset, first.length, first.fin)
    buffer.onLost(second.offset, second.length, second.fin)
    buffer.onLost(third.offset, third.length, third.fin)
    // A late ACK for part of the lost data removes it from the retransmission.
    buffer.onAcked(50, 10, false)
    expect(buffer.nextRange(1000)).toEqual({ offset: 40, length: 10, fin: false })
    expect(buffer.nextRange(1000)).toEqual({ offset: 60, length: 50, fin: true })
    expect(buffer.nextRange(1000)).toBeUndefined()
  })

  it("sends a FIN-only frame when only the FIN is lost", () => {
    const buffer = new SendBuffer()
    buffer.write(bytes(10, 1))
    buffer.finish()
    const r = buffer.nextRange(100)!
    expect(r.fin).toBe(true)
    buffer.onAcked(0, 10, false)
    buffer.onLost(0, 10, true)
    expect(buffer.nextRange(100)).toEqual({ offset: 10, length: 0, fin: true })
    buffer.onAcked(10, 0, true)
    expect(buffer.allAcked).toBe(true)
  })

  it("keeps the caller's chunks without copying", () => {
    const buffer = new SendBuffer()
    const chunk = Uint8Array.of(1, 2, 3)
    buffer.write(chunk)
    chunk[0] = 9
    const r = buffer.nextRange(10)!
    expect([...take(buffer, r)]).toEqual([9, 2, 3])
  })

  it("releases chunks once the acknowledged prefix covers them", () => {
    const buffer = new SendBuffer()
    for (let i = 0; i < 200; i++) buffer.write(bytes(10, i))
    const ranges: Array<StreamRange> = []
    for (let r = buffer.nextRange(25); r !== undefined; r = buffer.nextRange(25)) ranges.push(r)
    const chunks = (buffer as unknown as { chunks: Array<Uint8Array> }).chunks
    // Acknowledge all but the first range: nothing can be released yet.
    for (const r of ranges.slice(1)) buffer.onAcked(r.offset, r.length, r.fin)
    expect(buffer.unacked).toBe(2000)
    expect(chunks.filter((c) => c.length > 0).length).toBe(200)
    buffer.onAcked(ranges[0]!.offset, ranges[0]!.length, false)
    expect(buffer.unacked).toBe(0)
    const live = (buffer as unknown as { chunks: Array<Uint8Array> }).chunks.filter((c) => c.length > 0)
    expect(live.length).toBe(0)
  })

  it("property: any schedule of sends, ACKs, losses and late ACKs retransmits exactly the lost bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 20 }),
        fc.integer(),
        (chunkLengths, seed) => {
          const random = rng(seed)
          const buffer = new SendBuffer()
          const total = chunkLengths.reduce((a, b) => a + b, 0)
          const data = bytes(total, seed)
          let at = 0
          for (const n of chunkLengths) {
            buffer.write(data.subarray(at, at + n))
            at += n
          }
          buffer.finish()
          // The model: per byte, acknowledged / owed a retransmission / sent at least once.
          const acked = new Uint8Array(total)
          const owed = new Uint8Array(total)
          const sent = new Uint8Array(total)
          let finSent = false
          let finOwed = false
          let finAcked = false
          const inFlight: Array<StreamRange> = []
          const lostRecords: Array<StreamRange> = []
          for (let step = 0; step < 10_000; step++) {
            const choice = random()
            if (choice < 0.45) {
              const r = buffer.nextRange(1 + Math.floor(random() * 120))
              if (r === undefined) {
                expect(owed.every((b) => b === 0)).toBe(true)
                expect(sent.every((b) => b === 1)).toBe(true)
                expect(finOwed || !finSent).toBe(false)
                if (inFlight.length === 0 && finAcked && acked.every((b) => b === 1)) break
                continue
              }
              expect(sameBytes(take(buffer, r), data.subarray(r.offset, r.offset + r.length))).toBe(true)
              for (let i = r.offset; i < r.offset + r.length; i++) {
                // Never more than the lost bytes: a byte goes out again only if owed.
                if (sent[i] === 1 && owed[i] === 0) throw new Error(`byte ${i} sent again though not lost`)
                sent[i] = 1
                owed[i] = 0
              }
              if (r.fin) {
                expect(r.offset + r.length).toBe(total)
                expect(!finSent || finOwed).toBe(true)
                finSent = true
                finOwed = false
              }
              inFlight.push(r)
            } else if (choice < 0.75 && inFlight.length > 0) {
              const [r] = inFlight.splice(Math.floor(random() * inFlight.length), 1)
              buffer.onAcked(r!.offset, r!.length, r!.fin)
              for (let i = r!.offset; i < r!.offset + r!.length; i++) (acked[i] = 1), (owed[i] = 0)
              if (r!.fin) (finAcked = true), (finOwed = false)
            } else if (choice < 0.95 && inFlight.length > 0) {
              const [r] = inFlight.splice(Math.floor(random() * inFlight.length), 1)
              buffer.onLost(r!.offset, r!.length, r!.fin)
              for (let i = r!.offset; i < r!.offset + r!.length; i++) if (acked[i] === 0) owed[i] = 1
              if (r!.fin && !finAcked) finOwed = true
              lostRecords.push(r!)
            } else if (lostRecords.length > 0) {
              // A late ACK for a packet already declared lost.
              const [r] = lostRecords.splice(Math.floor(random() * lostRecords.length), 1)
              buffer.onAcked(r!.offset, r!.length, r!.fin)
              for (let i = r!.offset; i < r!.offset + r!.length; i++) (acked[i] = 1), (owed[i] = 0)
              if (r!.fin) (finAcked = true), (finOwed = false)
            }
          }
          expect(acked.every((b) => b === 1)).toBe(true)
          expect(buffer.allAcked).toBe(true)
          expect(buffer.unacked).toBe(0)
        }
      ),
      { numRuns: 150 }
    )
  })
})

describe("SendBuffer.retransmitUnacked (RFC 9002 §6.2.4 probes)", () => {
  it("queues exactly the sent, unacknowledged bytes and the FIN again", () => {
    const buffer = new SendBuffer()
    buffer.write(new Uint8Array(100))
    buffer.finish()
    expect(buffer.nextRange(40)).toEqual({ offset: 0, length: 40, fin: false })
    expect(buffer.nextRange(100)).toEqual({ offset: 40, length: 60, fin: true })
    buffer.onAcked(10, 20, false)
    buffer.retransmitUnacked()
    expect(buffer.nextRange(1000)).toEqual({ offset: 0, length: 10, fin: false })
    expect(buffer.nextRange(1000)).toEqual({ offset: 30, length: 70, fin: true })
    expect(buffer.nextRange(1000)).toBeUndefined()
  })

  it("does nothing when everything sent was acknowledged", () => {
    const buffer = new SendBuffer()
    buffer.write(new Uint8Array(50))
    buffer.nextRange(50)
    buffer.onAcked(0, 50, false)
    buffer.retransmitUnacked()
    expect(buffer.hasPending).toBe(false)
  })
})
