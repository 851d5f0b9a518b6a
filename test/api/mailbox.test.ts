import { Effect, Fiber, Option } from "effect"
import { describe, expect, it } from "vitest"
import { ConnectionSignals, Mailbox, takeFromMailbox } from "../../src/internal/driver/driver.js"

describe("driver mailbox", () => {
  it("hands items out in order, each to one taker, and waits when empty", async () => {
    const box = new Mailbox<number>()
    box.offer(1)
    box.offer(2)
    expect(await Effect.runPromise(box.take)).toBe(1)
    expect(await Effect.runPromise(box.take)).toBe(2)
    const result = await Effect.runPromise(Effect.gen(function*() {
      const a = yield* Effect.fork(box.take)
      const b = yield* Effect.fork(box.take)
      yield* Effect.yieldNow()
      box.offer(3)
      box.offer(4)
      return [yield* Fiber.join(a), yield* Fiber.join(b)].sort()
    }))
    expect(result).toEqual([3, 4])
    expect(box.size).toBe(0)
  })

  it("drops the oldest item when a bounded mailbox is full", async () => {
    const box = new Mailbox<number>(2)
    for (let i = 0; i < 5; i++) box.offer(i)
    expect(box.size).toBe(2)
    expect(await Effect.runPromise(box.take)).toBe(3)
    expect(await Effect.runPromise(box.take)).toBe(4)
  })

  it("an interrupted taker takes nothing", async () => {
    const box = new Mailbox<number>()
    const value = await Effect.runPromise(Effect.gen(function*() {
      const waiting = yield* Effect.fork(box.take)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiting)
      box.offer(7)
      return yield* box.take
    }))
    expect(value).toBe(7)
  })

  it("keeps the end marker for every later taker", async () => {
    const signals = new ConnectionSignals(1, 4)
    signals.incomingBidi.offer(5)
    signals.closeReason = { _tag: "EndpointClosed" }
    signals.endQueues()
    const taken = await Effect.runPromise(Effect.all([
      takeFromMailbox(signals.incomingBidi),
      takeFromMailbox(signals.incomingBidi),
      takeFromMailbox(signals.incomingBidi)
    ]))
    expect(taken).toEqual([Option.some(5), Option.none(), Option.none()])
    // A queue made after the close starts ended.
    expect(await Effect.runPromise(takeFromMailbox(signals.datagrams))).toEqual(Option.none())
  })
})
