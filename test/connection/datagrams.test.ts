import { FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { DatagramQueues } from "../../src/internal/connection/datagrams.js"

const bytes = (length: number, fill = length & 0xff): Uint8Array => new Uint8Array(length).fill(fill)

const drainOutgoing = (q: DatagramQueues): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let head = q.peekOutgoing(); head !== undefined; head = q.peekOutgoing()) {
    out.push(head)
    q.shiftOutgoing()
  }
  return out
}

describe("DatagramQueues: sending (RFC 9221 §5)", () => {
  it("starts empty with the whole capacity free", () => {
    const q = new DatagramQueues(1000)
    expect(q.sendBufferSpace).toBe(1000)
    expect(q.hasOutgoing).toBe(false)
    expect(q.peekOutgoing()).toBeUndefined()
    expect(q.shiftOutgoing()).toBe(false)
    expect(q.blocked).toBe(false)
  })

  it("queues datagrams first-in first-out, accounting their bytes", () => {
    const q = new DatagramQueues(1000)
    const a = bytes(100, 1)
    const b = bytes(200, 2)
    expect(q.push(a, false)).toBeUndefined()
    expect(q.push(b, false)).toBeUndefined()
    expect(q.sendBufferSpace).toBe(700)
    expect(q.hasOutgoing).toBe(true)
    expect(q.peekOutgoing()).toBe(a)
    expect(q.peekOutgoing()).toBe(a) // peeking does not consume
    expect(q.shiftOutgoing()).toBe(false)
    expect(q.sendBufferSpace).toBe(800)
    expect(q.peekOutgoing()).toBe(b)
    q.shiftOutgoing()
    expect(q.hasOutgoing).toBe(false)
    expect(q.sendBufferSpace).toBe(1000)
  })

  it("accepts a datagram that fills the queue exactly", () => {
    const q = new DatagramQueues(300)
    expect(q.push(bytes(100), false)).toBeUndefined()
    expect(q.push(bytes(200), false)).toBeUndefined()
    expect(q.sendBufferSpace).toBe(0)
  })

  it("answers DatagramBlocked with the payload when full and not dropping", () => {
    const q = new DatagramQueues(300)
    const first = bytes(200, 1)
    q.push(first, false)
    const rejected = bytes(101, 2)
    const error = q.push(rejected, false)
    expect(error).toEqual({ _tag: "DatagramBlocked", payload: rejected })
    expect(error?._tag === "DatagramBlocked" && error.payload).toBe(rejected)
    expect(q.blocked).toBe(true)
    expect(q.droppedOutgoing).toBe(0)
    // Nothing was queued or dropped.
    expect(drainOutgoing(q)).toEqual([first])
  })

  it("drops the oldest queued datagrams to make room when asked to", () => {
    const q = new DatagramQueues(300)
    const a = bytes(100, 1)
    const b = bytes(100, 2)
    const c = bytes(100, 3)
    const d = bytes(150, 4)
    q.push(a, true)
    q.push(b, true)
    q.push(c, true)
    expect(q.push(d, true)).toBeUndefined()
    expect(q.droppedOutgoing).toBe(2)
    expect(q.blocked).toBe(false)
    expect(q.sendBufferSpace).toBe(50)
    expect(drainOutgoing(q)).toEqual([c, d])
  })

  it("drops only as many as needed", () => {
    const q = new DatagramQueues(300)
    const a = bytes(100, 1)
    const b = bytes(100, 2)
    q.push(a, true)
    q.push(b, true)
    q.push(bytes(50, 3), true)
    q.push(bytes(100, 4), true)
    expect(q.droppedOutgoing).toBe(1)
    expect(drainOutgoing(q).map((d) => d[0])).toEqual([2, 3, 4])
  })

  it("reports the unblocking once, when room frees after a refusal", () => {
    const q = new DatagramQueues(200)
    q.push(bytes(100), false)
    q.push(bytes(100), false)
    expect(q.push(bytes(10), false)?._tag).toBe("DatagramBlocked")
    expect(q.push(bytes(10), false)?._tag).toBe("DatagramBlocked")
    expect(q.shiftOutgoing()).toBe(true)
    expect(q.blocked).toBe(false)
    expect(q.shiftOutgoing()).toBe(false)
    expect(q.shiftOutgoing()).toBe(false)
  })

  it("does not report unblocking when nobody was refused", () => {
    const q = new DatagramQueues(200)
    q.push(bytes(200), false)
    expect(q.shiftOutgoing()).toBe(false)
  })

  it("reports unblocking again after a second refusal", () => {
    const q = new DatagramQueues(100)
    q.push(bytes(100), false)
    expect(q.push(bytes(1), false)?._tag).toBe("DatagramBlocked")
    expect(q.shiftOutgoing()).toBe(true)
    q.push(bytes(100), false)
    expect(q.push(bytes(1), false)?._tag).toBe("DatagramBlocked")
    expect(q.shiftOutgoing()).toBe(true)
  })

  it("keeps the queued bytes within capacity under any mix of pushes and sends", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ size: fc.integer({ min: 1, max: 400 }), drop: fc.boolean() }), fc.constant("send" as const)), {
          maxLength: 100
        }),
        (ops) => {
          const capacity = 1000
          const q = new DatagramQueues(capacity)
          // The model: a FIFO of sizes.
          const model: Array<number> = []
          let dropped = 0
          let blocked = false
          let id = 0
          for (const op of ops) {
            if (op === "send") {
              const head = q.peekOutgoing()
              expect(head?.length).toBe(model[0])
              const unblocked = q.shiftOutgoing()
              model.shift()
              const used = model.reduce((a, b) => a + b, 0)
              expect(unblocked).toBe(blocked && used < capacity)
              if (unblocked) blocked = false
            } else {
              const used = model.reduce((a, b) => a + b, 0)
              const data = bytes(op.size, id++ & 0xff)
              const result = q.push(data, op.drop)
              if (used + op.size <= capacity) {
                expect(result).toBeUndefined()
                model.push(op.size)
              } else if (!op.drop) {
                expect(result).toEqual({ _tag: "DatagramBlocked", payload: data })
                blocked = true
              } else {
                expect(result).toBeUndefined()
                let total = used
                while (total + op.size > capacity) total -= model.shift()!, dropped++
                model.push(op.size)
              }
            }
            const used = model.reduce((a, b) => a + b, 0)
            expect(used).toBeLessThanOrEqual(capacity)
            expect(q.sendBufferSpace).toBe(capacity - used)
            expect(q.droppedOutgoing).toBe(dropped)
            expect(q.blocked).toBe(blocked)
            expect(q.hasOutgoing).toBe(model.length > 0)
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})
