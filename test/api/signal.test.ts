import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { describe, expect, it } from "vitest"
import { Gate, Outcome } from "../../src/internal/driver/signal.js"

/** The number of fibers waiting on a gate or an outcome (test-only view). */
const waiting = (signal: object): number =>
  ((signal as unknown as { waiters: Array<unknown> | undefined }).waiters ?? []).length

describe("driver gate", () => {
  it("passes at once while open, and holds every waiter until it opens", async () => {
    const gate = new Gate()
    const order = await Effect.runPromise(Effect.gen(function*() {
      const seen: Array<string> = []
      const a = yield* Effect.fork(Effect.tap(gate.await, () => Effect.sync(() => seen.push("a"))))
      const b = yield* Effect.fork(Effect.tap(gate.await, () => Effect.sync(() => seen.push("b"))))
      yield* Effect.yieldNow()
      expect(seen).toEqual([])
      expect(waiting(gate)).toBe(2)
      gate.open()
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      yield* gate.await
      return seen.sort()
    }))
    expect(order).toEqual(["a", "b"])
    expect(waiting(gate)).toBe(0)
  })

  it("holds new waiters again once closed", async () => {
    const gate = new Gate(true)
    const passed = await Effect.runPromise(Effect.gen(function*() {
      yield* gate.await
      gate.close()
      const waiter = yield* Effect.fork(gate.await)
      yield* Effect.yieldNow()
      const before = waiter.unsafePoll()
      gate.open()
      yield* Fiber.join(waiter)
      return before === null
    }))
    expect(passed).toBe(true)
    expect(gate.opened).toBe(true)
  })
})

describe("driver outcome", () => {
  it("gives every waiter the result, before and after it is set, and keeps the first", async () => {
    const outcome = new Outcome<number, string>()
    const results = await Effect.runPromise(Effect.gen(function*() {
      const early = yield* Effect.fork(outcome.await)
      yield* Effect.yieldNow()
      expect(outcome.isDone).toBe(false)
      expect(outcome.done(Exit.succeed(7))).toBe(true)
      expect(outcome.done(Exit.succeed(8))).toBe(false)
      return [yield* Fiber.join(early), yield* outcome.await]
    }))
    expect(results).toEqual([7, 7])
    expect(waiting(outcome)).toBe(0)
  })

  it("fails every waiter with the failure it was set to", async () => {
    const outcome = new Outcome<void, string>()
    const exit = await Effect.runPromiseExit(Effect.gen(function*() {
      const waiter = yield* Effect.fork(outcome.await)
      yield* Effect.yieldNow()
      outcome.done(Exit.fail("closed"))
      return yield* Fiber.join(waiter)
    }))
    const failure = (e: Exit.Exit<void, string>) => Exit.isFailure(e) ? Option.getOrUndefined(Cause.failureOption(e.cause)) : undefined
    expect(failure(exit)).toBe("closed")
    expect(failure(await Effect.runPromiseExit(outcome.await))).toBe("closed")
  })
})

describe.each([
  { name: "gate", make: () => new Gate() },
  { name: "outcome", make: () => new Outcome<number>() }
])("driver $name", ({ make }) => {
  it("an interrupted waiter leaves nothing behind", async () => {
    const signal = make()
    await Effect.runPromise(Effect.gen(function*() {
      const waiter = yield* Effect.fork(signal.await)
      yield* Effect.yieldNow()
      expect(waiting(signal)).toBe(1)
      yield* Fiber.interrupt(waiter)
    }))
    expect(waiting(signal)).toBe(0)
  })
})
