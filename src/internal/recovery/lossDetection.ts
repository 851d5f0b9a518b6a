/**
 * Loss detection (RFC 9002 §6 and Appendix A) for the three packet number
 * spaces of one connection, with the RTT estimator and the congestion
 * controller it feeds.
 *
 * Generic over `T`, what the connection keeps with each sent packet to act on
 * its fate (the frames to retransmit, …). Acknowledged and lost packets come
 * back in a {@link RecoveryEvents} record that this object owns and reuses:
 * arrays, not callbacks, so processing an ACK allocates nothing per packet.
 * The record is valid until the next call into the same `LossDetection`.
 *
 * The loss detection timer (§6.2, A.8) is recomputed eagerly whenever its
 * inputs change, as the RFC's SetLossDetectionTimer is; `timerDeadline()`
 * reads it and `onTimeout(now)` fires it.
 */
import { type TransportError, TransportErrorCode, transportError } from "../errors.js"
import { FrameType } from "../frame/types.js"
import { RangeSet } from "../util/rangeSet.js"
import type { CongestionController } from "./congestion/controller.js"
import { RttEstimator } from "./rtt.js"
import { type SentPacket, SentPackets } from "./sentPackets.js"

export type PacketNumberSpace = "initial" | "handshake" | "application"

/** RFC 9002 §6.1.1: a packet is lost once a packet this many numbers later is acknowledged. */
export const kPacketThreshold = 3

/** RFC 9002 §7.6.1: persistent congestion spans this many PTO periods. */
export const kPersistentCongestionThreshold = 3

/** RFC 9000 §18.2: max_ack_delay when the peer's transport parameters do not say (25 ms). */
export const kDefaultMaxAckDelay = 25_000

/**
 * The PTO backoff stops doubling after 2^16 × PTO: far beyond any idle
 * timeout, which closes the connection first; the cap only keeps deadlines
 * exact integers.
 */
const kMaxPtoBackoffExponent = 16

/**
 * Skipped packet number ranges remembered for optimistic ACK detection.
 * Forgetting old ones only forgoes detecting an ACK of them.
 */
const kMaxSkippedRanges = 32

/** What an ACK or a timeout produced. Owned by the `LossDetection`; read it before the next call. */
export interface RecoveryEvents<T> {
  /** The space the packets below belong to, and the one to probe. */
  readonly space: PacketNumberSpace
  /** Newly acknowledged packets, in increasing packet number order (PMTU probes included). */
  readonly acked: ReadonlyArray<SentPacket<T>>
  /** Packets declared lost, PMTU probes excepted, in increasing packet number order. */
  readonly lost: ReadonlyArray<SentPacket<T>>
  /**
   * RFC 9000 §14.4: PMTU probes declared lost. Not a congestion signal and
   * not in `lost`; the MTU search should take them as "too big".
   */
  readonly lostPmtuProbes: ReadonlyArray<SentPacket<T>>
  /**
   * RFC 9002 §6.2.4: when a PTO fired, how many ack-eliciting probe packets
   * to send in `space` (2, or 1 for the client's anti-deadlock probe of
   * §6.2.2.1); 0 otherwise.
   */
  readonly probes: number
}

export interface RecoveryStats {
  readonly packetsSent: number
  readonly bytesSent: number
  /** In-flight packets declared lost (PMTU probes excepted). */
  readonly packetsLost: number
  readonly bytesLost: number
  readonly pmtuProbesLost: number
  /** Losses reported to the congestion controller (one per ACK or timeout that declared any). */
  readonly congestionEvents: number
  readonly persistentCongestionEvents: number
  /** PTO expirations. */
  readonly probeTimeouts: number
  readonly latestRtt: number
  readonly smoothedRtt: number
  readonly minRtt: number
  readonly rttVariance: number
  readonly congestionWindow: number
  readonly bytesInFlight: number
}

export interface LossDetectionOptions {
  readonly congestion: CongestionController
  /**
   * RFC 9002 Appendix A.8 (PeerCompletedAddressValidation): a server takes
   * the client to have validated its address; a client learns it from an ACK
   * of a Handshake packet or handshake confirmation.
   */
  readonly isServer: boolean
  /** RFC 9002 §6.2.2: e.g. the RTT remembered from a previous connection. */
  readonly initialRtt?: number
}

/** RFC 9002 Appendix A.3: the per-space variables. */
class SpaceState<T> {
  readonly sent = new SentPackets<T>()
  /**
   * RFC 9000 §21.4: numbers the connection skipped (to catch a peer
   * acknowledging packets it never received), inferred from gaps in what
   * was sent.
   */
  readonly skipped = new RangeSet()
  largestSent = -1
  /** RFC 9002 A.3 largest_acked_packet; -1 until an ACK arrives. */
  largestAcked = -1
  /** RFC 9002 A.3 loss_time: when the earliest not-yet-lost packet crosses the time threshold. */
  lossTime: number | undefined
  timeOfLastAckEliciting: number | undefined
  ackElicitingInFlight = 0

  constructor(readonly name: PacketNumberSpace) {}
}

class Events<T> implements RecoveryEvents<T> {
  space: PacketNumberSpace = "initial"
  readonly acked: Array<SentPacket<T>> = []
  readonly lost: Array<SentPacket<T>> = []
  readonly lostPmtuProbes: Array<SentPacket<T>> = []
  probes = 0

  reset(space: PacketNumberSpace): this {
    this.space = space
    this.acked.length = 0
    this.lost.length = 0
    this.lostPmtuProbes.length = 0
    this.probes = 0
    return this
  }
}

export class LossDetection<T> {
  rtt: RttEstimator
  congestion: CongestionController
  /** The peer's max_ack_delay in µs; the connection sets it from the peer's transport parameters. */
  maxAckDelay = kDefaultMaxAckDelay

  /** Initial and Handshake become undefined once discarded (RFC 9002 §6.4), taking their state with them. */
  private readonly spaces: {
    initial: SpaceState<T> | undefined
    handshake: SpaceState<T> | undefined
    readonly application: SpaceState<T>
  }
  /** The spaces in the order RFC 9002 A.8 visits them, undefined once discarded. */
  private readonly order: Array<SpaceState<T> | undefined>
  private readonly events = new Events<T>()
  private inFlight = 0
  /** RFC 9002 A.3 pto_count: consecutive PTOs without an ACK, the backoff exponent. */
  private ptoCount = 0
  private deadline: number | undefined
  /** The space the armed PTO is for, chosen by `ptoTime`. */
  private ptoSpace: PacketNumberSpace = "initial"
  /** RFC 9002 A.3 first_rtt_sample: when the first RTT sample was taken. */
  private firstRttSample: number | undefined
  private handshakeConfirmed = false
  private hasHandshakeKeys = false
  private peerCompletedAddressValidation: boolean
  private amplificationLimited = false

  private packetsSent = 0
  private bytesSent = 0
  private packetsLost = 0
  private bytesLost = 0
  private pmtuProbesLost = 0
  private congestionEvents = 0
  private persistentCongestionEvents = 0
  private probeTimeouts = 0

  constructor(options: LossDetectionOptions) {
    this.congestion = options.congestion
    this.rtt = new RttEstimator(options.initialRtt)
    this.peerCompletedAddressValidation = options.isServer
    const initial = new SpaceState<T>("initial")
    const handshake = new SpaceState<T>("handshake")
    const application = new SpaceState<T>("application")
    this.spaces = { initial, handshake, application }
    this.order = [initial, handshake, application]
  }

  /** RFC 9000 §9.4: a new path (not just a new port) starts from initial congestion and RTT state. */
  resetPath(congestion: CongestionController): void {
    this.congestion = congestion
    this.rtt = new RttEstimator()
    this.firstRttSample = undefined
  }

  /** RFC 9002 §2: bytes of sent, in-flight packets neither acknowledged, lost nor discarded. */
  get bytesInFlight(): number {
    return this.inFlight
  }

  /** When `onTimeout` should run (µs), or undefined when the timer is not armed. */
  timerDeadline(): number | undefined {
    return this.deadline
  }

  /** RFC 9000 §17.1: the largest acknowledged packet number, the base for packet number encoding. */
  largestAcked(space: PacketNumberSpace): number | undefined {
    const largest = this.spaces[space]?.largestAcked ?? -1
    return largest < 0 ? undefined : largest
  }

  /** RFC 9002 A.3 pto_count: consecutive PTO expirations (qlog's recovery metrics). */
  get consecutivePtoCount(): number {
    return this.ptoCount
  }

  /** Whether `space` has ack-eliciting packets in flight. */
  hasAckElicitingInFlight(space: PacketNumberSpace): boolean {
    return (this.spaces[space]?.ackElicitingInFlight ?? 0) > 0
  }

  /**
   * What the oldest ack-eliciting packet in flight in `space` carried (PMTU
   * probes aside) among those `accept` takes, for a PTO probe to send again
   * (RFC 9002 §6.2.4).
   */
  oldestAckElicitingInFlight(space: PacketNumberSpace, accept: (payload: T) => boolean = () => true): T | undefined {
    const sent = this.spaces[space]?.sent
    if (sent === undefined) return undefined
    for (let i = sent.start; i < sent.end; i++) {
      const packet = sent.at(i)
      if (packet !== undefined && packet.ackEliciting && packet.inFlight && !packet.isPmtuProbe && accept(packet.payload)) return packet.payload
    }
    return undefined
  }

  timeOfLastAckEliciting(space: PacketNumberSpace): number | undefined {
    return this.spaces[space]?.timeOfLastAckEliciting
  }

  /**
   * RFC 9002 Appendix A.5: records a sent packet (every packet, ACK-only
   * ones too, so ACKs of them are recognized). Packet numbers must increase
   * within a space; a gap marks the numbers in it as skipped. Nothing is
   * sent in a discarded space.
   */
  onPacketSent(space: PacketNumberSpace, packet: SentPacket<T>): void {
    const s = this.spaces[space]!
    const next = s.largestSent + 1
    if (packet.packetNumber > next) {
      s.skipped.insert(next, packet.packetNumber)
      s.skipped.keepHighest(kMaxSkippedRanges)
    }
    s.largestSent = packet.packetNumber
    s.sent.push(packet)
    this.packetsSent++
    this.bytesSent += packet.size
    if (!packet.inFlight) return
    this.inFlight += packet.size
    if (packet.ackEliciting) {
      s.timeOfLastAckEliciting = packet.timeSent
      s.ackElicitingInFlight++
    }
    this.setTimer(packet.timeSent)
  }

  /**
   * RFC 9002 Appendix A.7: processes an ACK frame received in `space`.
   * `ranges` are the frame's [largest, smallest] pairs (descending,
   * inclusive), `ackDelay` its ACK Delay already scaled to µs, `appLimited`
   * whether the sender left the congestion window unfilled (§7.8).
   *
   * Returns PROTOCOL_VIOLATION, with no state changed, when the frame
   * acknowledges a packet number never sent (RFC 9000 §13.1), skipped ones
   * included (§21.4). In a space discarded while the packet carrying the
   * frame was processed, there is nothing left to acknowledge.
   */
  onAckReceived(
    space: PacketNumberSpace,
    ranges: ReadonlyArray<number>,
    ackDelay: number,
    now: number,
    appLimited: boolean
  ): RecoveryEvents<T> | TransportError {
    const s = this.spaces[space]
    if (s === undefined) return this.events.reset(space)
    const largest = ranges[0]!
    if (largest > s.largestSent || acknowledgesSkipped(s.skipped, ranges)) {
      return transportError(TransportErrorCode.PROTOCOL_VIOLATION, "ACK of a packet number never sent", FrameType.ACK)
    }
    const events = this.events.reset(space)
    if (largest > s.largestAcked) s.largestAcked = largest
    // RFC 9002 Appendix A.8: an acknowledged Handshake packet tells a client
    // that the server has validated its address.
    if (space === "handshake") this.peerCompletedAddressValidation = true

    // RFC 9002 A.7 DetectAndRemoveAckedPackets, lowest range first so
    // `acked` comes out in packet number order.
    const sent = s.sent
    const acked = events.acked
    let ackElicitingAcked = false
    for (let i = ranges.length - 2; i >= 0; i -= 2) {
      const high = ranges[i]!
      for (let at = sent.lowerBound(ranges[i + 1]!); at < sent.end && sent.numberAt(at) <= high; at++) {
        if (sent.at(at) === undefined) continue
        const packet = sent.take(at)
        this.removeFromFlight(s, packet)
        if (packet.ackEliciting) ackElicitingAcked = true
        acked.push(packet)
      }
    }
    if (acked.length === 0) return events

    // RFC 9002 §5.1: an RTT sample needs the largest acknowledged packet to be
    // newly acknowledged, and at least one newly acknowledged packet to be
    // ack-eliciting (the peer does not hurry ACKs of the others).
    const newest = acked[acked.length - 1]!
    if (newest.packetNumber === largest && ackElicitingAcked) {
      // RFC 9002 §5.3: Initial and Handshake ACKs are not delayed on purpose
      // (RFC 9000 §13.2.1 has them sent at once), so their delay is ignored.
      const delay = space === "application" ? ackDelay : 0
      this.rtt.update(now - newest.timeSent, delay, this.maxAckDelay, this.handshakeConfirmed)
      if (this.firstRttSample === undefined) this.firstRttSample = now
    }

    this.detectLostPackets(s, now)
    // RFC 9002 A.5 OnPacketsAcked, after the losses: acknowledgements of
    // packets sent before a recovery period they started must not grow the window.
    for (let i = 0; i < acked.length; i++) {
      const packet = acked[i]!
      if (packet.inFlight) this.congestion.onAck(now, packet.timeSent, packet.size, this.rtt, appLimited)
    }

    // RFC 9002 §6.2.1: an ACK resets the backoff, except for a client not yet
    // sure the server validated its address (its PTOs keep the handshake going).
    if (this.peerCompletedAddressValidation) this.ptoCount = 0
    sent.compact()
    this.setTimer(now)
    return events
  }

  /**
   * RFC 9002 Appendix A.9: the loss detection timer fired. Either packets
   * past the time threshold are declared lost, or a PTO asks for probes in
   * `space`. Before the deadline, nothing happens.
   */
  onTimeout(now: number): RecoveryEvents<T> {
    const deadline = this.deadline
    if (deadline === undefined || now < deadline) return this.events.reset(this.ptoSpace)
    const lossSpace = this.earliestLossSpace()
    if (lossSpace !== undefined) {
      const events = this.events.reset(lossSpace.name)
      this.detectLostPackets(lossSpace, now)
      lossSpace.sent.compact()
      this.setTimer(now)
      return events
    }
    // RFC 9002 §6.2.4: new data or retransmissions in the PTO's space, one or
    // two packets; with nothing ack-eliciting in flight this is the client's
    // anti-deadlock probe (§6.2.2.1), one padded Initial or a Handshake packet.
    const probes = this.anyAckElicitingInFlight() ? 2 : 1
    this.ptoTime(now)
    const events = this.events.reset(this.ptoSpace)
    events.probes = probes
    this.ptoCount++
    this.probeTimeouts++
    this.setTimer(now)
    return events
  }

  /**
   * Empties the events record once the caller has acted on it, so that it
   * holds no packets (with what they carried) until the next call: an idle
   * connection keeps nothing of its last acknowledgement.
   */
  releaseEvents(): void {
    this.events.reset(this.events.space)
  }

  /**
   * Gives up on packets the peer cannot have processed, such as 0-RTT
   * packets once the server rejected 0-RTT (RFC 9001 §4.6.2): they leave
   * bytes in flight and come back for retransmission, without a congestion
   * signal, as their fate says nothing about the path. `packetNumbers` are
   * ascending; numbers no longer tracked are skipped. The array returned is
   * the reused `lost` list of the events record.
   */
  declareLost(
    space: PacketNumberSpace,
    packetNumbers: ReadonlyArray<number>,
    now: number
  ): ReadonlyArray<SentPacket<T>> {
    const s = this.spaces[space]
    const lost = this.events.reset(space).lost
    if (s === undefined) return lost
    const sent = s.sent
    let at = sent.start
    for (let i = 0; i < packetNumbers.length; i++) {
      const packetNumber = packetNumbers[i]!
      while (at < sent.end && sent.numberAt(at) < packetNumber) at++
      if (at === sent.end) break
      if (sent.numberAt(at) !== packetNumber || sent.at(at) === undefined) continue
      const packet = sent.take(at)
      this.removeFromFlight(s, packet)
      lost.push(packet)
    }
    sent.compact()
    this.setTimer(now)
    return lost
  }

  /**
   * RFC 9002 §6.4 (Appendix A.11): the keys of `space` were discarded. Its
   * packets leave bytes in flight without being declared lost, its timers
   * stop, and its state goes for good.
   */
  discardSpace(space: "initial" | "handshake", now: number): void {
    const s = this.spaces[space]
    if (s === undefined) return
    this.spaces[space] = undefined
    this.order[this.order.indexOf(s)] = undefined
    this.forget(s, now)
  }

  /**
   * RFC 9002 §6.3: a Retry resets loss recovery; the Initial packets sent so
   * far are neither acknowledged nor lost, and the space carries on.
   */
  onRetry(now: number): void {
    const initial = this.spaces.initial
    if (initial !== undefined) this.forget(initial, now)
  }

  /** Takes the packets of `s` out of flight, neither acknowledged nor lost, and stops its timers. */
  private forget(s: SpaceState<T>, now: number): void {
    const sent = s.sent
    for (let at = sent.start; at < sent.end; at++) {
      const packet = sent.at(at)
      if (packet !== undefined && packet.inFlight) this.inFlight -= packet.size
    }
    sent.clear()
    s.skipped.clear()
    s.ackElicitingInFlight = 0
    s.timeOfLastAckEliciting = undefined
    s.lossTime = undefined
    this.ptoCount = 0
    this.setTimer(now)
  }

  /**
   * RFC 9001 §4.1.2: the handshake is confirmed. Application data PTOs may
   * now be armed (RFC 9002 §6.2.1), the peer's max_ack_delay bounds its ack
   * delays (§5.3), and a client knows its address is validated (A.8).
   */
  onHandshakeConfirmed(now: number): void {
    this.handshakeConfirmed = true
    this.peerCompletedAddressValidation = true
    this.setTimer(now)
  }

  /** RFC 9002 §6.2.2.1: with Handshake keys, a client's anti-deadlock probe is a Handshake packet. */
  onHandshakeKeysAvailable(): void {
    this.hasHandshakeKeys = true
  }

  /**
   * RFC 9002 §6.2.2.1: a server that cannot send because of the
   * anti-amplification limit (RFC 9000 §8.1) must not arm its PTO; when a
   * datagram from the client lifts the limit, the timer is armed again (and
   * fires at once if its deadline has passed).
   */
  setAmplificationLimited(now: number, limited: boolean): void {
    if (limited === this.amplificationLimited) return
    this.amplificationLimited = limited
    this.setTimer(now)
  }

  /** Resets the PTO backoff (RFC 9002 §6.2.1), e.g. when the path is known to work again. */
  resetPtoCount(now: number): void {
    this.ptoCount = 0
    this.setTimer(now)
  }

  stats(): RecoveryStats {
    return {
      packetsSent: this.packetsSent,
      bytesSent: this.bytesSent,
      packetsLost: this.packetsLost,
      bytesLost: this.bytesLost,
      pmtuProbesLost: this.pmtuProbesLost,
      congestionEvents: this.congestionEvents,
      persistentCongestionEvents: this.persistentCongestionEvents,
      probeTimeouts: this.probeTimeouts,
      latestRtt: this.rtt.latest,
      smoothedRtt: this.rtt.smoothed,
      minRtt: this.rtt.min,
      rttVariance: this.rtt.rttvar,
      congestionWindow: this.congestion.window,
      bytesInFlight: this.inFlight
    }
  }

  /**
   * RFC 9002 Appendix A.10 DetectAndRemoveLostPackets with A.8
   * OnPacketsLost: declares lost every unacknowledged packet at or below the
   * largest acknowledged that is kPacketThreshold numbers older or was sent a
   * loss delay ago, arms loss_time for the rest, and tells the congestion
   * controller, persistent congestion included.
   *
   * §7.6.2 asks that nothing sent between the two ends of a persistent
   * congestion period was acknowledged in any space; only this space is
   * consulted. Spaces overlap in time only during the handshake, and a
   * missed acknowledgement elsewhere can only declare persistent congestion
   * where a stricter check would not in that brief window.
   */
  private detectLostPackets(s: SpaceState<T>, now: number): void {
    s.lossTime = undefined
    const largestAcked = s.largestAcked
    const lossDelay = this.rtt.lossDelay()
    const lostSendTime = now - lossDelay
    // RFC 9002 §7.6.1: (smoothed_rtt + max(4 × rttvar, kGranularity) +
    // max_ack_delay) × kPersistentCongestionThreshold, max_ack_delay included
    // whatever the space.
    const persistentDuration = this.rtt.pto(this.maxAckDelay, true) * kPersistentCongestionThreshold
    const firstRttSample = this.firstRttSample
    const sent = s.sent
    const events = this.events
    let lastLossSent: number | undefined
    // RFC 9002 §7.6.2: the current run of lost packets with nothing
    // acknowledged in between, by position in `sent`, and the send time of
    // its first ack-eliciting packet sent after the first RTT sample.
    let runEnd = -2
    let runStart: number | undefined
    let persistent = false
    for (let at = sent.start; at < sent.end; at++) {
      const packet = sent.at(at)
      if (packet === undefined) continue
      if (packet.packetNumber > largestAcked) break
      if (packet.timeSent > lostSendTime && packet.packetNumber + kPacketThreshold > largestAcked) {
        // RFC 9002 §6.1.2: not lost yet; the timer fires when it would be.
        const lossTime = packet.timeSent + lossDelay
        if (s.lossTime === undefined || lossTime < s.lossTime) s.lossTime = lossTime
        continue
      }
      sent.take(at)
      this.removeFromFlight(s, packet)
      // An empty position in between held a packet acknowledged (or declared
      // lost by an earlier pass; the two are no longer told apart, which can
      // only make persistent congestion rarer): the run starts over.
      if (at !== runEnd + 1) runStart = undefined
      runEnd = at
      if (packet.isPmtuProbe) {
        // RFC 9000 §14.4: a lost probe says the path MTU is smaller, not that
        // the path is congested.
        events.lostPmtuProbes.push(packet)
        this.pmtuProbesLost++
        continue
      }
      events.lost.push(packet)
      if (!packet.inFlight) continue
      this.packetsLost++
      this.bytesLost += packet.size
      lastLossSent = packet.timeSent
      // RFC 9002 §7.6.2: only ack-eliciting packets sent after an RTT sample
      // existed bound a persistent congestion period.
      if (packet.ackEliciting && firstRttSample !== undefined && packet.timeSent > firstRttSample) {
        if (runStart === undefined) runStart = packet.timeSent
        else if (packet.timeSent - runStart > persistentDuration) persistent = true
      }
    }
    if (lastLossSent === undefined) return
    this.congestionEvents++
    if (persistent) this.persistentCongestionEvents++
    this.congestion.onCongestionEvent(now, lastLossSent, persistent)
  }

  /** RFC 9002 Appendix A.8 SetLossDetectionTimer. */
  private setTimer(now: number): void {
    const lossSpace = this.earliestLossSpace()
    if (lossSpace !== undefined) {
      this.deadline = lossSpace.lossTime
      return
    }
    if (this.amplificationLimited) {
      // RFC 9002 §6.2.2.1: probes could not be sent anyway.
      this.deadline = undefined
      return
    }
    if (!this.anyAckElicitingInFlight() && this.peerCompletedAddressValidation) {
      // RFC 9002 §6.2.2.1: nothing to probe for, and no deadlock to break.
      this.deadline = undefined
      return
    }
    this.deadline = this.ptoTime(now)
  }

  /** RFC 9002 Appendix A.8 GetLossTimeAndSpace: the space whose loss_time comes first. */
  private earliestLossSpace(): SpaceState<T> | undefined {
    let earliest: SpaceState<T> | undefined
    let time = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.order.length; i++) {
      const s = this.order[i]
      if (s !== undefined && s.lossTime !== undefined && s.lossTime < time) {
        earliest = s
        time = s.lossTime
      }
    }
    return earliest
  }

  /**
   * RFC 9002 Appendix A.8 GetPtoTimeAndSpace: the PTO deadline, with the
   * space it is for left in `ptoSpace`; undefined when only application data
   * is in flight before handshake confirmation.
   */
  private ptoTime(now: number): number | undefined {
    // RFC 9002 §6.2.1: the PTO doubles with each consecutive expiry.
    const backoff = 1 << (this.ptoCount < kMaxPtoBackoffExponent ? this.ptoCount : kMaxPtoBackoffExponent)
    let duration = this.rtt.pto(0, false) * backoff
    if (!this.anyAckElicitingInFlight()) {
      // RFC 9002 §6.2.2.1: a client whose address may not be validated yet
      // arms the PTO from now, lest both sides wait on each other.
      this.ptoSpace = this.hasHandshakeKeys ? "handshake" : "initial"
      return now + duration
    }
    let earliest: number | undefined
    for (let i = 0; i < this.order.length; i++) {
      const s = this.order[i]
      if (s === undefined || s.ackElicitingInFlight === 0 || s.timeOfLastAckEliciting === undefined) continue
      if (s.name === "application") {
        // RFC 9002 §6.2.1: no application data PTO before the handshake is
        // confirmed; the peer may lack the keys to acknowledge it.
        if (!this.handshakeConfirmed) break
        // RFC 9002 §6.2.1: the peer may delay application ACKs by max_ack_delay.
        duration += this.maxAckDelay * backoff
      }
      const deadline = s.timeOfLastAckEliciting + duration
      if (earliest === undefined || deadline < earliest) {
        earliest = deadline
        this.ptoSpace = s.name
      }
    }
    return earliest
  }

  private anyAckElicitingInFlight(): boolean {
    const order = this.order
    for (let i = 0; i < order.length; i++) if ((order[i]?.ackElicitingInFlight ?? 0) > 0) return true
    return false
  }

  private removeFromFlight(s: SpaceState<T>, packet: SentPacket<T>): void {
    if (!packet.inFlight) return
    this.inFlight -= packet.size
    if (packet.ackEliciting) s.ackElicitingInFlight--
  }
}

/**
 * Whether any [largest, smallest] pair of `ranges` (descending) meets a
 * skipped range (ascending, half-open): one merge walk down both lists.
 */
const acknowledgesSkipped = (skipped: RangeSet, ranges: ReadonlyArray<number>): boolean => {
  let j = skipped.size - 1
  for (let i = 0; i < ranges.length && j >= 0; i += 2) {
    const high = ranges[i]!
    while (j >= 0 && skipped.start(j) > high) j--
    if (j >= 0 && skipped.end(j) > ranges[i + 1]!) return true
  }
  return false
}
