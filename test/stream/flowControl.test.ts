import { describe, expect, it } from "vitest"
import { creditFromWire, ReceiveWindow, SendCredit } from "../../src/internal/stream/flowControl.js"

describe("SendCredit", () => {
  it("reports being blocked once per limit value", () => {
    const credit = new SendCredit(100)
    credit.consume(100)
    credit.noteBlocked()
    expect(credit.blockedPending).toBe(true)
    expect(credit.takeBlocked()).toBe(100)
    credit.noteBlocked()
    expect(credit.blockedPending).toBe(false)
    // Lost while still blocked at 100: sent again.
    credit.onBlockedLost(100)
    expect(credit.blockedPending).toBe(true)
    credit.takeBlocked()
    // A higher limit, used up: blocked again, once.
    expect(credit.raise(150)).toBe(true)
    credit.consume(50)
    credit.noteBlocked()
    expect(credit.takeBlocked()).toBe(150)
    // The old report is stale once the limit rose.
    credit.raise(200)
    credit.onBlockedLost(150)
    expect(credit.blockedPending).toBe(false)
  })

  it("ignores limits that do not increase (RFC 9000 §4.1)", () => {
    const credit = new SendCredit(100)
    expect(credit.raise(50)).toBe(false)
    expect(credit.raise(100)).toBe(false)
    expect(credit.max).toBe(100)
  })

  it("clamps a wire limit beyond 2^53-1", () => {
    expect(creditFromWire((1n << 62n) - 1n)).toBe(Number.MAX_SAFE_INTEGER)
    expect(creditFromWire(1000n)).toBe(1000)
  })
})

describe("ReceiveWindow", () => {
  it("updates once half the window is consumed", () => {
    const window = new ReceiveWindow({ initial: 1000, maximum: 1000 })
    expect(window.allows(1000)).toBe(true)
    expect(window.allows(1001)).toBe(false)
    window.consume(499)
    expect(window.wantsUpdate).toBe(false)
    window.consume(1)
    expect(window.wantsUpdate).toBe(true)
    expect(window.update(0, 0)).toBe(1500)
    window.onUpdateSent()
    expect(window.wantsUpdate).toBe(false)
  })

  it("resends a lost update only while it is the latest", () => {
    const window = new ReceiveWindow({ initial: 1000, maximum: 1000 })
    window.consume(600)
    const first = window.update(0, 0)
    window.onUpdateSent()
    window.consume(600)
    const second = window.update(0, 0)
    window.onUpdateSent()
    expect(second).toBeGreaterThan(first)
    window.onUpdateLost(first)
    expect(window.wantsUpdate).toBe(false)
    window.onUpdateLost(second)
    expect(window.wantsUpdate).toBe(true)
    expect(window.update(0, 0)).toBe(second)
  })

  it("auto-tuning: doubles up to the maximum while consumption outpaces two RTTs per half window", () => {
    const rtt = 50_000
    const window = new ReceiveWindow({ initial: 1000, maximum: 16_000 })
    let now = 0
    const sizes: Array<number> = []
    for (let i = 0; i < 10; i++) {
      window.consume(window.max - window.consumed)
      window.update(now, rtt)
      window.onUpdateSent()
      sizes.push(window.window)
      now += rtt / 2
    }
    // The first update only starts the measurement.
    expect(sizes).toEqual([1000, 2000, 4000, 8000, 16_000, 16_000, 16_000, 16_000, 16_000, 16_000])
  })

  it("auto-tuning: slow consumption leaves the window alone", () => {
    const rtt = 50_000
    const window = new ReceiveWindow({ initial: 1000, maximum: 16_000 })
    let now = 0
    for (let i = 0; i < 10; i++) {
      window.consume(window.max - window.consumed)
      window.update(now, rtt)
      window.onUpdateSent()
      now += 10 * rtt
    }
    expect(window.window).toBe(1000)
  })

  it("ensureWindow grows to at least the given size, not past the maximum", () => {
    const window = new ReceiveWindow({ initial: 1000, maximum: 5000 })
    window.ensureWindow(3000)
    expect(window.window).toBe(3000)
    window.ensureWindow(2000)
    expect(window.window).toBe(3000)
    window.ensureWindow(9000)
    expect(window.window).toBe(5000)
  })
})
