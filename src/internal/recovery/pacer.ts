/**
 * The pacer (RFC 9002 §7.7): a token bucket that spreads a congestion window
 * over roughly one round trip instead of sending it as one burst.
 *
 * Tokens are bytes and refill at rate = N × cwnd / smoothed_rtt with N = 5/4,
 * so pacing alone never keeps a window from going out within an RTT. The
 * bucket holds a burst of a few datagrams, or what the rate earns in
 * {@link kBurstInterval} when that is more. Arithmetic is integer: the refill
 * keeps the remainder of its division so that frequent polling at a slow rate
 * does not lose credit.
 */

/** RFC 9002 §7.7: N = 1.25, as the fraction 5/4. */
const kRateNumerator = 5
const kRateDenominator = 4

/** How many full-sized datagrams may leave back to back (RFC 9002 §7.7 limits bursts to the initial window). */
export const kBurstPackets = 10

/**
 * At high rates the bucket holds what the rate earns in this long (µs). A
 * driver wakes for the next packet no sooner than its timer allows (Node's
 * timers fire after at least a millisecond, often later), so a bucket of
 * kBurstPackets would cap the rate at kBurstPackets per timer period, below
 * 1.25 × cwnd / smoothed_rtt, whatever the window. RFC 9002 §7.7 leaves the
 * pacing method to the sender; two milliseconds of credit (one timer period
 * and as much again for its lateness) keeps the path seeing the paced rate
 * averaged over that interval. quic-go (minimum pacing delay plus timer
 * granularity) and quinn (its burst interval) size their bursts the same way.
 */
export const kBurstInterval = 2_000

/** The largest burst in datagrams, however fast the rate (quinn's bound too). */
export const kMaxBurstPackets = 256

export class Pacer {
  private tokens = 0
  private capacity = 0
  /** When tokens were last credited; undefined until first use, when the bucket starts full. */
  private lastRefill: number | undefined
  /** The rate in force (set by `delay`): `window` bytes per 4/5 × `rtt` µs. */
  private window = 0
  private rtt = 0
  /** Credit below one byte, as a numerator over kRateDenominator × rtt. */
  private remainder = 0

  /**
   * RFC 9002 §7.7: when a packet of `bytes` may be sent. Returns 0 when it
   * may go now, else the time (µs, always later than `now`) when the bucket
   * will hold enough. `now` is non-negative.
   */
  delay(now: number, bytes: number, mtu: number, window: number, smoothedRtt: number): number {
    // Without a window or an RTT there is no rate to pace at (and nothing to divide by).
    if (window <= 0 || smoothedRtt <= 0) return 0
    // What the rate earns in kBurstInterval: 5/4 × window × interval / rtt.
    const earned = Math.floor((kRateNumerator * window * kBurstInterval) / (kRateDenominator * smoothedRtt))
    const burst = Math.min(Math.max(kBurstPackets * mtu, earned), kMaxBurstPackets * mtu)
    const capacity = Math.max(mtu, Math.min(burst, window))
    if (this.lastRefill === undefined) {
      this.tokens = capacity
      this.lastRefill = now
    }
    // Credit the time since the last refill at the rate that applied then.
    this.refill(now)
    this.capacity = capacity
    if (this.tokens > capacity) this.tokens = capacity
    if (window !== this.window || smoothedRtt !== this.rtt) {
      this.window = window
      this.rtt = smoothedRtt
      this.remainder = 0
    }
    // A packet larger than the bucket waits for a full bucket rather than forever.
    const needed = bytes < capacity ? bytes : capacity
    if (this.tokens >= needed) return 0
    // The credit still missing, less the fraction of a byte already earned;
    // positive, so the answer is at least now + 1.
    const missing = (needed - this.tokens) * kRateDenominator * smoothedRtt - this.remainder
    return now + Math.ceil(missing / (kRateNumerator * window))
  }

  /** A packet of `bytes` was sent at `now` (after `delay` allowed it). */
  onSent(now: number, bytes: number): void {
    this.refill(now)
    this.tokens = this.tokens > bytes ? this.tokens - bytes : 0
  }

  private refill(now: number): void {
    const last = this.lastRefill
    if (last === undefined || now <= last || this.window === 0) return
    this.lastRefill = now
    if (this.tokens >= this.capacity) {
      this.remainder = 0
      return
    }
    const elapsed = now - last
    const divisor = kRateDenominator * this.rtt
    const deficit = this.capacity - this.tokens
    // Past the time to fill the bucket, it is full; checking first keeps
    // elapsed × rate small enough for exact integer arithmetic.
    const fillTime = Math.ceil((deficit * divisor) / (kRateNumerator * this.window))
    if (elapsed >= fillTime) {
      this.tokens = this.capacity
      this.remainder = 0
      return
    }
    const credit = elapsed * kRateNumerator * this.window + this.remainder
    const earned = Math.floor(credit / divisor)
    this.remainder = credit - earned * divisor
    this.tokens += earned
    if (this.tokens >= this.capacity) {
      this.tokens = this.capacity
      this.remainder = 0
    }
  }
}
