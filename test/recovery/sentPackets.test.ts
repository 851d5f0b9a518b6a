import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { type SentPacket, SentPackets } from "../../src/internal/recovery/sentPackets.js"

const packet = (packetNumber: number): SentPacket<null> => ({
  packetNumber,
  timeSent: 0,
  size: 1,
  ackEliciting: true,
  inFlight: true,
  isPmtuProbe: false,
  payload: null
})

const op = fc.oneof(
  fc.record({ kind: fc.constant("push" as const), gap: fc.nat(3) }),
  fc.record({ kind: fc.constant("take" as const), which: fc.nat() }),
  fc.record({ kind: fc.constant("compact" as const) })
)

describe("SentPackets", () => {
  it("behaves as a sorted map of packet numbers across takes and compactions", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.nat(100), (ops, probe) => {
        const sent = new SentPackets<null>()
        const model: Array<number> = []
        let next = 0
        for (const o of ops) {
          if (o.kind === "push") {
            next += o.gap
            sent.push(packet(next))
            model.push(next)
            next++
          } else if (o.kind === "take" && model.length > 0) {
            const pn = model.splice(o.which % model.length, 1)[0]!
            const at = sent.lowerBound(pn)
            expect(sent.numberAt(at)).toBe(pn)
            expect(sent.take(at).packetNumber).toBe(pn)
          } else if (o.kind === "compact") {
            sent.compact()
          }
          expect(sent.size).toBe(model.length)
        }
        const held: Array<number> = []
        for (let at = sent.start; at < sent.end; at++) {
          const p = sent.at(at)
          if (p !== undefined) held.push(p.packetNumber)
        }
        expect(held).toEqual(model)
        // lowerBound lands on the first held packet at or above `probe`, past any holes.
        let at = sent.lowerBound(probe)
        while (at < sent.end && sent.at(at) === undefined) at++
        expect(at < sent.end ? sent.at(at)!.packetNumber : undefined).toBe(model.find((pn) => pn >= probe))
      })
    )
  })

  it("compacts once holes outnumber the packets", () => {
    const sent = new SentPackets<null>()
    for (let pn = 0; pn < 100; pn++) sent.push(packet(pn))
    for (let pn = 0; pn < 90; pn += 1) if (pn % 10 !== 0) sent.take(pn)
    sent.compact()
    // 19 held (0, 10, …, 80 and 90..99): dense again.
    expect(sent.size).toBe(19)
    expect(sent.end - sent.start).toBe(19)
    expect(sent.numberAt(sent.lowerBound(35))).toBe(40)
    sent.clear()
    expect(sent.size).toBe(0)
    expect(sent.end).toBe(0)
  })
})
