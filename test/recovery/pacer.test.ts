import { describe, expect, it } from "vitest"
import { kBurstInterval, kBurstPackets, kMaxBurstPackets, Pacer } from "../../src/internal/recovery/pacer.js"

const mtu = 1200

describe("Pacer (RFC 9002 §7.7)", () => {
  it("lets a burst go at once, then paces at 1.25 × cwnd / smoothed_rtt", () => {
    const pacer = new Pacer()
    const window = 120_000
    const rtt = 100_000
    for (let i = 0; i < kBurstPackets; i++) {
      expect(pacer.delay(0, mtu, mtu, window, rtt)).toBe(0)
      pacer.onSent(0, mtu)
    }
    // Empty bucket: 1200 bytes at 1.5 bytes/µs take 800 µs.
    expect(pacer.delay(0, mtu, mtu, window, rtt)).toBe(800)
    expect(pacer.delay(799, mtu, mtu, window, rtt)).toBe(800)
    expect(pacer.delay(800, mtu, mtu, window, rtt)).toBe(0)
  })

  it("sends a full window within about one round trip", () => {
    const pacer = new Pacer()
    const window = 120_000
    const rtt = 100_000
    let now = 0
    let sent = 0
    let last = 0
    while (sent < window) {
      const at = pacer.delay(now, mtu, mtu, window, rtt)
      if (at !== 0) {
        expect(at).toBeGreaterThan(now)
        now = at
        continue
      }
      pacer.onSent(now, mtu)
      sent += mtu
      last = now
    }
    // The burst goes at once and the rest at 1.25 × the window rate:
    // (120000 − 12000) / 1.5 bytes/µs = 72 ms.
    expect(last).toBe(72_000)
    expect(last).toBeLessThan(rtt)
  })

  it("never lets the burst exceed the window", () => {
    const pacer = new Pacer()
    // A 2-datagram window: a burst of 2, not 10.
    expect(pacer.delay(0, mtu, mtu, 2400, 100_000)).toBe(0)
    pacer.onSent(0, mtu)
    expect(pacer.delay(0, mtu, mtu, 2400, 100_000)).toBe(0)
    pacer.onSent(0, mtu)
    expect(pacer.delay(0, mtu, mtu, 2400, 100_000)).toBeGreaterThan(0)
  })

  it("keeps sub-byte credit across frequent polls at a slow rate", () => {
    const pacer = new Pacer()
    const window = 2400
    const rtt = 1_000_000
    pacer.delay(0, mtu, mtu, window, rtt)
    pacer.onSent(0, mtu)
    pacer.onSent(0, mtu)
    // 0.003 bytes/µs: 1200 bytes take exactly 400 ms. Polling every 7 µs
    // earns a fraction of a byte each time, which must not be lost.
    expect(pacer.delay(0, mtu, mtu, window, rtt)).toBe(400_000)
    let now = 0
    while (pacer.delay(now, mtu, mtu, window, rtt) !== 0) now += 7
    expect(now).toBe(400_001)
  })

  it("does not pace without a window or an RTT (no division by zero)", () => {
    const pacer = new Pacer()
    expect(pacer.delay(0, mtu, mtu, 12_000, 0)).toBe(0)
    expect(pacer.delay(0, mtu, mtu, 0, 100_000)).toBe(0)
    pacer.onSent(0, mtu)
  })

  it("does not save up credit beyond the burst while idle", () => {
    const pacer = new Pacer()
    const window = 120_000
    const rtt = 100_000
    pacer.delay(0, mtu, mtu, window, rtt)
    // Idle for ten seconds: still only a burst's worth.
    let now = 10_000_000
    let burst = 0
    while (pacer.delay(now, mtu, mtu, window, rtt) === 0) {
      pacer.onSent(now, mtu)
      burst++
    }
    expect(burst).toBe(kBurstPackets)
    now += 1
    expect(pacer.delay(now, mtu, mtu, window, rtt)).toBeGreaterThan(now)
  })

  it("lets an oversized packet go once the bucket is full", () => {
    const pacer = new Pacer()
    expect(pacer.delay(0, 20_000, mtu, 120_000, 100_000)).toBe(0)
    pacer.onSent(0, 20_000)
    // 12000 bytes (a full bucket) at 1.5 bytes/µs.
    expect(pacer.delay(0, 20_000, mtu, 120_000, 100_000)).toBe(8000)
  })

  it("holds two milliseconds of credit when that is more than the minimum burst", () => {
    const pacer = new Pacer()
    // 1.25 × 1.2 MB / 10 ms = 150 bytes/µs: 2 ms earn 300000 bytes, 250 datagrams.
    const window = 1_200_000
    const rtt = 10_000
    let burst = 0
    while (pacer.delay(0, mtu, mtu, window, rtt) === 0) {
      pacer.onSent(0, mtu)
      burst++
    }
    expect(kBurstInterval).toBe(2_000)
    expect(burst).toBe(250)
  })

  it("bounds the burst at kMaxBurstPackets however fast the rate", () => {
    const pacer = new Pacer()
    let burst = 0
    while (pacer.delay(0, mtu, mtu, 12_000_000, 10_000) === 0) {
      pacer.onSent(0, mtu)
      burst++
    }
    expect(burst).toBe(kMaxBurstPackets)
  })

  it("keeps the paced rate when the driver's timer wakes only every millisecond", () => {
    const pacer = new Pacer()
    // 1.25 × 1.2 MB / 20 ms = 75 bytes/µs, 62.5 datagrams per millisecond:
    // a bucket of ten datagrams would cap a millisecond timer at 10 per wake.
    const window = 1_200_000
    const rtt = 20_000
    let now = 0
    let sent = 0
    while (now < 100_000) {
      let at = pacer.delay(now, mtu, mtu, window, rtt)
      while (at === 0) {
        pacer.onSent(now, mtu)
        sent += mtu
        at = pacer.delay(now, mtu, mtu, window, rtt)
      }
      // Like Node's setTimeout: whole milliseconds, at least one.
      now += Math.max(1, Math.ceil((at - now) / 1000)) * 1000
    }
    // At least 100 ms at 75 bytes/µs (6250 datagrams), at most that plus the
    // bucket the sender started with (2 ms, 125 datagrams).
    expect(sent).toBeGreaterThanOrEqual(6_250 * mtu)
    expect(sent).toBeLessThanOrEqual(6_375 * mtu)
  })
})
