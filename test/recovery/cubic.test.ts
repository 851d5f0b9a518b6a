import { describe, expect, it } from "vitest"
import { Cubic } from "../../src/internal/recovery/congestion/cubic.js"
import { makeCongestionController } from "../../src/internal/recovery/congestion/factory.js"
import { RttEstimator } from "../../src/internal/recovery/rtt.js"

const mds = 1200
const lossAt = 1_000_000

const fixedRtt = (micros: number): RttEstimator => {
  const rtt = new RttEstimator()
  rtt.update(micros, 0, 25_000, true)
  return rtt
}

/** A CUBIC controller grown to 120000 bytes (100 segments) in slow start, then hit by a loss at 1 s. */
const afterLoss = (rtt: RttEstimator): Cubic => {
  const cc = new Cubic(mds)
  for (let i = 0; i < 90; i++) cc.onAck(lossAt - 2000, 0, mds, rtt, false)
  expect(cc.window).toBe(120_000)
  cc.onCongestionEvent(lossAt, lossAt - 1000, false)
  return cc
}

/** One round trip ending at `now`: a window of full-sized packets, sent one RTT earlier, acknowledged. */
const round = (cc: Cubic, rtt: RttEstimator, now: number, appLimited = false): void => {
  const packets = Math.floor(cc.window / mds)
  for (let i = 0; i < packets; i++) cc.onAck(now, now - rtt.smoothed, mds, rtt, appLimited)
}

describe("CUBIC (RFC 9438)", () => {
  it("is built by the factory and slow-starts like NewReno", () => {
    const cc = makeCongestionController("cubic", mds)
    expect(cc).toBeInstanceOf(Cubic)
    expect(cc.window).toBe(12_000)
    cc.onAck(0, 0, 5000, fixedRtt(100_000), false)
    expect(cc.window).toBe(17_000)
  })

  it("reduces to β_cubic × W_max on loss (§4.6)", () => {
    const cc = afterLoss(fixedRtt(100_000))
    expect(cc.wMax).toBe(120_000)
    expect(cc.window).toBe(84_000)
    expect(cc.inRecovery).toBe(true)
    // One reduction per recovery period (RFC 9002 §7.3.2).
    cc.onCongestionEvent(lossAt + 10, lossAt - 500, false)
    expect(cc.window).toBe(84_000)
  })

  it("computes K per Eq. 2 at the start of congestion avoidance", () => {
    const rtt = fixedRtt(100_000)
    const cc = afterLoss(rtt)
    cc.onAck(lossAt + 100_000, lossAt + 1, mds, rtt, false)
    // K = ∛((W_max − cwnd_epoch) / C) = ∛((100 − 70) / 0.4) segments
    expect(cc.k).toBeCloseTo(Math.cbrt(75), 9)
    expect(cc.inRecovery).toBe(false)
  })

  it("grows concave up to W_max, then convex beyond it", () => {
    const rtt = fixedRtt(200_000)
    const cc = afterLoss(rtt)
    const windows: Array<number> = [cc.window]
    // 50 round trips of 200 ms: 10 s, K ≈ 4.22 s is at round 21.
    for (let r = 1; r <= 50; r++) {
      round(cc, rtt, lossAt + r * 200_000)
      windows.push(cc.window)
    }
    const growth = (from: number, to: number): number => (windows[to]! - windows[from]!) / (to - from)
    // Concave: fast at first, slowing towards the plateau.
    expect(growth(0, 5)).toBeGreaterThan(3 * growth(18, 23))
    // The plateau is W_max (the target looks one RTT ahead, so one round early).
    expect(windows[20]! / cc.wMax).toBeGreaterThan(0.98)
    expect(windows[20]! / cc.wMax).toBeLessThan(1.02)
    // Convex: accelerating away from the plateau.
    expect(growth(40, 45)).toBeGreaterThan(3 * growth(18, 23))
    expect(growth(45, 50)).toBeGreaterThan(growth(40, 45))
    // The window never shrinks on an ACK, and never grows more than 1.5× per round trip.
    for (let r = 1; r < windows.length; r++) {
      expect(windows[r]!).toBeGreaterThanOrEqual(windows[r - 1]!)
      expect(windows[r]!).toBeLessThanOrEqual(1.5 * windows[r - 1]! + mds)
    }
  })

  it("follows W_est in the Reno-friendly region at short RTTs (§4.3)", () => {
    const rtt = fixedRtt(1000)
    const cc = afterLoss(rtt)
    for (let r = 1; r <= 40; r++) round(cc, rtt, lossAt + r * 1000)
    // 40 ms after the loss W_cubic has barely moved off 70 segments (≈ 70.9),
    // while Reno would have added α_cubic ≈ 0.53 segments per round trip.
    const alpha = (3 * (1 - 0.7)) / (1 + 0.7)
    const cubic = (0.4 * (0.04 - cc.k) ** 3 + 100) * mds
    expect(cubic).toBeLessThan(86_000)
    expect(cc.window).toBeGreaterThan(84_000 + 0.9 * alpha * 40 * mds)
    expect(cc.window).toBeLessThan(84_000 + 1.1 * alpha * 40 * mds)
  })

  it("lowers W_max further on a loss below it: fast convergence (§4.7)", () => {
    const cc = afterLoss(fixedRtt(100_000))
    // A second loss, of a packet sent after the first recovery began, while cwnd < W_max.
    cc.onCongestionEvent(lossAt + 200_000, lossAt + 100_000, false)
    expect(cc.wMax).toBeCloseTo((84_000 * (1 + 0.7)) / 2, 6)
    expect(cc.window).toBe(58_800)
  })

  it("keeps W_max at cwnd for a loss above the old plateau", () => {
    const rtt = fixedRtt(200_000)
    const cc = afterLoss(rtt)
    for (let r = 1; r <= 50; r++) round(cc, rtt, lossAt + r * 200_000)
    const window = cc.window
    expect(window).toBeGreaterThan(120_000)
    cc.onCongestionEvent(lossAt + 51 * 200_000, lossAt + 50 * 200_000 + 1, false)
    expect(cc.wMax).toBe(window)
    expect(cc.window).toBe(Math.floor((window * 7) / 10))
  })

  it("restarts from the minimum window with K = 0 after persistent congestion (§4.8)", () => {
    const rtt = fixedRtt(100_000)
    const cc = afterLoss(rtt)
    cc.onCongestionEvent(lossAt + 200_000, lossAt + 100_000, true)
    expect(cc.window).toBe(2400)
    expect(cc.inSlowStart).toBe(true)
    // Slow start to ssthresh (0.7 × 84000 = 58800), then congestion avoidance.
    let now = lossAt + 300_000
    while (cc.inSlowStart) cc.onAck(now, now - 1000, mds, rtt, false)
    now += 100_000
    cc.onAck(now, now - 1000, mds, rtt, false)
    expect(cc.k).toBe(0)
    expect(cc.wMax).toBeGreaterThanOrEqual(58_800)
    expect(cc.wMax).toBeLessThanOrEqual(58_800 + mds)
  })

  it("does not count application-limited time in t (§5.8)", () => {
    const rtt = fixedRtt(100_000)
    const steady = afterLoss(rtt)
    const paused = afterLoss(rtt)
    round(steady, rtt, lossAt + 100_000)
    round(paused, rtt, lossAt + 100_000)
    // `paused` spends 5 s application-limited: no growth, and no time credited.
    for (let r = 2; r <= 51; r++) round(paused, rtt, lossAt + r * 100_000, true)
    expect(paused.window).toBe(steady.window)
    round(steady, rtt, lossAt + 200_000)
    round(paused, rtt, lossAt + 5_200_000)
    expect(paused.window).toBe(steady.window)
  })
})
