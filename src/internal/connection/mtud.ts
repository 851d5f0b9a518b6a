/**
 * Datagram Packetization Layer PMTU Discovery (RFC 8899 §5, as RFC 9000
 * §14.3 allows): start at the QUIC minimum of 1200 bytes and binary-search
 * upwards with PING+PADDING probe packets. A probe that is acknowledged
 * raises the path MTU; a probe size lost MAX_PROBES times in a row caps the
 * search below it. Probes are never counted as congestion (§14.4).
 *
 * Black holes (RFC 8899 §4.3): when several packets larger than the base MTU
 * are lost in a row while smaller ones get through, the search restarts from
 * the base.
 */
export const BASE_MTU = 1200

/** RFC 8899 §5.1.2 MAX_PROBES. */
const MAX_PROBES = 3

/**
 * Lost packets above the base MTU, with none of that size acknowledged in
 * between, before we suspect a black hole. Higher than MAX_PROBES so that
 * ordinary random loss on a bulk transfer does not trip it.
 */
const BLACK_HOLE_THRESHOLD = 6

/** Stop when the search window is this small: another probe would gain little. */
const SEARCH_GRANULARITY = 16

/** RFC 8899 §5.1.1: after a search completes, probe again this often (µs) in case the path grew. */
const RAISE_INTERVAL = 600_000_000

export class MtuDiscovery {
  /** The largest UDP payload known to get through. */
  current = BASE_MTU
  private searchHigh: number
  private probeSize: number | undefined
  private inFlightProbe: number | undefined
  private failures = 0
  private nextSearchAt: number | undefined = 0
  private largeLossesInRow = 0
  private ceiling: number

  constructor(
    private readonly enabled: boolean,
    private readonly upperBound: number
  ) {
    this.ceiling = upperBound
    this.searchHigh = upperBound
  }

  /** Holds the search back until `at` (µs). */
  startSearchAt(at: number): void {
    this.nextSearchAt = at
  }

  /** The peer's max_udp_payload_size caps the search (RFC 9000 §18.2). */
  setPeerLimit(limit: number): void {
    this.ceiling = Math.min(this.upperBound, limit)
    this.searchHigh = Math.min(this.searchHigh, this.ceiling)
  }

  /**
   * The size of the probe to send now, or undefined. One probe is in flight
   * at a time. `room`: what the congestion window has free; the probe is cut
   * to it, so that a sender whose window stays small (one that mostly
   * acknowledges) still climbs, step by step, instead of waiting forever
   * for room for the middle of the search range.
   */
  probeToSend(now: number, room: number): number | undefined {
    if (!this.enabled || this.inFlightProbe !== undefined) return undefined
    if (this.nextSearchAt === undefined || now < this.nextSearchAt) return undefined
    const window = this.searchHigh - this.current
    // The ceiling (our limit or the peer's) is the size a path most often
    // has, so a search that narrows to just below it tries it exactly once.
    const tryCeiling = window > 0 && this.searchHigh === this.ceiling
    if (window < SEARCH_GRANULARITY && !tryCeiling) {
      this.nextSearchAt = now + RAISE_INTERVAL
      this.searchHigh = this.ceiling
      return undefined
    }
    if (this.probeSize === undefined) {
      const middle = window < SEARCH_GRANULARITY ? this.searchHigh : Math.min(this.searchHigh, this.current + Math.ceil(window / 2))
      const size = Math.min(middle, room)
      // Too little room for a probe worth sending: wait for the window.
      if (size < middle && size - this.current < SEARCH_GRANULARITY) return undefined
      this.probeSize = size
    }
    return this.probeSize
  }

  onProbeSent(packetNumber: number): void {
    this.inFlightProbe = packetNumber
  }

  onProbeAcked(packetNumber: number): void {
    if (packetNumber !== this.inFlightProbe || this.probeSize === undefined) return
    this.current = this.probeSize
    this.inFlightProbe = undefined
    this.probeSize = undefined
    this.failures = 0
  }

  onProbeLost(packetNumber: number): void {
    if (packetNumber !== this.inFlightProbe || this.probeSize === undefined) return
    this.inFlightProbe = undefined
    if (++this.failures >= MAX_PROBES) {
      this.searchHigh = this.probeSize - 1
      this.probeSize = undefined
      this.failures = 0
    }
  }

  /**
   * Called for every lost non-probe packet; returns true when a black hole
   * made us fall back to the base MTU.
   */
  onPacketLost(size: number): boolean {
    if (size <= BASE_MTU) {
      this.largeLossesInRow = 0
      return false
    }
    if (++this.largeLossesInRow < BLACK_HOLE_THRESHOLD) return false
    this.current = BASE_MTU
    this.searchHigh = this.ceiling
    this.probeSize = undefined
    this.inFlightProbe = undefined
    this.largeLossesInRow = 0
    return true
  }

  onPacketAcked(size: number): void {
    if (size > BASE_MTU) this.largeLossesInRow = 0
  }
}
