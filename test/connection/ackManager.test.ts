import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { AckManager } from "../../src/internal/connection/ackManager.js"

/** 25 ms, the RFC 9000 §18.2 default max_ack_delay, in µs. */
const MAX_ACK_DELAY = 25_000

/** The model: inclusive [largest, smallest] pairs, descending, of a set of packet numbers. */
const modelRanges = (received: Iterable<number>, maxRanges = Infinity): Array<number> => {
  const sorted = [...new Set(received)].sort((a, b) => b - a)
  const pairs: Array<[number, number]> = []
  for (const pn of sorted) {
    const last = pairs[pairs.length - 1]
    if (last !== undefined && last[1] === pn + 1) last[1] = pn
    else pairs.push([pn, pn])
  }
  return pairs.slice(0, maxRanges).flat()
}

/** Checks the §19.3.1 shape: pairs, descending, each largest >= smallest, gaps of at least one. */
const expectWellFormed = (ranges: ReadonlyArray<number>): void => {
  expect(ranges.length % 2).toBe(0)
  expect(ranges.length).toBeGreaterThan(0)
  for (let i = 0; i < ranges.length; i += 2) {
    expect(ranges[i]!).toBeGreaterThanOrEqual(ranges[i + 1]!)
    if (i + 2 < ranges.length) expect(ranges[i + 1]! - ranges[i + 2]!).toBeGreaterThanOrEqual(2)
  }
}

describe("AckManager: duplicate detection (RFC 9000 §12.3)", () => {
  it("knows nothing at first", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    expect(acks.largest).toBeUndefined()
    expect(acks.isDuplicate(0)).toBe(false)
    expect(acks.isDuplicate(1000)).toBe(false)
    expect(acks.canAck).toBe(false)
    expect(acks.wantsAck(0)).toBe(false)
    expect(acks.deadline).toBeUndefined()
  })

  it("reports exactly the packet numbers received as duplicates", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (const pn of [0, 1, 2, 5, 9, 7]) acks.onPacketReceived(pn, true, 0)
    for (let pn = 0; pn < 12; pn++) expect(acks.isDuplicate(pn)).toBe([0, 1, 2, 5, 7, 9].includes(pn))
  })

  it("treats non-ack-eliciting packets as received too", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(3, false, 0)
    expect(acks.isDuplicate(3)).toBe(true)
    expect(acks.isDuplicate(2)).toBe(false)
  })

  it("tracks the largest packet number processed, whatever the arrival order", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(4, true, 0)
    expect(acks.largest).toBe(4)
    acks.onPacketReceived(2, true, 0)
    expect(acks.largest).toBe(4)
    acks.onPacketReceived(10, false, 0)
    expect(acks.largest).toBe(10)
  })

  it("still treats pruned packet numbers as duplicates (§13.2.4 ranges are gone but must not be re-accepted)", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (const pn of [0, 1, 2, 4, 6, 7, 8]) acks.onPacketReceived(pn, true, 0)
    acks.onAckSent()
    acks.onAckAcknowledged(6)
    // Everything at or below 6 is now too old to tell, received or not (§13.2.3's minimum packet number).
    for (let pn = 0; pn <= 6; pn++) expect(acks.isDuplicate(pn)).toBe(true)
    expect(acks.isDuplicate(7)).toBe(true)
    expect(acks.isDuplicate(8)).toBe(true)
    expect(acks.isDuplicate(9)).toBe(false)
  })

  it("matches a set model under any arrival order and any pruning", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("recv" as const), pn: fc.nat(300), eliciting: fc.boolean() }),
            fc.record({ kind: fc.constant("prune" as const), pn: fc.nat(300), eliciting: fc.constant(false) })
          ),
          { maxLength: 80 }
        ),
        (ops) => {
          const acks = new AckManager(false, MAX_ACK_DELAY, 1000)
          const received = new Set<number>()
          let floor = 0
          for (const op of ops) {
            if (op.kind === "recv") {
              if (op.pn < floor || received.has(op.pn)) {
                expect(acks.isDuplicate(op.pn)).toBe(true)
                continue
              }
              expect(acks.isDuplicate(op.pn)).toBe(false)
              acks.onPacketReceived(op.pn, op.eliciting, 0)
              received.add(op.pn)
            } else {
              acks.onAckAcknowledged(op.pn)
              floor = Math.max(floor, op.pn + 1)
            }
          }
          const actual = Array.from({ length: 302 }, (_, pn) => acks.isDuplicate(pn))
          const expected = Array.from({ length: 302 }, (_, pn) => pn < floor || received.has(pn))
          expect(actual).toEqual(expected)
        }
      ),
      { numRuns: 200 }
    )
  })
})

describe("AckManager: when to send an ACK (RFC 9000 §13.2.1, §13.2.2)", () => {
  it("delays a single in-order ack-eliciting packet by max_ack_delay", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 1_000)
    expect(acks.canAck).toBe(true)
    expect(acks.deadline).toBe(1_000 + MAX_ACK_DELAY)
    expect(acks.wantsAck(1_000)).toBe(false)
    expect(acks.wantsAck(1_000 + MAX_ACK_DELAY - 1)).toBe(false)
    expect(acks.wantsAck(1_000 + MAX_ACK_DELAY)).toBe(true)
    expect(acks.wantsAck(1_000 + MAX_ACK_DELAY + 5_000)).toBe(true)
  })

  it("keeps the deadline of the first unacknowledged ack-eliciting packet (a later non-eliciting one does not move it)", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 1_000)
    acks.onPacketReceived(1, false, 9_000)
    expect(acks.deadline).toBe(1_000 + MAX_ACK_DELAY)
    expect(acks.wantsAck(1_000 + MAX_ACK_DELAY)).toBe(true)
  })

  it("acknowledges every second ack-eliciting packet at once", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    expect(acks.wantsAck(0)).toBe(false)
    acks.onPacketReceived(1, true, 10)
    expect(acks.wantsAck(10)).toBe(true)
    // Immediate: no delayed-ACK deadline is reported to the timer.
    expect(acks.deadline).toBeUndefined()
    acks.onAckSent()
    expect(acks.wantsAck(10)).toBe(false)
    expect(acks.canAck).toBe(false)
    // The count restarts after an ACK is sent.
    acks.onPacketReceived(2, true, 20)
    expect(acks.wantsAck(20)).toBe(false)
    expect(acks.deadline).toBe(20 + MAX_ACK_DELAY)
    acks.onPacketReceived(3, true, 30)
    expect(acks.wantsAck(30)).toBe(true)
  })

  it("counts only ack-eliciting packets toward the second-packet rule", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    acks.onPacketReceived(1, false, 1)
    acks.onPacketReceived(2, false, 2)
    expect(acks.wantsAck(2)).toBe(false)
    acks.onPacketReceived(3, true, 3)
    expect(acks.wantsAck(3)).toBe(true)
  })

  it("acknowledges at once an ack-eliciting packet below the largest received (reordering)", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(5, true, 0)
    acks.onAckSent()
    acks.onPacketReceived(3, true, 100)
    expect(acks.wantsAck(100)).toBe(true)
    expect(acks.deadline).toBeUndefined()
  })

  it("acknowledges at once an ack-eliciting packet after a gap (a missing packet)", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    acks.onAckSent()
    acks.onPacketReceived(2, true, 100)
    expect(acks.wantsAck(100)).toBe(true)
  })

  it("does not treat the very first packet as out of order, whatever its number", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(7, true, 0)
    expect(acks.wantsAck(0)).toBe(false)
    expect(acks.deadline).toBe(MAX_ACK_DELAY)
  })

  it("never asks for an ACK because of non-ack-eliciting packets alone, even out of order", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, false, 0)
    acks.onPacketReceived(5, false, 1)
    acks.onPacketReceived(2, false, 2)
    acks.onPacketReceived(3, false, 3)
    expect(acks.canAck).toBe(true)
    expect(acks.wantsAck(10 ** 12)).toBe(false)
    expect(acks.deadline).toBeUndefined()
  })

  it("reports non-ack-eliciting packets in the next ACK that is sent", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, false, 0)
    acks.onPacketReceived(1, false, 0)
    // Piggybacking on a packet sent anyway is possible.
    expect(acks.canAck).toBe(true)
    acks.onPacketReceived(2, true, 0)
    acks.onPacketReceived(3, true, 0)
    expect(acks.wantsAck(0)).toBe(true)
    expect(acks.buildAck(0, 3).ranges).toEqual([3, 0])
  })

  it("does not ask again after an ACK went out until something new arrives", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    acks.onPacketReceived(1, true, 0)
    acks.onAckSent()
    expect(acks.canAck).toBe(false)
    expect(acks.wantsAck(10 ** 9)).toBe(false)
    expect(acks.deadline).toBeUndefined()
    // A non-ack-eliciting packet makes an ACK possible but not wanted.
    acks.onPacketReceived(2, false, 5)
    expect(acks.canAck).toBe(true)
    expect(acks.wantsAck(10 ** 9)).toBe(false)
  })

  it("clears the delayed-ACK deadline when an ACK is piggybacked before it", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    expect(acks.deadline).toBe(MAX_ACK_DELAY)
    acks.onAckSent()
    expect(acks.deadline).toBeUndefined()
    expect(acks.wantsAck(MAX_ACK_DELAY)).toBe(false)
    acks.onPacketReceived(1, true, 100_000)
    expect(acks.deadline).toBe(100_000 + MAX_ACK_DELAY)
  })

  it("acknowledges every ack-eliciting Initial/Handshake packet at once", () => {
    const acks = new AckManager(true, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    expect(acks.wantsAck(0)).toBe(true)
    expect(acks.deadline).toBeUndefined()
    acks.onAckSent()
    acks.onPacketReceived(1, true, 1)
    expect(acks.wantsAck(1)).toBe(true)
  })

  it("does not acknowledge non-ack-eliciting Initial/Handshake packets on their own", () => {
    const acks = new AckManager(true, MAX_ACK_DELAY)
    acks.onPacketReceived(0, false, 0)
    expect(acks.canAck).toBe(true)
    expect(acks.wantsAck(10 ** 9)).toBe(false)
  })
})

describe("AckManager: the ACK frame (RFC 9000 §19.3)", () => {
  it("reports a contiguous run as one range", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (let pn = 0; pn < 10; pn++) acks.onPacketReceived(pn, true, 0)
    const ack = acks.buildAck(0, 3)
    expect(ack._tag).toBe("Ack")
    expect(ack.ranges).toEqual([9, 0])
    expect(ack.ecn).toBeUndefined()
  })

  it("reports gaps as separate [largest, smallest] pairs, largest first", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (const pn of [12, 0, 1, 2, 5, 7, 8, 9, 11]) acks.onPacketReceived(pn, true, 0)
    expect(acks.buildAck(0, 3).ranges).toEqual([12, 11, 9, 7, 5, 5, 2, 0])
  })

  it("merges a range when the missing packet arrives", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (const pn of [0, 1, 3, 4]) acks.onPacketReceived(pn, true, 0)
    expect(acks.buildAck(0, 3).ranges).toEqual([4, 3, 1, 0])
    acks.onPacketReceived(2, true, 0)
    expect(acks.buildAck(0, 3).ranges).toEqual([4, 0])
  })

  it("matches a model for any set of received packet numbers", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(500), { minLength: 1, maxLength: 150 }), (pns) => {
        const acks = new AckManager(false, MAX_ACK_DELAY, 1000)
        for (const pn of pns) acks.onPacketReceived(pn, pn % 3 !== 0, 0)
        const ranges = acks.buildAck(0, 3).ranges
        expect(ranges).toEqual(modelRanges(pns))
        expectWellFormed(ranges)
        expect(ranges[0]).toBe(Math.max(...pns))
        expect(acks.largest).toBe(Math.max(...pns))
      }),
      { numRuns: 300 }
    )
  })

  it("keeps only the highest maxRanges ranges (§13.2.3: the bound on remembered ranges)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(400), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 8 }), (pns, maxRanges) => {
        const acks = new AckManager(false, MAX_ACK_DELAY, maxRanges)
        for (const pn of pns) acks.onPacketReceived(pn, true, 0)
        const ranges = acks.buildAck(0, 3).ranges
        expect(ranges.length).toBeLessThanOrEqual(2 * maxRanges)
        expectWellFormed(ranges)
        // Insertion order matters for what was dropped, but the largest is always reported.
        expect(ranges[0]).toBe(Math.max(...pns))
      }),
      { numRuns: 300 }
    )
  })

  it("drops the oldest ranges once more than maxRanges are held (in-order arrival)", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY, 3)
    // Every other packet: 0, 2, 4, … 18 → 10 single-packet ranges.
    for (let pn = 0; pn < 20; pn += 2) acks.onPacketReceived(pn, true, 0)
    expect(acks.buildAck(0, 3).ranges).toEqual([18, 18, 16, 16, 14, 14])
    expect(acks.largest).toBe(18)
  })

  it("defaults to 64 remembered ranges", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (let pn = 0; pn < 400; pn += 2) acks.onPacketReceived(pn, true, 0)
    const ranges = acks.buildAck(0, 3).ranges
    expect(ranges.length).toBe(128)
    expect(ranges).toEqual(modelRanges(Array.from({ length: 200 }, (_, i) => 2 * i), 64))
  })

  it("scales the ACK Delay by 2^ack_delay_exponent, measured from the largest packet's arrival", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 1_000)
    acks.onPacketReceived(5, true, 2_000)
    acks.onPacketReceived(3, true, 3_000) // not the largest: does not move the reference time
    expect(acks.buildAck(2_000, 3).delay).toBe(0)
    expect(acks.buildAck(2_000 + 8 * 5 + 7, 3).delay).toBe(5)
    expect(acks.buildAck(2_000 + 8 * 5 + 8, 3).delay).toBe(6)
    expect(acks.buildAck(2_000 + 12_345, 0).delay).toBe(12_345)
    expect(acks.buildAck(2_000 + 12_345, 10).delay).toBe(Math.floor(12_345 / 1024))
    expect(acks.buildAck(2_000 + 1_000_000, 20).delay).toBe(0)
    expect(acks.buildAck(2_000 + 2 ** 20, 20).delay).toBe(1)
  })

  it("reports 0 ACK Delay when the exponent is undefined (Initial and Handshake, RFC 9002 §5.3)", () => {
    const acks = new AckManager(true, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 0)
    expect(acks.buildAck(1_000_000, undefined).delay).toBe(0)
  })

  it("never reports a negative ACK Delay", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    acks.onPacketReceived(0, true, 5_000)
    expect(acks.buildAck(4_000, 3).delay).toBe(0)
  })

  it("measures the delay from the newest largest packet", () => {
    fc.assert(
      fc.property(fc.nat(10_000_000), fc.nat(10_000_000), fc.integer({ min: 0, max: 20 }), (received, elapsed, exponent) => {
        const acks = new AckManager(false, MAX_ACK_DELAY)
        acks.onPacketReceived(0, true, received)
        expect(acks.buildAck(received + elapsed, exponent).delay).toBe(Math.floor(elapsed / 2 ** exponent))
      })
    )
  })
})

describe("AckManager: ACK of ACK pruning (RFC 9000 §13.2.4)", () => {
  it("stops reporting packets at or below the acknowledged ACK's Largest Acknowledged", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (const pn of [0, 1, 2, 4, 5, 8]) acks.onPacketReceived(pn, true, 0)
    acks.onAckSent()
    acks.onAckAcknowledged(4)
    acks.onPacketReceived(9, true, 0)
    expect(acks.buildAck(0, 3).ranges).toEqual([9, 8, 5, 5])
  })

  it("leaves nothing to acknowledge when everything was covered", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (const pn of [0, 1, 2]) acks.onPacketReceived(pn, true, 0)
    acks.onAckAcknowledged(2)
    expect(acks.canAck).toBe(false)
    expect(acks.wantsAck(10 ** 9)).toBe(false)
    expect(acks.deadline).toBeUndefined()
    expect(acks.largest).toBe(2)
  })

  it("ignores an ACK-of-ACK older than one already processed", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (let pn = 0; pn < 10; pn++) acks.onPacketReceived(pn, true, 0)
    acks.onAckAcknowledged(6)
    acks.onAckAcknowledged(3)
    expect(acks.buildAck(0, 3).ranges).toEqual([9, 7])
    expect(acks.isDuplicate(5)).toBe(true)
  })

  it("keeps the pruned range's upper part when pruning lands inside a range", () => {
    const acks = new AckManager(false, MAX_ACK_DELAY)
    for (let pn = 10; pn < 20; pn++) acks.onPacketReceived(pn, true, 0)
    acks.onAckAcknowledged(14)
    expect(acks.buildAck(0, 3).ranges).toEqual([19, 15])
  })

  it("matches a model under interleaved receipt and pruning", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.nat(200).map((pn) => ({ pn, prune: false })), fc.nat(200).map((pn) => ({ pn, prune: true }))), {
          maxLength: 100
        }),
        (ops) => {
          const acks = new AckManager(false, MAX_ACK_DELAY, 1000)
          const model = new Set<number>()
          let floor = 0
          for (const { pn, prune } of ops) {
            if (prune) {
              acks.onAckAcknowledged(pn)
              floor = Math.max(floor, pn + 1)
              for (const v of [...model]) if (v < floor) model.delete(v)
            } else if (!acks.isDuplicate(pn)) {
              acks.onPacketReceived(pn, true, 0)
              model.add(pn)
            }
          }
          if (model.size === 0) expect(acks.canAck).toBe(false)
          else expect(acks.buildAck(0, 3).ranges).toEqual(modelRanges(model))
        }
      ),
      { numRuns: 300 }
    )
  })
})
