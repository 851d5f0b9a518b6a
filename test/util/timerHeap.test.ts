import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { TimerHeap } from "../../src/internal/util/timerHeap.js"

describe("TimerHeap", () => {
  it("pops deadlines in ascending order, whatever the pushes and pops", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 1000 }) }), fc.constant({ pop: true as const })), { maxLength: 300 }),
        (operations) => {
          const heap = new TimerHeap()
          const model: Array<number> = []
          operations.forEach((op, i) => {
            if ("push" in op) {
              heap.push(op.push, i)
              model.push(op.push)
              model.sort((a, b) => a - b)
            } else {
              expect(heap.peekAt()).toBe(model[0])
              heap.pop()
              model.shift()
            }
            expect(heap.size).toBe(model.length)
          })
          const drained: Array<number> = []
          while (heap.peekAt() !== undefined) {
            drained.push(heap.peekAt()!)
            heap.pop()
          }
          expect(drained).toEqual(model)
        }
      )
    )
  })

  it("keeps each deadline with its handle", () => {
    const heap = new TimerHeap()
    heap.push(30, 3)
    heap.push(10, 1)
    heap.push(20, 2)
    const seen: Array<[number, number]> = []
    while (heap.peekAt() !== undefined) {
      seen.push([heap.peekAt()!, heap.peekHandle()!])
      heap.pop()
    }
    expect(seen).toEqual([[10, 1], [20, 2], [30, 3]])
  })
})
