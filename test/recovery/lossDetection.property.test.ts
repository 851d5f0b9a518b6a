import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { isTransportError } from "../../src/internal/errors.js"
import { makeCongestionController } from "../../src/internal/recovery/congestion/factory.js"
import { LossDetection, type PacketNumberSpace, type RecoveryEvents } from "../../src/internal/recovery/lossDetection.js"
import type { SentPacket } from "../../src/internal/recovery/sentPackets.js"

const spaceNames: ReadonlyArray<PacketNumberSpace> = ["initial", "handshake", "application"]

const op = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("send" as const),
      space: fc.integer({ min: 0, max: 2 }),
      size: fc.integer({ min: 1, max: 1500 }),
      flavor: fc.constantFrom("ackEliciting" as const, "ackOnly" as const, "paddingOnly" as const, "probe" as const),
      skip: fc.boolean()
    }),
    weight: 6
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("ack" as const),
      space: fc.integer({ min: 0, max: 2 }),
      pick: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
      ackDelay: fc.nat(50_000)
    }),
    weight: 4
  },
  { arbitrary: fc.record({ kind: fc.constant("advance" as const), by: fc.nat(400_000) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("timeout" as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("optimistic" as const), space: fc.integer({ min: 0, max: 2 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("discard" as const), space: fc.integer({ min: 0, max: 1 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("confirm" as const) }), weight: 1 }
)

interface Model {
  readonly sent: Array<number>
  readonly skipped: Array<number>
  readonly outstanding: Map<number, SentPacket<number>>
  next: number
  discarded: boolean
}

/** Descending [largest, smallest] pairs over the chosen packet numbers, runs split at gaps. */
const rangesOf = (chosen: ReadonlyArray<number>): Array<number> => {
  const ranges: Array<number> = []
  for (let i = chosen.length - 1; i >= 0; i--) {
    const pn = chosen[i]!
    const last = ranges.length - 1
    if (last > 0 && ranges[last] === pn + 1) ranges[last] = pn
    else ranges.push(pn, pn)
  }
  return ranges
}

describe("LossDetection properties", () => {
  it("keeps bytesInFlight equal to the in-flight packets neither acknowledged, lost nor discarded", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.array(op, { maxLength: 150 }), (isServer, cubic, ops) => {
        const ld = new LossDetection<number>({
          congestion: makeCongestionController(cubic ? "cubic" : "newreno", 1200),
          isServer
        })
        const models: Array<Model> = spaceNames.map(() => ({
          sent: [],
          skipped: [],
          outstanding: new Map(),
          next: 0,
          discarded: false
        }))
        let now = 0
        const settle = (events: RecoveryEvents<number>): void => {
          const model = models[spaceNames.indexOf(events.space)]!
          for (const list of [events.acked, events.lost, events.lostPmtuProbes]) {
            for (const p of list) {
              // Each packet's fate is reported once, in its own space.
              expect(model.outstanding.get(p.packetNumber)).toBe(p)
              model.outstanding.delete(p.packetNumber)
            }
          }
        }
        for (const o of ops) {
          switch (o.kind) {
            case "send": {
              const model = models[o.space]!
              if (model.discarded) break
              if (o.skip) model.skipped.push(model.next++)
              const pn = model.next++
              const packet: SentPacket<number> = {
                packetNumber: pn,
                timeSent: now,
                size: o.size,
                ackEliciting: o.flavor === "ackEliciting" || o.flavor === "probe",
                inFlight: o.flavor !== "ackOnly",
                isPmtuProbe: o.flavor === "probe",
                payload: pn
              }
              ld.onPacketSent(spaceNames[o.space]!, packet)
              model.sent.push(pn)
              model.outstanding.set(pn, packet)
              break
            }
            case "ack": {
              const model = models[o.space]!
              if (model.discarded || model.sent.length === 0) break
              const chosen = model.sent.filter((_, i) => o.pick[i % o.pick.length])
              if (chosen.length === 0) break
              const result = ld.onAckReceived(spaceNames[o.space]!, rangesOf(chosen), o.ackDelay, now, false)
              if (isTransportError(result)) throw new Error(result.reason)
              expect(result.space).toBe(spaceNames[o.space])
              settle(result)
              break
            }
            case "advance":
              now += o.by
              break
            case "timeout": {
              const deadline = ld.timerDeadline()
              if (deadline === undefined) break
              if (deadline > now) now = deadline
              settle(ld.onTimeout(now))
              break
            }
            case "optimistic": {
              const model = models[o.space]!
              if (model.discarded) break
              const before = ld.bytesInFlight
              const bogus = model.skipped.length > 0 ? model.skipped[model.skipped.length - 1]! : model.next
              const result = ld.onAckReceived(spaceNames[o.space]!, [bogus, bogus], 0, now, false)
              expect(isTransportError(result)).toBe(true)
              expect(ld.bytesInFlight).toBe(before)
              break
            }
            case "discard": {
              const model = models[o.space]!
              ld.discardSpace(o.space === 0 ? "initial" : "handshake", now)
              model.outstanding.clear()
              model.discarded = true
              break
            }
            case "confirm":
              ld.onHandshakeConfirmed(now)
              break
          }
          let expected = 0
          for (const model of models) {
            for (const p of model.outstanding.values()) if (p.inFlight) expected += p.size
          }
          expect(ld.bytesInFlight).toBe(expected)
          expect(ld.bytesInFlight).toBeGreaterThanOrEqual(0)
          const deadline = ld.timerDeadline()
          if (deadline !== undefined) expect(Number.isSafeInteger(deadline)).toBe(true)
          expect(ld.congestion.window).toBeGreaterThanOrEqual(2400)
        }
      }),
      { numRuns: 300 }
    )
  })
})
