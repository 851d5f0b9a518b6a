import { describe, expect, it } from "vitest"
import { initialWindow, minimumWindow } from "../../src/internal/recovery/congestion/controller.js"
import { makeCongestionController } from "../../src/internal/recovery/congestion/factory.js"
import { NewReno } from "../../src/internal/recovery/congestion/newReno.js"
import { RttEstimator } from "../../src/internal/recovery/rtt.js"

const mds = 1200
const rtt = new RttEstimator()

describe("NewReno (RFC 9002 §7, Appendix B)", () => {
  it("starts at the RFC 9002 §7.2 initial window", () => {
    expect(initialWindow(1200)).toBe(12_000)
    expect(initialWindow(1472)).toBe(14_720)
    expect(initialWindow(5000)).toBe(14_720)
    expect(initialWindow(8000)).toBe(16_000)
    expect(minimumWindow(1200)).toBe(2400)
    const cc = new NewReno(mds)
    expect(cc.window).toBe(12_000)
    expect(cc.inSlowStart).toBe(true)
    expect(cc.inRecovery).toBe(false)
    expect(makeCongestionController("newreno", mds)).toBeInstanceOf(NewReno)
  })

  it("slow start → loss → one reduction per recovery period → congestion avoidance", () => {
    const cc = new NewReno(mds)
    // Slow start: the window grows by every byte acknowledged.
    for (let i = 0; i < 10; i++) cc.onAck(100, 0, mds, rtt, false)
    expect(cc.window).toBe(24_000)

    // Loss of a packet sent at 500, detected at 1000: halve, enter recovery.
    cc.onCongestionEvent(1000, 500, false)
    expect(cc.window).toBe(12_000)
    expect(cc.inRecovery).toBe(true)
    expect(cc.inSlowStart).toBe(false)

    // RFC 9002 §7.3.2: packets sent before (or at) the recovery start do not
    // reduce again, and their ACKs do not grow the window.
    cc.onCongestionEvent(1200, 800, false)
    cc.onCongestionEvent(1300, 1000, false)
    expect(cc.window).toBe(12_000)
    cc.onAck(1400, 900, mds, rtt, false)
    expect(cc.window).toBe(12_000)
    expect(cc.inRecovery).toBe(true)

    // An ACK of a packet sent during recovery ends it.
    cc.onAck(2000, 1500, mds, rtt, false)
    expect(cc.inRecovery).toBe(false)

    // Congestion avoidance: one datagram per window acknowledged.
    for (let i = 0; i < 9; i++) cc.onAck(2000, 1500, mds, rtt, false)
    expect(cc.window).toBe(13_200)

    // A loss of a packet sent after the recovery start reduces again.
    cc.onCongestionEvent(3000, 2500, false)
    expect(cc.window).toBe(6600)
  })

  it("grows about one datagram per round trip in congestion avoidance", () => {
    const cc = new NewReno(mds)
    cc.onCongestionEvent(0, 0, false)
    const start = cc.window
    let now = 1
    for (let round = 0; round < 20; round++) {
      const before = cc.window
      // A round trip acknowledges one window of full-sized packets.
      const packets = Math.ceil(before / mds)
      for (let i = 0; i < packets; i++) cc.onAck(now + 100, now, mds, rtt, false)
      now += 100_000
      expect(cc.window - before).toBe(mds)
    }
    expect(cc.window).toBe(start + 20 * mds)
  })

  it("does not grow an application-limited window (§7.8)", () => {
    const cc = new NewReno(mds)
    for (let i = 0; i < 10; i++) cc.onAck(100, 0, mds, rtt, true)
    expect(cc.window).toBe(12_000)
  })

  it("collapses to the minimum window on persistent congestion (§7.6.2)", () => {
    const cc = new NewReno(mds)
    cc.onCongestionEvent(1000, 900, true)
    expect(cc.window).toBe(2400)
    expect(cc.inRecovery).toBe(false)
    // Slow start again, up to the threshold the loss set (6000); the
    // recovery period was cleared, so even ACKs of older packets count.
    expect(cc.inSlowStart).toBe(true)
    for (let i = 0; i < 3; i++) cc.onAck(2000, 500, mds, rtt, false)
    expect(cc.window).toBe(6000)
    expect(cc.inSlowStart).toBe(false)
    // And the next loss, of a packet sent before the old recovery start, reduces.
    cc.onCongestionEvent(2100, 950, false)
    expect(cc.window).toBe(3000)
  })

  it("treats ECN-CE as a congestion event (§7.1)", () => {
    const cc = new NewReno(mds)
    cc.onEcnCongestion(1000, 900)
    expect(cc.window).toBe(6000)
    expect(cc.inRecovery).toBe(true)
  })

  it("raises the window to the new minimum when the datagram size grows (§7.2)", () => {
    const cc = new NewReno(mds)
    cc.onCongestionEvent(1000, 900, true)
    expect(cc.window).toBe(2400)
    cc.onMtuChange(1500)
    expect(cc.window).toBe(3000)
  })
})
