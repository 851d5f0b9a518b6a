import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { RangeSet } from "../../src/internal/util/rangeSet.js"

/** The reference model: a plain set of integers. */
const toRanges = (values: Set<number>): Array<readonly [number, number]> => {
  const sorted = [...values].sort((a, b) => a - b)
  const out: Array<[number, number]> = []
  for (const v of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === v) last[1] = v + 1
    else out.push([v, v + 1])
  }
  return out
}

const op = fc.oneof(
  fc.tuple(fc.constant("insert" as const), fc.nat(200), fc.nat(20)),
  fc.tuple(fc.constant("remove" as const), fc.nat(200), fc.nat(20)),
  fc.tuple(fc.constant("removeBelow" as const), fc.nat(200), fc.constant(0))
)

describe("RangeSet", () => {
  it("matches a set of integers under any sequence of operations", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const set = new RangeSet()
        const model = new Set<number>()
        for (const [kind, start, length] of ops) {
          if (kind === "insert") {
            let added = 0
            for (let v = start; v < start + length; v++) if (!model.has(v)) (model.add(v), added++)
            expect(set.insert(start, start + length)).toBe(added)
          } else if (kind === "remove") {
            for (let v = start; v < start + length; v++) model.delete(v)
            set.remove(start, start + length)
          } else {
            for (const v of [...model]) if (v < start) model.delete(v)
            set.removeBelow(start)
          }
          expect(set.toArray()).toEqual(toRanges(model))
        }
        for (let v = 0; v < 230; v++) expect(set.has(v)).toBe(model.has(v))
        const sorted = [...model].sort((a, b) => a - b)
        expect(set.min).toBe(sorted[0])
        expect(set.max).toBe(sorted.length === 0 ? undefined : sorted[sorted.length - 1]! + 1)
      })
    )
  })

  it("answers covers() for ranges inside and across gaps", () => {
    const set = new RangeSet()
    set.insert(0, 10)
    set.insert(20, 30)
    expect(set.covers(2, 8)).toBe(true)
    expect(set.covers(0, 10)).toBe(true)
    expect(set.covers(5, 25)).toBe(false)
    expect(set.covers(10, 11)).toBe(false)
    expect(set.covers(7, 7)).toBe(true)
  })

  it("keeps only the highest ranges", () => {
    const set = new RangeSet()
    for (let i = 0; i < 10; i++) set.insert(i * 10, i * 10 + 5)
    set.keepHighest(3)
    expect(set.toArray()).toEqual([
      [70, 75],
      [80, 85],
      [90, 95]
    ])
  })
})
