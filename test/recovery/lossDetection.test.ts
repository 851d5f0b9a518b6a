import { describe, expect, it } from "vitest"
import { isTransportError, TransportErrorCode } from "../../src/internal/errors.js"
import { NewReno } from "../../src/internal/recovery/congestion/newReno.js"
import {
  LossDetection,
  type PacketNumberSpace,
  type RecoveryEvents
} from "../../src/internal/recovery/lossDetection.js"
import type { SentPacket } from "../../src/internal/recovery/sentPackets.js"

const mds = 1200

const make = (isServer = true): LossDetection<string> =>
  new LossDetection<string>({ congestion: new NewReno(mds), isServer })

const packet = (
  packetNumber: number,
  timeSent: number,
  options: Partial<Omit<SentPacket<string>, "packetNumber" | "timeSent">> = {}
): SentPacket<string> => ({
  packetNumber,
  timeSent,
  size: mds,
  ackEliciting: true,
  inFlight: true,
  isPmtuProbe: false,
  payload: `#${packetNumber}`,
  ...options
})

const ack = (
  ld: LossDetection<string>,
  space: PacketNumberSpace,
  ranges: ReadonlyArray<number>,
  now: number,
  ackDelay = 0
): RecoveryEvents<string> => {
  const result = ld.onAckReceived(space, ranges, ackDelay, now, false)
  if (isTransportError(result)) throw new Error(result.reason)
  return result
}

const numbers = (packets: ReadonlyArray<SentPacket<string>>): Array<number> => packets.map((p) => p.packetNumber)

/** A confirmed server with one RTT sample of 100 ms (smoothed 100 ms, rttvar 50 ms) in the application space. */
const confirmed = (): LossDetection<string> => {
  const ld = make()
  ld.onHandshakeConfirmed(0)
  ld.onPacketSent("application", packet(0, 0))
  ack(ld, "application", [0, 0], 100_000)
  expect(ld.rtt.smoothed).toBe(100_000)
  expect(ld.rtt.rttvar).toBe(50_000)
  return ld
}

describe("LossDetection (RFC 9002 §6, Appendix A)", () => {
  it("tracks bytes in flight and reports acknowledged packets in order", () => {
    const ld = make()
    for (let pn = 0; pn < 4; pn++) ld.onPacketSent("initial", packet(pn, pn * 1000))
    ld.onPacketSent("initial", packet(4, 4000, { ackEliciting: false, inFlight: false, size: 50 }))
    expect(ld.bytesInFlight).toBe(4 * mds)
    const events = ack(ld, "initial", [4, 3, 1, 0], 60_000)
    expect(events.space).toBe("initial")
    expect(numbers(events.acked)).toEqual([0, 1, 3, 4])
    expect(events.lost).toEqual([])
    expect(ld.bytesInFlight).toBe(mds)
    expect(ld.largestAcked("initial")).toBe(4)
    expect(ld.largestAcked("handshake")).toBeUndefined()
    // The largest acknowledged (4) is not ack-eliciting but 3 is: an RTT sample from 4.
    expect(ld.rtt.latest).toBe(56_000)
    // A duplicate ACK acknowledges nothing new.
    expect(ack(ld, "initial", [4, 3, 1, 0], 70_000).acked).toEqual([])
    expect(ld.stats().packetsSent).toBe(5)
    expect(ld.stats().bytesSent).toBe(4 * mds + 50)
  })

  it("takes no RTT sample when the largest acknowledged is not newly acknowledged (§5.1)", () => {
    const ld = make()
    for (let pn = 0; pn < 3; pn++) ld.onPacketSent("initial", packet(pn, 0))
    ack(ld, "initial", [2, 2], 50_000)
    expect(ld.rtt.latest).toBe(50_000)
    ack(ld, "initial", [2, 0], 90_000)
    expect(ld.rtt.latest).toBe(50_000)
  })

  it("ignores ack delay outside the application space (§5.3)", () => {
    const ld = make()
    ld.onHandshakeConfirmed(0)
    ld.onPacketSent("handshake", packet(0, 0))
    ld.onPacketSent("handshake", packet(1, 100_000))
    ack(ld, "handshake", [0, 0], 100_000)
    ack(ld, "handshake", [1, 0], 220_000, 20_000)
    // 120 ms taken whole: 7/8 × 100 + 1/8 × 120
    expect(ld.rtt.smoothed).toBe(102_500)
  })

  it("declares packets lost by packet threshold and arms the time threshold (§6.1)", () => {
    const ld = make()
    ld.onHandshakeConfirmed(0)
    for (let pn = 0; pn < 5; pn++) ld.onPacketSent("application", packet(pn, pn * 1000))
    const events = ack(ld, "application", [4, 3], 50_000)
    expect(numbers(events.acked)).toEqual([3, 4])
    // 4 ≥ 0 + 3 and 4 ≥ 1 + 3; packet 2 is only two behind.
    expect(numbers(events.lost)).toEqual([0, 1])
    expect(ld.bytesInFlight).toBe(mds)
    // First RTT sample 46 ms, loss delay 9/8 × 46 ms = 51.75 ms: packet 2,
    // sent at 2 ms, is lost at 53.75 ms.
    expect(ld.timerDeadline()).toBe(53_750)
    expect(ld.congestion.window).toBe(6000)
    expect(ld.stats()).toMatchObject({ packetsLost: 2, bytesLost: 2 * mds, congestionEvents: 1 })

    // The timer fires at exactly that microsecond, not before.
    const early = ld.onTimeout(53_749)
    expect(early.lost).toEqual([])
    expect(early.probes).toBe(0)
    const fired = ld.onTimeout(53_750)
    expect(fired.space).toBe("application")
    expect(numbers(fired.lost)).toEqual([2])
    expect(fired.probes).toBe(0)
    expect(ld.bytesInFlight).toBe(0)
    // One recovery period: packet 2 was sent before it started.
    expect(ld.congestion.window).toBe(6000)
    expect(ld.timerDeadline()).toBeUndefined()
  })

  it("declares packets lost by time threshold once a later packet is acknowledged (§6.1.2)", () => {
    const ld = confirmed()
    ld.onPacketSent("application", packet(1, 200_000))
    ld.onPacketSent("application", packet(2, 400_000))
    // Loss delay 9/8 × 100 ms: packet 1 (sent 300 ms before) is lost at once.
    const events = ack(ld, "application", [2, 2], 500_000)
    expect(numbers(events.lost)).toEqual([1])
  })

  it("arms the PTO with exponential backoff and asks for probes (§6.2)", () => {
    const ld = confirmed()
    ld.onPacketSent("application", packet(1, 200_000))
    // 200 ms + (100 + 4 × 50 + 25) ms
    expect(ld.timerDeadline()).toBe(525_000)
    expect(ld.onTimeout(524_999).probes).toBe(0)
    const first = ld.onTimeout(525_000)
    expect(first.space).toBe("application")
    expect(first.probes).toBe(2)
    expect(first.lost).toEqual([])
    // PTO doubles: 200 ms + 2 × 325 ms, then 4 × 325 ms.
    expect(ld.timerDeadline()).toBe(850_000)
    expect(ld.onTimeout(850_000).probes).toBe(2)
    expect(ld.timerDeadline()).toBe(1_500_000)
    // A probe sent now restarts the PTO from its send time, still backed off.
    ld.onPacketSent("application", packet(2, 1_500_000))
    expect(ld.timerDeadline()).toBe(1_500_000 + 4 * 325_000)
    // An ACK resets the backoff; nothing left in flight disarms the timer.
    ack(ld, "application", [2, 1], 1_600_000)
    expect(ld.timerDeadline()).toBeUndefined()
    expect(ld.stats().probeTimeouts).toBe(2)
    // The probe timeouts did not reduce the window (only losses do).
    expect(ld.congestion.window).toBeGreaterThanOrEqual(12_000)
  })

  it("does not arm the PTO for application data before handshake confirmation (§6.2.1)", () => {
    const ld = make()
    ld.onPacketSent("application", packet(0, 0))
    expect(ld.timerDeadline()).toBeUndefined()
    // A Handshake packet in flight arms the timer for its own space only.
    ld.onPacketSent("handshake", packet(0, 10_000))
    expect(ld.timerDeadline()).toBe(10_000 + 999_000)
    const probe = ld.onTimeout(1_009_000)
    expect(probe.space).toBe("handshake")
    expect(probe.probes).toBe(2)
    // Confirmed: the application PTO counts, with max_ack_delay and the backoff.
    ld.discardSpace("handshake", 1_100_000)
    ld.onHandshakeConfirmed(1_100_000)
    expect(ld.timerDeadline()).toBe(0 + 999_000 + 25_000)
  })

  it("picks the earliest PTO across spaces", () => {
    const ld = make()
    ld.onPacketSent("initial", packet(0, 50_000))
    ld.onPacketSent("handshake", packet(0, 20_000))
    expect(ld.timerDeadline()).toBe(20_000 + 999_000)
    expect(ld.onTimeout(1_019_000).space).toBe("handshake")
  })

  it("arms the client's anti-deadlock PTO until the server validated its address (§6.2.2.1)", () => {
    const ld = make(false)
    ld.onPacketSent("initial", packet(0, 0))
    ack(ld, "initial", [0, 0], 100_000)
    expect(ld.bytesInFlight).toBe(0)
    // Nothing in flight, yet the timer runs from now: 100 ms + (100 + 4 × 50) ms.
    expect(ld.timerDeadline()).toBe(400_000)
    const first = ld.onTimeout(400_000)
    expect(first.space).toBe("initial")
    expect(first.probes).toBe(1)
    // With Handshake keys, the probe is a Handshake packet; the backoff grew.
    ld.onHandshakeKeysAvailable()
    expect(ld.timerDeadline()).toBe(400_000 + 2 * 300_000)
    const second = ld.onTimeout(1_000_000)
    expect(second.space).toBe("handshake")
    expect(second.probes).toBe(1)
    // An ACK of a Handshake packet proves the server validated the address.
    ld.onPacketSent("handshake", packet(0, 1_000_000))
    ack(ld, "handshake", [0, 0], 1_100_000)
    expect(ld.timerDeadline()).toBeUndefined()
  })

  it("keeps a client's PTO backoff across ACKs until its address is validated (§6.2.1)", () => {
    const ld = make(false)
    ld.onPacketSent("initial", packet(0, 0))
    ld.onPacketSent("initial", packet(1, 0))
    ld.onTimeout(999_000)
    ack(ld, "initial", [0, 0], 1_000_000)
    // Still backed off once: from now, 2 × PTO (latest 1 s: smoothed 1 s, rttvar 0.5 s).
    expect(ld.timerDeadline()).toBe(0 + 2 * (1_000_000 + 2_000_000))
    ld.resetPtoCount(1_000_000)
    expect(ld.timerDeadline()).toBe(0 + 3_000_000)
  })

  it("does not arm a server's PTO while it is amplification-limited (§6.2.2.1)", () => {
    const ld = make()
    ld.onPacketSent("initial", packet(0, 0))
    expect(ld.timerDeadline()).toBe(999_000)
    ld.setAmplificationLimited(10, true)
    expect(ld.timerDeadline()).toBeUndefined()
    // Lifting the limit late re-arms a deadline already past: it fires at once.
    ld.setAmplificationLimited(2_000_000, false)
    expect(ld.timerDeadline()).toBe(999_000)
    expect(ld.onTimeout(2_000_000).probes).toBe(2)
  })

  it("declares persistent congestion exactly when the period is exceeded (§7.6)", () => {
    // Each packet pair is sent `span` apart; after the ACK at T + 100 ms the
    // RTT is smoothed 100 ms, rttvar 37.5 ms, so the period is
    // (100 + 150 + 25) ms × 3 = 825 ms.
    const run = (span: number): LossDetection<string> => {
      const ld = confirmed()
      ld.onPacketSent("application", packet(1, 200_000))
      ld.onPacketSent("application", packet(2, 200_000 + span))
      const t = 2_000_000
      for (let pn = 3; pn <= 5; pn++) ld.onPacketSent("application", packet(pn, t))
      const events = ack(ld, "application", [5, 3], t + 100_000)
      expect(numbers(events.lost)).toEqual([1, 2])
      expect(ld.rtt.rttvar).toBe(37_500)
      return ld
    }
    // (confirmed() left the window at 13200: slow start acknowledged packet 0.)
    const exact = run(825_000)
    expect(exact.congestion.window).toBe(6600)
    expect(exact.stats().persistentCongestionEvents).toBe(0)
    const beyond = run(825_001)
    // Down to the minimum window (2400), which no recovery period shields:
    // the three packets acknowledged by the same ACK slow-start it again.
    expect(beyond.congestion.window).toBe(2 * mds + 3 * mds)
    expect(beyond.congestion.inSlowStart).toBe(true)
    expect(beyond.stats().persistentCongestionEvents).toBe(1)
  })

  it("does not declare persistent congestion across an acknowledged packet (§7.6.2)", () => {
    const ld = confirmed()
    ld.onPacketSent("application", packet(1, 200_000))
    ld.onPacketSent("application", packet(2, 600_000))
    ld.onPacketSent("application", packet(3, 1_100_000))
    for (let pn = 4; pn <= 6; pn++) ld.onPacketSent("application", packet(pn, 2_000_000))
    const events = ack(ld, "application", [6, 4, 2, 2], 2_100_000)
    expect(numbers(events.lost)).toEqual([1, 3])
    expect(ld.congestion.window).toBe(6600)
    expect(ld.stats().persistentCongestionEvents).toBe(0)
  })

  it("ignores packets sent before the first RTT sample for persistent congestion (§7.6.2)", () => {
    const ld = make()
    ld.onHandshakeConfirmed(0)
    ld.onPacketSent("application", packet(0, 0))
    ld.onPacketSent("application", packet(1, 5_000_000))
    for (let pn = 2; pn <= 4; pn++) ld.onPacketSent("application", packet(pn, 6_000_000))
    const events = ack(ld, "application", [4, 2], 6_100_000)
    expect(numbers(events.lost)).toEqual([0, 1])
    expect(ld.congestion.window).toBe(6000)
  })

  it("rejects an ACK of a packet number never sent with PROTOCOL_VIOLATION (RFC 9000 §13.1)", () => {
    const ld = make()
    const nothing = ld.onAckReceived("application", [0, 0], 0, 0, false)
    expect(isTransportError(nothing) && nothing.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION)
    for (let pn = 0; pn < 3; pn++) ld.onPacketSent("application", packet(pn, 0))
    const beyond = ld.onAckReceived("application", [3, 0], 0, 10_000, false)
    expect(beyond).toMatchObject({ _tag: "TransportError", code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: 0x02 })
    expect(ld.bytesInFlight).toBe(3 * mds)
    expect(ld.largestAcked("application")).toBeUndefined()
  })

  it("treats skipped packet numbers as never sent (RFC 9000 §21.4)", () => {
    const ld = make()
    ld.onPacketSent("application", packet(0, 0))
    ld.onPacketSent("application", packet(1, 0))
    // 2 and 3 skipped on purpose.
    ld.onPacketSent("application", packet(4, 0))
    ld.onPacketSent("application", packet(5, 0))
    const optimistic = ld.onAckReceived("application", [5, 0], 0, 10_000, false)
    expect(isTransportError(optimistic)).toBe(true)
    const alsoOptimistic = ld.onAckReceived("application", [5, 5, 3, 3, 1, 0], 0, 10_000, false)
    expect(isTransportError(alsoOptimistic)).toBe(true)
    expect(ld.bytesInFlight).toBe(4 * mds)
    const honest = ack(ld, "application", [5, 4, 1, 0], 10_000)
    expect(numbers(honest.acked)).toEqual([0, 1, 4, 5])
    expect(ld.bytesInFlight).toBe(0)
  })

  it("releases the packets of its events record once the caller is done with them", () => {
    const ld = make()
    for (let pn = 0; pn < 6; pn++) ld.onPacketSent("initial", packet(pn, pn * 1000))
    const events = ack(ld, "initial", [5, 5, 1, 0], 60_000)
    expect(numbers(events.acked)).toEqual([0, 1, 5])
    expect(numbers(events.lost)).toEqual([2])
    ld.releaseEvents()
    expect(events.acked).toEqual([])
    expect(events.lost).toEqual([])
    expect(events.lostPmtuProbes).toEqual([])
    expect(events.space).toBe("initial")
    // Nothing else changed: the unacknowledged packets are still in flight.
    expect(ld.bytesInFlight).toBe(2 * mds)
  })

  it("discards a space and its state for good (§6.4); acknowledgements for it find nothing", () => {
    const ld = make()
    ld.onPacketSent("handshake", packet(0, 0))
    ld.discardSpace("handshake", 1_000)
    const events = ack(ld, "handshake", [0, 0], 2_000)
    expect(events.acked).toEqual([])
    expect(ld.largestAcked("handshake")).toBeUndefined()
    expect(ld.declareLost("handshake", [0], 2_000)).toEqual([])
    expect(ld.bytesInFlight).toBe(0)
  })

  it("after a Retry forgets the Initial packets sent but keeps the space (§6.3)", () => {
    const ld = make(false)
    ld.onPacketSent("initial", packet(0, 0))
    ld.onRetry(1_000)
    expect(ld.bytesInFlight).toBe(0)
    expect(ld.stats().packetsLost).toBe(0)
    // Packet numbers keep rising in the same space, and are acknowledged as usual.
    ld.onPacketSent("initial", packet(1, 2_000))
    expect(numbers(ack(ld, "initial", [1, 1], 50_000).acked)).toEqual([1])
    expect(ld.largestAcked("initial")).toBe(1)
  })

  it("discards a space without declaring its packets lost (§6.4)", () => {
    const ld = make()
    ld.onPacketSent("initial", packet(0, 0))
    ld.onPacketSent("initial", packet(1, 1000))
    ld.onPacketSent("handshake", packet(0, 2000))
    expect(ld.bytesInFlight).toBe(3 * mds)
    ld.onTimeout(999_000)
    ld.discardSpace("initial", 1_000_000)
    expect(ld.bytesInFlight).toBe(mds)
    expect(ld.stats().packetsLost).toBe(0)
    expect(ld.congestion.window).toBe(12_000)
    expect(ld.timeOfLastAckEliciting("initial")).toBeUndefined()
    // The PTO backoff was reset and only the handshake packet counts.
    expect(ld.timerDeadline()).toBe(2000 + 999_000)
    ld.discardSpace("handshake", 1_000_000)
    expect(ld.bytesInFlight).toBe(0)
    expect(ld.timerDeadline()).toBeUndefined()
  })

  it("gives up on packets the peer cannot process without a congestion signal (rejected 0-RTT)", () => {
    const ld = make(false)
    for (let pn = 0; pn < 4; pn++) ld.onPacketSent("application", packet(pn, pn * 1000))
    ld.onPacketSent("handshake", packet(0, 5000))
    const lost = ld.declareLost("application", [0, 1, 3, 9], 10_000)
    expect(numbers(lost)).toEqual([0, 1, 3])
    expect(ld.bytesInFlight).toBe(2 * mds)
    expect(ld.congestion.window).toBe(12_000)
    expect(ld.stats()).toMatchObject({ packetsLost: 0, congestionEvents: 0 })
    // Gone for good: a later ACK of them acknowledges nothing new.
    expect(numbers(ack(ld, "application", [3, 0], 20_000).acked)).toEqual([2])
  })

  it("reports lost PMTU probes apart, without reducing the window (RFC 9000 §14.4)", () => {
    const ld = make()
    ld.onHandshakeConfirmed(0)
    ld.onPacketSent("application", packet(0, 0, { size: 1500, isPmtuProbe: true }))
    for (let pn = 1; pn <= 4; pn++) ld.onPacketSent("application", packet(pn, 0))
    expect(ld.bytesInFlight).toBe(1500 + 4 * mds)
    const events = ack(ld, "application", [4, 1], 100_000)
    expect(events.lost).toEqual([])
    expect(numbers(events.lostPmtuProbes)).toEqual([0])
    expect(events.lostPmtuProbes[0]!.payload).toBe("#0")
    expect(ld.bytesInFlight).toBe(0)
    // Slow start went on: 12000 + 4 × 1200.
    expect(ld.congestion.window).toBe(16_800)
    expect(ld.congestion.inRecovery).toBe(false)
    expect(ld.stats()).toMatchObject({ pmtuProbesLost: 1, packetsLost: 0, congestionEvents: 0 })
  })

  it("grows the window only for packets sent after the recovery period began", () => {
    const ld = confirmed()
    for (let pn = 1; pn <= 8; pn++) ld.onPacketSent("application", packet(pn, 200_000 + pn))
    // 1 and 2 lost (by threshold) at 300 ms; 5..8 acknowledged in the same ACK.
    ack(ld, "application", [8, 5], 300_000)
    const reduced = ld.congestion.window
    expect(ld.congestion.inRecovery).toBe(true)
    ld.onPacketSent("application", packet(9, 310_000))
    ack(ld, "application", [9, 9], 400_000)
    expect(ld.congestion.inRecovery).toBe(false)
    expect(reduced).toBe(Math.max(2 * mds, Math.floor(13_200 / 2)))
  })
})
