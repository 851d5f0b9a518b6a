import { describe, expect, it } from "vitest"
import { kGranularity, kInitialRtt, RttEstimator } from "../../src/internal/recovery/rtt.js"

const ms = (n: number): number => n * 1000

describe("RttEstimator", () => {
  it("starts from kInitialRtt (RFC 9002 §6.2.2)", () => {
    const rtt = new RttEstimator()
    expect(rtt.smoothed).toBe(kInitialRtt)
    expect(rtt.rttvar).toBe(kInitialRtt / 2)
    expect(rtt.latest).toBe(0)
    expect(rtt.min).toBe(0)
    // 333 ms + 4 × 166.5 ms
    expect(rtt.pto(ms(25), false)).toBe(999_000)
    expect(rtt.pto(ms(25), true)).toBe(1_024_000)
    // 9/8 × 333 ms
    expect(rtt.lossDelay()).toBe(374_625)
  })

  it("takes the first sample as is, ack delay ignored (§5.3)", () => {
    const rtt = new RttEstimator()
    rtt.update(ms(100), ms(50), ms(25), true)
    expect(rtt.latest).toBe(ms(100))
    expect(rtt.min).toBe(ms(100))
    expect(rtt.smoothed).toBe(ms(100))
    expect(rtt.rttvar).toBe(ms(50))
  })

  it("follows the RFC 9002 §5.3 averages", () => {
    const rtt = new RttEstimator()
    rtt.update(ms(100), 0, ms(25), true)
    // 120 ≥ 100 + 10: adjusted = 110; rttvar = 3/4 × 50 + 1/4 × |100 − 110| = 40;
    // smoothed = 7/8 × 100 + 1/8 × 110 = 101.25
    rtt.update(ms(120), ms(10), ms(25), true)
    expect(rtt.rttvar).toBe(40_000)
    expect(rtt.smoothed).toBe(101_250)
    expect(rtt.latest).toBe(ms(120))
    expect(rtt.min).toBe(ms(100))
    // 105 < 100 + 10: the delay would go below min_rtt, so it is not subtracted.
    // rttvar = 3/4 × 40 + 1/4 × 3.75 = 30.9375; smoothed = 7/8 × 101.25 + 1/8 × 105 = 101.71875
    rtt.update(ms(105), ms(10), ms(25), true)
    expect(rtt.rttvar).toBe(30_937)
    expect(rtt.smoothed).toBe(101_718)
  })

  it("keeps min_rtt free of ack delay (§5.2)", () => {
    const rtt = new RttEstimator()
    rtt.update(ms(100), 0, ms(25), true)
    rtt.update(ms(90), ms(20), ms(25), true)
    expect(rtt.min).toBe(ms(90))
    // 90 < 90 + 20: adjusted stays 90. smoothed = 7/8 × 100 + 1/8 × 90 = 98.75
    expect(rtt.smoothed).toBe(98_750)
  })

  it("caps ack delay by max_ack_delay only once the handshake is confirmed (§5.3)", () => {
    const before = new RttEstimator()
    before.update(ms(100), 0, ms(25), false)
    // Unconfirmed: 80 ms subtracted in full. adjusted = 120
    before.update(ms(200), ms(80), ms(25), false)
    expect(before.smoothed).toBe(102_500)
    expect(before.rttvar).toBe(42_500)

    const after = new RttEstimator()
    after.update(ms(100), 0, ms(25), true)
    // Confirmed: capped to 25 ms. adjusted = 175
    after.update(ms(200), ms(80), ms(25), true)
    expect(after.smoothed).toBe(109_375)
    expect(after.rttvar).toBe(56_250)
  })

  it("computes the PTO with and without max_ack_delay (§6.2.1)", () => {
    const rtt = new RttEstimator()
    rtt.update(ms(100), 0, ms(25), true)
    expect(rtt.pto(ms(25), false)).toBe(ms(300))
    expect(rtt.pto(ms(25), true)).toBe(ms(325))
    // A tiny variance is floored at kGranularity.
    const fast = new RttEstimator()
    fast.update(400, 0, ms(25), true)
    expect(fast.pto(ms(25), false)).toBe(400 + kGranularity)
  })

  it("computes the loss delay from the larger of smoothed and latest (§6.1.2)", () => {
    const rtt = new RttEstimator()
    rtt.update(ms(100), 0, ms(25), true)
    expect(rtt.lossDelay()).toBe(112_500)
    rtt.update(ms(120), 0, ms(25), true)
    // latest (120) > smoothed (102.5): 9/8 × 120
    expect(rtt.lossDelay()).toBe(135_000)
    const fast = new RttEstimator()
    fast.update(500, 0, ms(25), true)
    expect(fast.lossDelay()).toBe(kGranularity)
  })
})
