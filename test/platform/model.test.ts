import { describe, expect, it } from "vitest"
import { DeliveryQueue } from "../../src/internal/platform/deliveryQueue.js"
import { idealLink, makeLinkState, resolveLink, transmit } from "../../src/internal/platform/linkModel.js"
import { Prng } from "../../src/internal/platform/prng.js"

describe("Prng", () => {
  it("replays the same stream for the same seed, another for another seed", () => {
    const draw = (seed: number) => {
      const rng = new Prng(seed)
      return Array.from({ length: 20 }, () => rng.u32())
    }
    expect(draw(7)).toEqual(draw(7))
    expect(draw(7)).not.toEqual(draw(8))
  })

  it("stays in range and is roughly uniform", () => {
    const rng = new Prng(1)
    const buckets = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const f = rng.float()
      expect(f).toBeGreaterThanOrEqual(0)
      expect(f).toBeLessThan(1)
      buckets[Math.floor(f * 10)]!++
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500)
    for (let i = 0; i < 1000; i++) {
      const n = rng.int(6)
      expect(Number.isInteger(n) && n >= 0 && n < 6).toBe(true)
    }
  })

  it("draws nothing for certain outcomes", () => {
    const a = new Prng(3)
    const b = new Prng(3)
    expect(a.chance(0)).toBe(false)
    expect(a.chance(1)).toBe(true)
    expect(a.u32()).toBe(b.u32())
  })
})

describe("DeliveryQueue", () => {
  it("pops by time, ties first-in first-out, only when due", () => {
    const queue = new DeliveryQueue<string>()
    expect(queue.push(10, "a")).toBe(true)
    expect(queue.push(5, "b")).toBe(true)
    expect(queue.push(10, "c")).toBe(false)
    expect(queue.push(5, "d")).toBe(false)
    expect(queue.push(7, "e")).toBe(false)
    expect(queue.peekTime()).toBe(5)
    expect(queue.popDue(4)).toBeUndefined()
    const out: Array<string> = []
    for (let x = queue.popDue(10); x !== undefined; x = queue.popDue(10)) out.push(x)
    expect(out).toEqual(["b", "d", "e", "a", "c"])
    expect(queue.size).toBe(0)
  })

  it("keeps FIFO order among many equal times", () => {
    const queue = new DeliveryQueue<number>()
    const rng = new Prng(9)
    const items = Array.from({ length: 500 }, (_, i) => ({ at: rng.int(20), i }))
    for (const item of items) queue.push(item.at, item.i)
    const out: Array<number> = []
    for (let x = queue.popDue(100); x !== undefined; x = queue.popDue(100)) out.push(x)
    const expected = [...items].sort((x, y) => x.at - y.at || x.i - y.i).map((x) => x.i)
    expect(out).toEqual(expected)
  })
})

describe("link model", () => {
  it("fills defaults and clamps", () => {
    const link = resolveLink({ loss: 2, latency: -5, corrupt: Number.NaN })
    expect(link.loss).toBe(1)
    expect(link.latency).toBe(0)
    expect(link.corrupt).toBe(0)
    expect(link.mtu).toBe(Number.POSITIVE_INFINITY)
    expect(resolveLink({ jitter: 3 }, resolveLink({ latency: 10 })).latency).toBe(10)
  })

  it("a perfect link delivers at once, one copy, intact", () => {
    const verdict = transmit(idealLink, makeLinkState(), new Prng(1), 1000, 100)
    expect(verdict).toEqual({ _tag: "Transmit", copies: [{ at: 1000, duplicate: false, reordered: false, corruption: undefined }] })
  })

  it("serialises at the bottleneck rate and drops beyond its queue", () => {
    const link = resolveLink({ bandwidth: 1_000_000, queueBytes: 2500, latency: 100 })
    const state = makeLinkState()
    const rng = new Prng(1)
    const at = (size: number) => {
      const v = transmit(link, state, rng, 0, size)
      return v._tag === "Transmit" ? v.copies[0]!.at : v._tag
    }
    expect(at(1000)).toBe(1100)
    expect(at(1000)).toBe(2100)
    expect(at(1000)).toBe("QueueFull")
    expect(at(500)).toBe(2600)
  })
})
