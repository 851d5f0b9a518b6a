import type { Ack } from "../frame/types.js"
import { RangeSet } from "../util/rangeSet.js"

/**
 * What one packet-number space has received and must acknowledge
 * (RFC 9000 §13.2).
 *
 * Received packet numbers are kept as ranges, bounded in count so a peer
 * cannot grow them without limit; ranges the peer has seen acknowledged
 * (an ACK of our ACK) are pruned (§13.2.4).
 */
export class AckManager {
  private readonly received = new RangeSet()
  /** Packet numbers below this were pruned; they are treated as duplicates. */
  private floor = 0
  private largestReceived: number | undefined
  private largestReceivedTime = 0
  private ackElicitingSinceAck = 0
  private ackDeadline: number | undefined
  private immediate = false
  /** Whether anything new arrived since the last ACK we sent. */
  private dirty = false

  constructor(
    /** RFC 9000 §13.2.1: Initial and Handshake packets are acknowledged at once. */
    private readonly alwaysImmediate: boolean,
    /** Our max_ack_delay in µs. */
    private readonly maxAckDelay: number,
    /** The most ACK ranges to remember and send. */
    private readonly maxRanges = 64
  ) {}

  /** Whether `pn` was already received (or is too old to tell): the packet is then dropped (§12.3). */
  isDuplicate(pn: number): boolean {
    return pn < this.floor || this.received.has(pn)
  }

  /** The largest packet number processed in this space (RFC 9000 §A.3 decodes against it). */
  get largest(): number | undefined {
    return this.largestReceived
  }

  /** Records a packet that was successfully processed (§13.2.1). */
  onPacketReceived(pn: number, ackEliciting: boolean, now: number): void {
    const largest = this.largestReceived
    const outOfOrder = largest !== undefined && (pn < largest || pn > largest + 1)
    this.received.insert(pn, pn + 1)
    if (this.received.size > this.maxRanges) {
      this.received.keepHighest(this.maxRanges)
      // RFC 9000 §13.2.3: ranges we stop remembering must not be accepted again.
      this.floor = this.received.min!
    }
    if (largest === undefined || pn > largest) {
      this.largestReceived = pn
      this.largestReceivedTime = now
    }
    this.dirty = true
    if (!ackEliciting) return
    this.ackElicitingSinceAck++
    // RFC 9000 §13.2.1: acknowledge at once out-of-order packets and every second
    // ack-eliciting packet; otherwise within max_ack_delay.
    if (this.alwaysImmediate || outOfOrder || this.ackElicitingSinceAck >= 2) this.immediate = true
    else if (this.ackDeadline === undefined) this.ackDeadline = now + this.maxAckDelay
  }

  /** Whether an ACK frame should go out in the next packet of this space. */
  wantsAck(now: number): boolean {
    return this.canAck && (this.immediate || (this.ackDeadline !== undefined && now >= this.ackDeadline))
  }

  /** Whether there is anything an ACK could report (to piggyback on a packet sent anyway). */
  get canAck(): boolean {
    return this.dirty && !this.received.isEmpty
  }

  /** The delayed-ACK deadline, for the connection's timer. */
  get deadline(): number | undefined {
    return this.canAck && !this.immediate ? this.ackDeadline : undefined
  }

  /**
   * The ACK frame to send now. `ackDelayExponent` scales the delay field
   * (§19.3); pass `undefined` for Initial and Handshake, whose ACK Delay is 0
   * because RFC 9002 §5.3 has the peer ignore it there.
   */
  buildAck(now: number, ackDelayExponent: number | undefined): Ack {
    const ranges: Array<number> = []
    for (let i = this.received.size - 1; i >= 0; i--) ranges.push(this.received.end(i) - 1, this.received.start(i))
    const delay = ackDelayExponent === undefined ? 0 : Math.floor(Math.max(0, now - this.largestReceivedTime) / 2 ** ackDelayExponent)
    return { _tag: "Ack", ranges, delay }
  }

  /** Called once an ACK frame has been put in a packet. */
  onAckSent(): void {
    this.dirty = false
    this.immediate = false
    this.ackDeadline = undefined
    this.ackElicitingSinceAck = 0
  }

  /** §13.2.4: our ACK whose largest acknowledged was `largest` has itself been acknowledged. */
  onAckAcknowledged(largest: number): void {
    if (largest + 1 > this.floor) {
      this.floor = largest + 1
      this.received.removeBelow(this.floor)
    }
  }
}
