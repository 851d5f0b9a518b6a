/**
 * The round-trip time estimator (RFC 9002 §5). Every value is an integer
 * number of microseconds; fractions from the exponential averages are
 * truncated, which stays far below the timer granularity.
 */

/** RFC 9002 §6.2.2: the RTT assumed before the first sample (333 ms). */
export const kInitialRtt = 333_000

/** RFC 9002 §6.1.2: the system timer granularity (1 ms). */
export const kGranularity = 1_000

/** RFC 9002 §6.1.2: the time threshold is 9/8 of the RTT, kept as a fraction for integer arithmetic. */
const kTimeThresholdNumerator = 9
const kTimeThresholdDenominator = 8

export class RttEstimator {
  /** RFC 9002 §5.2: the most recent sample, without ack delay adjustment (0 before any sample). */
  latest = 0
  /** RFC 9002 §5.2: the minimum sample over the connection, ignoring ack delay (0 before any sample). */
  min = 0
  /** RFC 9002 §5.3: the exponentially weighted moving average. */
  smoothed: number
  /** RFC 9002 §5.3: the mean deviation of the samples. */
  rttvar: number
  private hasSample = false

  /** RFC 9002 §6.2.2: `initialRtt` may come from a previous connection (a resumed session). */
  constructor(initialRtt: number = kInitialRtt) {
    this.smoothed = initialRtt
    this.rttvar = Math.floor(initialRtt / 2)
  }

  /**
   * RFC 9002 §5.3 (Appendix A.7 UpdateRtt): takes one RTT sample. `ackDelay`
   * is the peer's reported delay in microseconds, `maxAckDelay` its
   * max_ack_delay transport parameter.
   */
  update(latestRtt: number, ackDelay: number, maxAckDelay: number, handshakeConfirmed: boolean): void {
    this.latest = latestRtt
    if (!this.hasSample) {
      // RFC 9002 §5.3: the first sample initializes the estimator outright.
      this.hasSample = true
      this.min = latestRtt
      this.smoothed = latestRtt
      this.rttvar = Math.floor(latestRtt / 2)
      return
    }
    // RFC 9002 §5.2: min_rtt ignores ack delay, so a peer cannot lower it by
    // misreporting its delay.
    if (latestRtt < this.min) this.min = latestRtt
    // RFC 9002 §5.3: the peer promises delays up to max_ack_delay only once the
    // handshake is confirmed; before that its delay is taken as reported.
    const delay = handshakeConfirmed && ackDelay > maxAckDelay ? maxAckDelay : ackDelay
    // RFC 9002 §5.3: subtract the ack delay only when the result would not go
    // below min_rtt, which would mean the reported delay is implausible.
    const adjusted = latestRtt >= this.min + delay ? latestRtt - delay : latestRtt
    const deviation = this.smoothed > adjusted ? this.smoothed - adjusted : adjusted - this.smoothed
    this.rttvar = Math.floor((3 * this.rttvar + deviation) / 4)
    this.smoothed = Math.floor((7 * this.smoothed + adjusted) / 8)
  }

  /**
   * RFC 9002 §6.2.1: the probe timeout, smoothed_rtt + max(4 × rttvar,
   * kGranularity), plus max_ack_delay where the peer may delay its ACKs
   * (the application data space).
   */
  pto(maxAckDelay: number, includeMaxAckDelay: boolean): number {
    const variance = 4 * this.rttvar > kGranularity ? 4 * this.rttvar : kGranularity
    return this.smoothed + variance + (includeMaxAckDelay ? maxAckDelay : 0)
  }

  /**
   * RFC 9002 §6.1.2: how long after a later packet was acknowledged an
   * earlier one is declared lost: 9/8 × max(smoothed_rtt, latest_rtt), at
   * least kGranularity.
   */
  lossDelay(): number {
    const rtt = this.latest > this.smoothed ? this.latest : this.smoothed
    const delay = Math.floor((kTimeThresholdNumerator * rtt) / kTimeThresholdDenominator)
    return delay > kGranularity ? delay : kGranularity
  }
}
