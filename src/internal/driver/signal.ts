import { Effect, type Exit } from "effect"

/**
 * The driver's wake-up primitives, one per connection and stream event.
 *
 * Effect's `Deferred.unsafeMake` spreads Effect's prototype into every
 * instance and `Effect.unsafeMakeLatch` builds an `Effectable` class: about
 * 6 and 2.5 µs each, which a connection paid six times and every stream four
 * times. These keep only a flag or a result and the waiting fibers' resume
 * callbacks; a fiber waits through `Effect.async`, and an interrupted one
 * takes its callback out of the list.
 */

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

const waitOn = <A, E>(waiters: Array<Resume<A, E>>, resume: Resume<A, E>): Effect.Effect<void> => {
  waiters.push(resume)
  return Effect.sync(() => {
    const index = waiters.indexOf(resume)
    if (index >= 0) waiters.splice(index, 1)
  })
}

/**
 * A gate fibers wait at until it opens (Effect's Latch, reduced to what the
 * driver uses). Every waiter loops back to re-check its own condition, so a
 * gate opened and closed again before a waiter runs costs one extra look.
 */
export class Gate {
  private waiters: Array<Resume<void, never>> = []

  constructor(private isOpen = false) {}

  get opened(): boolean {
    return this.isOpen
  }

  /** Opens the gate and wakes every waiter (each resumes on its own fiber, later). */
  open(): void {
    this.isOpen = true
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    for (const resume of waiters) resume(Effect.void)
  }

  close(): void {
    this.isOpen = false
  }

  private waiting: Effect.Effect<void> | undefined

  /** Completes once the gate is open (one Effect per gate, made at first use). */
  get await(): Effect.Effect<void> {
    return (this.waiting ??= Effect.async<void>((resume) => {
      if (this.isOpen) return resume(Effect.void)
      return waitOn(this.waiters, resume)
    }))
  }
}

/** A result set once, which fibers can wait for (Effect's Deferred, reduced to what the driver uses). */
export class Outcome<A, E = never> {
  private result: Exit.Exit<A, E> | undefined
  private waiters: Array<Resume<A, E>> | undefined

  get isDone(): boolean {
    return this.result !== undefined
  }

  /** Sets the result and wakes every waiter; false (and nothing changes) when it was already set. */
  done(result: Exit.Exit<A, E>): boolean {
    if (this.result !== undefined) return false
    this.result = result
    const waiters = this.waiters
    this.waiters = undefined
    if (waiters !== undefined) for (const resume of waiters) resume(result)
    return true
  }

  private waiting: Effect.Effect<A, E> | undefined

  /** The result, once set (one Effect per outcome, made at first use). */
  get await(): Effect.Effect<A, E> {
    return (this.waiting ??= Effect.async<A, E>((resume) => {
      if (this.result !== undefined) return resume(this.result)
      return waitOn((this.waiters ??= []), resume)
    }))
  }
}
