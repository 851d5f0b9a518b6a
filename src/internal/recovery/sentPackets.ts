/**
 * The packets of one packet number space that await an acknowledgement or a
 * loss verdict (RFC 9002 Appendix A.1, sent_packets), ordered by packet
 * number.
 *
 * Packets are sent in increasing packet number order, so the map is an
 * append-only array. Acknowledged or lost packets leave a hole that keeps
 * its packet number, so binary search still works; `compact` squeezes the
 * holes out once they outnumber the live packets. Positions are stable
 * between calls to `compact`, which lets a caller walk and remove in one
 * pass without callbacks.
 */

/** A packet as loss detection tracks it (RFC 9002 Appendix A.1.1). */
export interface SentPacket<T> {
  readonly packetNumber: number
  /** µs, on the connection's clock. */
  readonly timeSent: number
  /** Bytes in the UDP payload this packet occupies (RFC 9002: sent_bytes). */
  readonly size: number
  /** RFC 9002 §2: contains frames other than ACK, PADDING and CONNECTION_CLOSE. */
  readonly ackEliciting: boolean
  /** RFC 9002 §2: counts towards bytes in flight (ack-eliciting, or PADDING only). */
  readonly inFlight: boolean
  /** RFC 9000 §14.4: a PMTU probe, whose loss is no sign of congestion. */
  readonly isPmtuProbe: boolean
  /** Whatever the connection needs to act on the packet's fate (frames to retransmit, …). */
  readonly payload: T
}

/** Holes tolerated beyond the live count before compacting, so tiny maps do not churn. */
const kCompactSlack = 32

export class SentPackets<T> {
  private readonly slots: Array<SentPacket<T> | undefined> = []
  /** The packet number of every slot, kept after the slot empties. */
  private readonly numbers: Array<number> = []
  private head = 0
  private live = 0

  /** How many packets are held. */
  get size(): number {
    return this.live
  }

  /** The first position that may hold a packet. */
  get start(): number {
    return this.head
  }

  /** One past the last position. */
  get end(): number {
    return this.slots.length
  }

  /** The packet at `position`, undefined once it has been taken. */
  at(position: number): SentPacket<T> | undefined {
    return this.slots[position]
  }

  /** The packet number at `position`, whether or not the packet is still held. */
  numberAt(position: number): number {
    return this.numbers[position]!
  }

  /** Appends a packet; its number must exceed every number already pushed. */
  push(packet: SentPacket<T>): void {
    this.slots.push(packet)
    this.numbers.push(packet.packetNumber)
    this.live++
  }

  /** The first position whose packet number is at least `packetNumber` (binary search). */
  lowerBound(packetNumber: number): number {
    let lo = this.head
    let hi = this.numbers.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.numbers[mid]! < packetNumber) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Removes and returns the packet at `position` (which must hold one). */
  take(position: number): SentPacket<T> {
    const packet = this.slots[position]!
    this.slots[position] = undefined
    this.live--
    return packet
  }

  clear(): void {
    this.slots.length = 0
    this.numbers.length = 0
    this.head = 0
    this.live = 0
  }

  /** Drops emptied positions; call after a batch of `take`s, as it moves positions. */
  compact(): void {
    const slots = this.slots
    while (this.head < slots.length && slots[this.head] === undefined) this.head++
    if (slots.length - this.live <= this.live + kCompactSlack) return
    let write = 0
    for (let read = this.head; read < slots.length; read++) {
      const packet = slots[read]
      if (packet === undefined) continue
      slots[write] = packet
      this.numbers[write] = this.numbers[read]!
      write++
    }
    slots.length = write
    this.numbers.length = write
    this.head = 0
  }
}
